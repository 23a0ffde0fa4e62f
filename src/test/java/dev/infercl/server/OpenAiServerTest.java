package dev.infercl.server;

import static dev.infercl.server.ServerFixture.events;
import static dev.infercl.server.ServerFixture.json;
import static dev.infercl.server.ServerFixture.streamedText;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Stories;
import dev.infercl.api.BackendKind;
import dev.infercl.api.Chat;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Pooling;
import dev.infercl.api.Session;
import dev.infercl.engine.SamplerOptions;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The OpenAI-compatible endpoints against stories260K on loopback: each reply equals what the Java API produces
 * for the same request and seed, streamed or whole; every bad request gets its 4xx with OpenAI's error body.
 */
@Timeout(300)
class OpenAiServerTest {
    static ServerFixture f;

    @BeforeAll
    static void start() throws Exception {
        f = new ServerFixture(ServerFixture.options());
    }

    @AfterAll
    static void stop() {
        if (f != null) f.close();
    }

    static final String COMPLETION = """
            {"model": "stories260K", "prompt": "Once upon a time", "max_tokens": 40, "temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": 7%s}""";

    /**
     * A conversation's next request repeats the first one's prompt and reply: the scheduler's prefix cache serves its
     * whole blocks, so only the new tokens are prefilled, and /metrics shows it; the reply still equals the request
     * run alone.
     */
    @Test
    void aFollowUpRequestReusesThePrefixBlocks() throws Exception {
        String first = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her dog";
        var r1 = f.post("/v1/completions", "{\"prompt\": \"" + first + "\", \"max_tokens\": 24, \"temperature\": 0}");
        assertEquals(200, r1.statusCode(), r1.body());
        String second = first + json(r1.body()).path("choices").path(0).path("text").asText() + " Then";
        int promptTokens = f.model.tokenizer().encode(second, true, false).length;
        double reused = f.metric("infercl_prefix_cache_reused_tokens_total"), prompted = f.metric("infercl_prompt_tokens_total");
        var r2 = f.post("/v1/completions", ServerFixture.JSON.writeValueAsString(java.util.Map.of("prompt", second, "max_tokens", 8, "temperature", 0)));
        assertEquals(200, r2.statusCode(), r2.body());
        assertEquals(f.alone(second, 8, 0f, 0, 1f, 0f, 0), json(r2.body()).path("choices").path(0).path("text").asText());
        double gained = f.metric("infercl_prefix_cache_reused_tokens_total") - reused;
        assertEquals(promptTokens, f.metric("infercl_prompt_tokens_total") - prompted, "the prompt's tokens, reused or not");
        assertTrue(gained >= 16 * ((promptTokens - 24 - 2) / 16), "reused " + gained + " of " + promptTokens + " prompt tokens");
        assertTrue(f.metric("infercl_prefix_cache_hit_blocks_total") >= 1);
    }

    @Test
    void completionEqualsSessionGenerate() throws Exception {
        String want = f.alone("Once upon a time", 40, 0.8f, 40, 0.95f, 0.05f, 7);
        var r = f.post("/v1/completions", COMPLETION.formatted(""));
        assertEquals(200, r.statusCode(), r.body());
        JsonNode b = json(r.body());
        assertEquals("text_completion", b.path("object").asText());
        assertEquals(want, b.path("choices").path(0).path("text").asText());
        assertEquals("stories260K", b.path("model").asText());
        assertTrue(b.path("usage").path("completion_tokens").asInt() > 0, r.body());
        assertEquals(b.path("usage").path("prompt_tokens").asInt() + b.path("usage").path("completion_tokens").asInt(), b.path("usage").path("total_tokens").asInt());

        var s = f.post("/v1/completions", COMPLETION.formatted(", \"stream\": true, \"stream_options\": {\"include_usage\": true}"));
        assertEquals(200, s.statusCode(), s.body());
        assertTrue(s.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        assertEquals(want, streamedText(s.body()));
        var ev = events(s.body());
        assertEquals("[DONE]", ev.getLast());
        JsonNode usage = json(ev.get(ev.size() - 2));
        assertEquals(0, usage.path("choices").size());
        assertEquals(b.path("usage"), usage.path("usage"));
        JsonNode last = json(ev.get(ev.size() - 3));
        assertEquals(b.path("choices").path(0).path("finish_reason"), last.path("choices").path(0).path("finish_reason"));
    }

    @Test
    void chatEqualsTheChatApiWholeAndStreamed() throws Exception {
        String want;
        try (Session s = f.model.newSession(256)) {
            var chat = new Chat(f.model, s, f.model.chatTemplate(null), null, false);
            want = chat.send("Tell me a story about a cat.", new GenerateOptions(48, new SamplerOptions(0.9f, 0, 1f, 0f, 1f, 64, 11), false, true), null).text();
        }
        String body = """
                {"model": "stories260K", "messages": [{"role": "user", "content": "Tell me a story about a cat."}], "max_tokens": 48, "temperature": 0.9, "seed": 11%s}""";
        var r = f.post("/v1/chat/completions", body.formatted(""));
        assertEquals(200, r.statusCode(), r.body());
        JsonNode b = json(r.body());
        assertEquals("chat.completion", b.path("object").asText());
        assertEquals("assistant", b.path("choices").path(0).path("message").path("role").asText());
        assertEquals(want, b.path("choices").path(0).path("message").path("content").asText());

        var s = f.post("/v1/chat/completions", body.formatted(", \"stream\": true"));
        assertEquals(200, s.statusCode());
        var ev = events(s.body());
        assertEquals("assistant", json(ev.getFirst()).path("choices").path(0).path("delta").path("role").asText());
        assertEquals("chat.completion.chunk", json(ev.getFirst()).path("object").asText());
        assertEquals(want, streamedText(s.body()));
        assertEquals("[DONE]", ev.getLast());
        assertFalse(json(ev.get(ev.size() - 2)).path("choices").path(0).path("finish_reason").isNull());
    }

    @Test
    void stopStringsCutTheTextWholeAndStreamed() throws Exception {
        String full = f.alone("Once upon a time", 40, 0.8f, 40, 0.95f, 0.05f, 7);
        String stop = full.substring(12, 16);
        String want = full.substring(0, full.indexOf(stop));
        String extra = ", \"stop\": [" + ServerFixture.JSON.writeValueAsString(stop) + "]";
        JsonNode b = json(f.post("/v1/completions", COMPLETION.formatted(extra)).body());
        assertEquals(want, b.path("choices").path(0).path("text").asText());
        assertEquals("stop", b.path("choices").path(0).path("finish_reason").asText());
        assertEquals(want, streamedText(f.post("/v1/completions", COMPLETION.formatted(extra + ", \"stream\": true")).body()));
    }

    @Test
    void logprobsAreTheModelsLogSoftmax() throws Exception {
        var r = f.post("/v1/chat/completions", """
                {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "temperature": 0, "logprobs": true, "top_logprobs": 3}""");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode c = json(r.body()).path("choices").path(0);
        JsonNode lp = c.path("logprobs").path("content");
        assertEquals(json(r.body()).path("usage").path("completion_tokens").asInt(), lp.size());
        var text = new StringBuilder();
        for (JsonNode t : lp) {
            text.append(t.path("token").asText());
            assertTrue(t.path("logprob").asDouble() <= 0);
            assertEquals(3, t.path("top_logprobs").size());
            // greedy: the chosen token is the most likely one
            assertEquals(t.path("token").asText(), t.path("top_logprobs").path(0).path("token").asText());
            assertEquals(t.path("logprob").asDouble(), t.path("top_logprobs").path(0).path("logprob").asDouble(), 1e-9);
        }
        assertEquals(c.path("message").path("content").asText().strip(), text.toString().strip());

        JsonNode legacy = json(f.post("/v1/completions", """
                {"prompt": "Once upon a time", "max_tokens": 5, "temperature": 0, "logprobs": 2}""").body()).path("choices").path(0).path("logprobs");
        assertEquals(5, legacy.path("tokens").size());
        assertEquals(5, legacy.path("token_logprobs").size());
        assertEquals(2, legacy.path("top_logprobs").path(0).size());
    }

    /**
     * A stream's logprobs, its chunks' arrays concatenated, are the whole reply's for the same request and seed, in
     * both wire formats, with alternatives; the text and the token count agree too.
     */
    @Test
    void streamedLogprobsAreTheWholeReplys() throws Exception {
        String chat = """
                {"messages": [{"role": "user", "content": "Tell me a story about a cat."}], "max_tokens": 48, "temperature": 0.9, "seed": 11, "logprobs": true, "top_logprobs": 3%s}""";
        assertStreamedLogprobsAreWhole("/v1/chat/completions", chat, 3);
        assertStreamedLogprobsAreWhole("/v1/completions", COMPLETION.formatted(", \"logprobs\": 2%s"), 2);
    }

    /**
     * Tokens whose text the stop matcher holds back (it may start a stop string) keep their logprobs: with a stop
     * string made of two reply tokens and a character the reply never has, those two tokens' chunk is held until the
     * next token shows it is no stop, and their logprobs go with the chunk that releases their text; with the two
     * tokens alone as the stop string their text is never sent, but their logprobs are, in a chunk with empty text
     * before the last, as the whole reply counts them. Nothing is lost, repeated or reordered, and a chunk's text
     * never runs ahead of the tokens delivered.
     */
    @Test
    void tokensHeldBackForAStopStringKeepTheirLogprobs() throws Exception {
        JsonNode free = json(f.post("/v1/completions", COMPLETION.formatted(", \"logprobs\": 1")).body()).path("choices").path(0);
        String text = free.path("text").asText();
        JsonNode tokens = free.path("logprobs").path("tokens"), offsets = free.path("logprobs").path("text_offset");
        var joined = new StringBuilder();
        for (JsonNode t : tokens) joined.append(t.asText());
        assertEquals(text, joined.toString(), "the tokens spell the text");
        int k = 2;
        while (tokens.path(k).asText().isEmpty() || tokens.path(k + 1).asText().isEmpty()
                || text.indexOf(tokens.path(k).asText() + tokens.path(k + 1).asText()) != offsets.path(k).asInt()) k++;
        String pair = tokens.path(k).asText() + tokens.path(k + 1).asText();

        // held, then released: tokens k and k + 1 arrive with the chunk of token k + 2
        String never = ", \"logprobs\": 1, \"stop\": [" + ServerFixture.JSON.writeValueAsString(pair + "\u0007") + "]%s";
        JsonNode released = assertStreamedLogprobsAreWhole("/v1/completions", COMPLETION.formatted(never), 1);
        assertSameLogprobs(free.path("logprobs"), released);
        var chunks = legacyChunks(f.post("/v1/completions", COMPLETION.formatted(never.formatted(", \"stream\": true"))).body());
        int before = 0;
        for (JsonNode c : chunks) {
            int n = c.path("logprobs").path("tokens").size();
            if (before <= k && k < before + n) {
                assertTrue(k + 1 < before + n, "token " + k + " is held with token " + (k + 1) + ": " + c);
                assertTrue(c.path("text").asText().contains(pair), c.toString());
            }
            before += n;
        }

        // held, then cut: the two tokens' text is never sent, their logprobs are
        String cut = ", \"logprobs\": 1, \"stop\": [" + ServerFixture.JSON.writeValueAsString(pair) + "]%s";
        JsonNode stopped = assertStreamedLogprobsAreWhole("/v1/completions", COMPLETION.formatted(cut), 1);
        assertEquals(k + 2, stopped.path("tokens").size(), "the reply's tokens up to the one that completes the stop string");
        chunks = legacyChunks(f.post("/v1/completions", COMPLETION.formatted(cut.formatted(", \"stream\": true"))).body());
        JsonNode last = chunks.getLast();
        assertEquals("", last.path("text").asText());
        JsonNode lastTokens = last.path("logprobs").path("tokens");
        assertEquals(tokens.path(k + 1), lastTokens.path(lastTokens.size() - 1));
        assertEquals(tokens.path(k), lastTokens.path(lastTokens.size() - 2));
    }

    /**
     * A token that is only the first byte of a UTF-8 character adds no text to the stream, yet its logprobs (its
     * bytes among them) are delivered once, in order, with the chunk whose text completes it: at temperature 2 the
     * model draws byte tokens, and the stream's logprobs still equal the whole reply's.
     */
    @Test
    void aPartialUtf8TokenKeepsItsLogprobs() throws Exception {
        String chat = """
                {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 96, "temperature": 2, "top_k": 0, "seed": 71, "logprobs": true, "top_logprobs": 2%s}""";
        JsonNode lp = assertStreamedLogprobsAreWhole("/v1/chat/completions", chat, 2);
        int lead = -1;
        for (int i = 0; i < lp.path("content").size() && lead < 0; i++) {
            JsonNode bytes = lp.path("content").path(i).path("bytes");
            if (bytes.size() == 1 && bytes.path(0).asInt() >= 0xC0) lead = i;
        }
        assertTrue(lead >= 0, "the reply has a token that is a UTF-8 lead byte alone");
        int before = 0;
        for (String e : events(f.post("/v1/chat/completions", chat.formatted(", \"stream\": true")).body())) {
            if (e.equals("[DONE]")) break;
            JsonNode c = json(e).path("choices").path(0);
            int n = c.path("logprobs").path("content").size();
            if (before <= lead && lead < before + n) assertFalse(c.path("delta").path("content").asText().isEmpty(), "its chunk carries the text it begins: " + e);
            before += n;
        }
    }

    /**
     * The same logprobs: the same tokens, bytes, offsets and alternatives in the same order, exactly, and the same
     * numbers within 1e-4. Not bit for bit: two generations of one request give its numbers differently in their
     * seventh digit while the JIT compiles the CPU kernels (their sums change order).
     */
    private static void assertSameLogprobs(JsonNode want, JsonNode got) {
        assertSame(want, got, "logprobs");
    }

    private static void assertSame(JsonNode want, JsonNode got, String where) {
        if (want.isNumber() && !want.isIntegralNumber()) {
            assertTrue(got.isNumber(), where + ": " + got);
            assertEquals(want.doubleValue(), got.doubleValue(), 1e-4, where);
            return;
        }
        assertEquals(want.getNodeType(), got.getNodeType(), where);
        if (!want.isContainerNode()) {
            assertEquals(want, got, where);
            return;
        }
        assertEquals(want.size(), got.size(), where + " size");
        if (want.isArray()) {
            for (int i = 0; i < want.size(); i++) assertSame(want.get(i), got.get(i), where + "[" + i + "]");
        } else {
            var wf = new java.util.ArrayList<String>();
            var gf = new java.util.ArrayList<String>();
            want.fieldNames().forEachRemaining(wf::add);
            got.fieldNames().forEachRemaining(gf::add);
            assertEquals(wf, gf, where + " fields");
            for (String f : wf) assertSame(want.get(f), got.get(f), where + "." + f);
        }
    }

    /**
     * A client that leaves a logprobs stream cancels its generation at the next token, as any stream's: the generation
     * is held inside its first token (after that token's chunk went out) until the client has read the chunk and
     * reset the connection, so the write of the next chunk fails, long before the budget.
     */
    @Test
    void aClientThatLeavesALogprobsStreamCancelsItsGeneration() throws Exception {
        try (var g = new ServerFixture(ServerFixture.options().withParallel(1, 4).withContextLength(512))) {
            double before = g.metric("infercl_generations_cancelled_total"), generated = g.metric("infercl_generated_tokens_total");
            var gone = new CountDownLatch(1);
            var tokens = new AtomicInteger();
            g.server.afterStreamedToken = (id, piece) -> {
                if (tokens.incrementAndGet() == 1) await(gone);
            };
            String body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 500, \"temperature\": 0, \"stream\": true, \"logprobs\": 1}";
            try (Socket s = g.postRaw(body)) {
                String seen = ServerFixture.readUntil(s, text -> text.contains("data: ") && text.endsWith("\n\n"));
                assertTrue(seen.startsWith("HTTP/1.1 200") && seen.contains("\"token_logprobs\""), seen);
                s.setSoLinger(true, 0);   // a reset, as a client that dies does
            } finally {
                gone.countDown();
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (g.metric("infercl_sequences_running") > 0 && System.nanoTime() < deadline) Thread.sleep(10);
            assertEquals(before + 1, g.metric("infercl_generations_cancelled_total"), "the disconnect was noticed");
            assertTrue(g.metric("infercl_generated_tokens_total") - generated < 500, "cancelled before its budget");
            assertEquals(0, g.metric("infercl_kv_blocks_in_use"));
        }
    }

    /**
     * A stream with logprobs sends each chunk as its text is released, with the logprobs of its tokens, while the
     * generation goes on: the generation is held inside its first token until the client has read a chunk, which
     * therefore left the server while the reply was still being generated; it carries that token's text and logprobs.
     */
    @Test
    void aLogprobsStreamSendsItsFirstChunkWhileItGenerates() throws Exception {
        var read = new CountDownLatch(1);
        var tokens = new AtomicInteger();
        var released = new java.util.concurrent.atomic.AtomicBoolean();
        f.server.afterStreamedToken = (id, piece) -> {
            if (tokens.incrementAndGet() == 1) released.set(await(read));
        };
        String first, rest;
        int generatedThen;
        try (Socket s = f.postRaw("{\"prompt\": \"Once upon a time\", \"max_tokens\": 32, \"temperature\": 0, \"stream\": true, \"logprobs\": 2}")) {
            first = ServerFixture.readUntil(s, text -> text.contains("data: ") && text.endsWith("\n\n"));
            // the listener counts the token just after its chunk is written: wait for that count, not for more tokens
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (tokens.get() == 0 && System.nanoTime() < deadline) Thread.sleep(1);
            generatedThen = tokens.get();
            read.countDown();
            rest = ServerFixture.readUntil(s, text -> text.contains("data: [DONE]"));
        } finally {
            f.server.afterStreamedToken = null;
            read.countDown();
        }
        assertTrue(released.get(), "the first chunk reached the client while the generation was held in its first token");
        assertEquals(1, generatedThen, "one token generated when the first chunk arrived");
        JsonNode c = json(events(first).getFirst()).path("choices").path(0);
        assertFalse(c.path("text").asText().isEmpty(), first);
        assertEquals(1, c.path("logprobs").path("tokens").size());
        assertEquals(c.path("text").asText(), c.path("logprobs").path("tokens").path(0).asText());
        assertEquals(2, c.path("logprobs").path("top_logprobs").path(0).size());
        assertEquals(32, tokens.get());
        assertTrue(rest.contains("\"finish_reason\":\"length\""), rest);
    }

    /** Waits for the latch up to a minute; whether it opened (a test's generation is held in a server listener). */
    private static boolean await(CountDownLatch latch) {
        try {
            return latch.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Greedy, the same request streamed and whole gives the same tokens and the same numbers, bit for bit, in both
     * wire formats: each is the engine's log-softmax of the row its token was sampled from, and greedy requests
     * compute the same rows.
     */
    @Test
    void greedyStreamedLogprobsEqualTheWholeReplysExactly() throws Exception {
        String chat = """
                {"messages": [{"role": "user", "content": "Tell me a story about a cat."}], "max_tokens": 40, "temperature": 0, "logprobs": true, "top_logprobs": 5%s}""";
        String legacy = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"temperature\": 0, \"logprobs\": 5%s}";
        for (String[] c : new String[][] {{"/v1/chat/completions", chat}, {"/v1/completions", legacy}}) {
            // the CPU kernels' sums change order while the JIT compiles them, so the numbers of one request drift in
            // their seventh digit from run to run until it has: the stream is compared with the whole replies asked
            // just before and after it, once those two agree to the bit (the code did not change under the stream)
            boolean compared = false;
            for (int attempt = 0; attempt < 20 && !compared; attempt++) {
                JsonNode before = wholeLogprobs(c[0], c[1]);
                JsonNode streamed = streamedLogprobs(c[0], c[1]);
                if (!wholeLogprobs(c[0], c[1]).equals(before)) continue;
                assertTrue(before.size() > 0 && before.elements().next().size() > 1, before.toString());
                assertEquals(before, streamed, c[0]);
                compared = true;
            }
            assertTrue(compared, "two whole replies in a row never agreed to the bit");
        }
    }

    private static JsonNode wholeLogprobs(String path, String body) throws Exception {
        return json(f.post(path, body.formatted("")).body()).path("choices").path(0).path("logprobs");
    }

    /** A stream's logprobs, its chunks' arrays concatenated. */
    private static JsonNode streamedLogprobs(String path, String body) throws Exception {
        var got = ServerFixture.JSON.createObjectNode();
        for (String e : events(f.post(path, body.formatted(", \"stream\": true")).body())) {
            if (e.equals("[DONE]")) break;
            JsonNode lp = json(e).path("choices").path(0).path("logprobs");
            if (!lp.isObject()) continue;
            for (var fields = lp.fieldNames(); fields.hasNext(); ) {
                String field = fields.next();
                var a = got.has(field) ? (com.fasterxml.jackson.databind.node.ArrayNode) got.get(field) : got.putArray(field);
                lp.get(field).forEach(a::add);
            }
        }
        return got;
    }

    /**
     * The reported numbers are the model's: for a greedy request and a sampled one with penalties, temperature and
     * truncations (none of which may show), each token's logprob and its top 5 equal the log-softmax, computed here in
     * double, of the rows of a teacher-forced pass ({@link Session#logits}) over the prompt and the reply, within 1e-4
     * (the generation's one-token and batched forward passes sum in another order than the teacher-forced one).
     */
    @Test
    void logprobsAreTheLogSoftmaxOfTheTeacherForcedLogits() throws Exception {
        var tok = f.model.tokenizer();
        String prompt = "Once upon a time";
        int[] ids = tok.encode(prompt, tok.addBosByDefault(), false);
        SamplerOptions[] samplers = {SamplerOptions.greedy(), new SamplerOptions(0.7f, 30, 0.9f, 0.02f, 1.2f, 64, 13, 0.8f, 0.4f)};
        for (SamplerOptions o : samplers) {
            String body = ServerFixture.JSON.writeValueAsString(java.util.Map.ofEntries(java.util.Map.entry("prompt", prompt),
                    java.util.Map.entry("max_tokens", 24), java.util.Map.entry("temperature", o.temperature()), java.util.Map.entry("top_k", o.topK()),
                    java.util.Map.entry("top_p", o.topP()), java.util.Map.entry("min_p", o.minP()), java.util.Map.entry("repeat_penalty", o.repeatPenalty()),
                    java.util.Map.entry("seed", o.seed()), java.util.Map.entry("presence_penalty", o.presencePenalty()),
                    java.util.Map.entry("frequency_penalty", o.frequencyPenalty()), java.util.Map.entry("logprobs", 5)));
            var r = f.post("/v1/completions", body);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode lp = json(r.body()).path("choices").path(0).path("logprobs");
            int[] reply;
            try (Session s = f.model.newSession(256)) {   // the reply's ids: the server's reply is Session.generate's
                reply = s.generate(ids, new GenerateOptions(24, o, false, true), null).tokens();
            }
            assertEquals(reply.length, lp.path("tokens").size());
            var want = dev.infercl.api.TeacherForced.logprobs(f.model, ids, reply, 5);
            for (int j = 0; j < reply.length; j++) {
                var e = want.get(j);
                assertEquals(new String(tok.tokenBytes(reply[j]), StandardCharsets.UTF_8), lp.path("tokens").path(j).asText());
                assertEquals(e.logprob(), lp.path("token_logprobs").path(j).asDouble(), 1e-4, "token " + j);
                var alts = lp.path("top_logprobs").path(j).properties().iterator();
                for (int t = 0; t < 5; t++) {
                    var alt = alts.next();
                    assertEquals(new String(tok.tokenBytes(e.topIds()[t]), StandardCharsets.UTF_8), alt.getKey(), "token " + j + " alternative " + t);
                    assertEquals(e.topLogprobs()[t], alt.getValue().asDouble(), 1e-4, "token " + j + " alternative " + t);
                }
                assertFalse(alts.hasNext());
            }
        }
    }

    /** The choices of a legacy stream's chunks that carry logprobs. */
    private static java.util.List<JsonNode> legacyChunks(String body) throws Exception {
        var out = new java.util.ArrayList<JsonNode>();
        for (String e : events(body)) {
            if (e.equals("[DONE]")) break;
            JsonNode c = json(e).path("choices").path(0);
            if (c.path("logprobs").isObject()) out.add(c);
        }
        return out;
    }

    /**
     * Asks {@code body} (a format with one %s for the stream field) whole and streamed, and checks that the stream's
     * logprobs, concatenated, are the whole reply's, and that the streamed text never runs ahead of its tokens;
     * returns the whole reply's logprobs.
     */
    private static JsonNode assertStreamedLogprobsAreWhole(String path, String body, int top) throws Exception {
        boolean chat = path.contains("chat");
        var w = f.post(path, body.formatted(""));
        assertEquals(200, w.statusCode(), w.body());
        JsonNode whole = json(w.body());
        JsonNode want = whole.path("choices").path(0).path("logprobs");
        var s = f.post(path, body.formatted(", \"stream\": true"));
        assertEquals(200, s.statusCode(), s.body());
        var got = ServerFixture.JSON.createObjectNode();
        var sentText = new StringBuilder();
        var tokenBytes = new java.io.ByteArrayOutputStream();
        for (String e : events(s.body())) {
            if (e.equals("[DONE]")) break;
            JsonNode c = json(e).path("choices").path(0);
            JsonNode lp = c.path("logprobs");
            if (!lp.isObject()) {
                assertTrue(c.isMissingNode() || c.path("finish_reason").isTextual() || c.path("delta").has("role"), "only the role, finish and usage chunks carry no logprobs: " + e);
                continue;
            }
            for (var fields = lp.fieldNames(); fields.hasNext(); ) {
                String field = fields.next();
                var a = got.has(field) ? (com.fasterxml.jackson.databind.node.ArrayNode) got.get(field) : got.putArray(field);
                lp.get(field).forEach(a::add);
            }
            sentText.append(chat ? c.path("delta").path("content").asText() : c.path("text").asText());
            if (chat) {
                for (JsonNode t : lp.path("content")) for (JsonNode b : t.path("bytes")) tokenBytes.write(b.asInt());
            } else {
                for (JsonNode t : lp.path("tokens")) tokenBytes.writeBytes(t.asText().getBytes(StandardCharsets.UTF_8));
            }
            String delivered = tokenBytes.toString(StandardCharsets.UTF_8);
            if (!delivered.contains("\uFFFD")) assertTrue(delivered.startsWith(sentText.toString()), "the text runs ahead of its tokens: " + sentText + " | " + delivered);
        }
        assertSameLogprobs(want, got);
        JsonNode first = chat ? want.path("content").path(0).path("top_logprobs") : want.path("top_logprobs").path(0);
        assertEquals(top, first.size());
        int count = chat ? want.path("content").size() : want.path("tokens").size();
        assertTrue(count > 0);
        JsonNode choice = whole.path("choices").path(0);
        assertEquals(chat ? choice.path("message").path("content").asText() : choice.path("text").asText(), streamedText(s.body()));
        assertEquals(whole.path("usage").path("completion_tokens").asInt() >= count, true);
        return want;
    }

    @Test
    void embeddingsEqualModelEmbed() throws Exception {
        var r = f.post("/v1/embeddings", """
                {"model": "stories260K", "input": ["Lily had a red ball.", "The sun was hot."]}""");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode data = json(r.body()).path("data");
        assertEquals(2, data.size());
        float[] want = f.model.embed("The sun was hot.", Pooling.MEAN);
        JsonNode got = data.path(1).path("embedding");
        assertEquals(want.length, got.size());
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got.path(i).floatValue(), 1e-6f);
        assertTrue(json(r.body()).path("usage").path("prompt_tokens").asInt() > 0);

        var b64 = json(f.post("/v1/embeddings", """
                {"input": "The sun was hot.", "encoding_format": "base64", "pooling": "last"}""").body());
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(b64.path("data").path(0).path("embedding").asText())).order(ByteOrder.LITTLE_ENDIAN);
        float[] last = new float[want.length];
        for (int i = 0; i < last.length; i++) last[i] = bytes.getFloat();
        assertArrayEquals(f.model.embed("The sun was hot.", Pooling.LAST), last, 1e-6f);
    }

    @Test
    void modelsHealthAndMetrics() throws Exception {
        JsonNode models = json(f.get("/v1/models").body());
        assertEquals("stories260K", models.path("data").path(0).path("id").asText());
        assertEquals(200, f.get("/v1/models/stories260K").statusCode());
        assertEquals(404, f.get("/v1/models/gpt-4").statusCode());
        var health = f.http.send(HttpRequest.newBuilder(f.server.uri().resolve("/health")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), "public: no key");
        f.post("/v1/completions", COMPLETION.formatted(""));
        var metrics = f.get("/metrics");
        assertEquals(200, metrics.statusCode());
        assertTrue(metrics.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
        String text = metrics.body();
        assertTrue(text.contains("infercl_requests_total{endpoint=\"/v1/completions\",status=\"200\"}"), text);
        assertTrue(f.metric("infercl_generated_tokens_total") > 0, text);
        assertTrue(f.metric("infercl_prompt_tokens_total") > 0, text);
        assertTrue(text.contains("# TYPE infercl_generated_tokens_per_second gauge"), text);
        assertEquals(0, f.metric("infercl_queue_depth"));
        assertEquals(4, f.metric("infercl_sequences_max"));
    }

    @Test
    void healthIs503WhileLoading() throws Exception {
        try (var server = OpenAiServer.start(ServerOptions.defaults().withPort(0))) {
            var client = java.net.http.HttpClient.newHttpClient();
            var health = client.send(HttpRequest.newBuilder(server.uri().resolve("/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, health.statusCode());
            var early = client.send(HttpRequest.newBuilder(server.uri().resolve("/v1/models")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(503, early.statusCode());
            assertEquals("model_loading", json(early.body()).path("error").path("code").asText());
            try (Model m = Model.load(Stories.MODEL, LoadOptions.defaults().withBackend(BackendKind.CPU))) {
                server.ready(m);
                assertEquals(200, client.send(HttpRequest.newBuilder(server.uri().resolve("/health")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
            }
        }
    }

    static final String LONG_PROMPT = "Once upon a time there was a dog. ".repeat(40);

    static Stream<Arguments> badRequests() {
        return Stream.of(
                Arguments.of("malformed JSON", "/v1/completions", "{\"prompt\": \"Once\",", 400, null),
                Arguments.of("not an object", "/v1/completions", "[1, 2]", 400, null),
                Arguments.of("empty body", "/v1/completions", "", 400, null),
                Arguments.of("NaN literal", "/v1/completions", "{\"prompt\": \"a\", \"temperature\": NaN}", 400, null),
                Arguments.of("temperature a string", "/v1/completions", "{\"prompt\": \"a\", \"temperature\": \"hot\"}", 400, "temperature"),
                Arguments.of("temperature huge", "/v1/completions", "{\"prompt\": \"a\", \"temperature\": 1e308}", 400, "temperature"),
                Arguments.of("temperature overflows", "/v1/completions", "{\"prompt\": \"a\", \"temperature\": 1e400}", 400, "temperature"),
                Arguments.of("negative max_tokens", "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": -5}", 400, "max_tokens"),
                Arguments.of("huge max_tokens", "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 100000000000000000000}", 400, "max_tokens"),
                Arguments.of("max_tokens beyond the context", "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 100000}", 400, "max_tokens"),
                Arguments.of("fractional max_tokens", "/v1/completions", "{\"prompt\": \"a\", \"max_tokens\": 2.5}", 400, "max_tokens"),
                Arguments.of("top_p 0", "/v1/completions", "{\"prompt\": \"a\", \"top_p\": 0}", 400, "top_p"),
                Arguments.of("negative top_k", "/v1/completions", "{\"prompt\": \"a\", \"top_k\": -1}", 400, "top_k"),
                Arguments.of("presence penalty 3", "/v1/completions", "{\"prompt\": \"a\", \"presence_penalty\": 3}", 400, "presence_penalty"),
                Arguments.of("seed a float", "/v1/completions", "{\"prompt\": \"a\", \"seed\": 1.5}", 400, "seed"),
                Arguments.of("n = 2", "/v1/completions", "{\"prompt\": \"a\", \"n\": 2}", 400, "n"),
                Arguments.of("stream not a boolean", "/v1/completions", "{\"prompt\": \"a\", \"stream\": \"yes\"}", 400, "stream"),
                Arguments.of("five stop strings", "/v1/completions", "{\"prompt\": \"a\", \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", 400, "stop"),
                Arguments.of("no prompt", "/v1/completions", "{\"max_tokens\": 3}", 400, "prompt"),
                Arguments.of("prompt a number", "/v1/completions", "{\"prompt\": 42}", 400, "prompt"),
                Arguments.of("prompt longer than the context", "/v1/completions", "{\"prompt\": \"" + LONG_PROMPT + "\"}", 400, "prompt"),
                Arguments.of("unknown model", "/v1/completions", "{\"model\": \"gpt-4\", \"prompt\": \"a\"}", 404, "model"),
                Arguments.of("top_logprobs without logprobs", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"top_logprobs\": 2, \"stream\": true}", 400, "top_logprobs"),
                Arguments.of("legacy logprobs 6", "/v1/completions", "{\"prompt\": \"a\", \"logprobs\": 6, \"stream\": true}", 400, "logprobs"),
                Arguments.of("no messages", "/v1/chat/completions", "{\"messages\": []}", 400, "messages"),
                Arguments.of("a message without a role", "/v1/chat/completions", "{\"messages\": [{\"content\": \"a\"}]}", 400, "messages[0].role"),
                Arguments.of("a tool message", "/v1/chat/completions", "{\"messages\": [{\"role\": \"tool\", \"content\": \"a\"}]}", 400, "messages[0].role"),
                Arguments.of("tools", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}], \"tools\": [{\"type\": \"function\"}]}", 400, "tools"),
                Arguments.of("chat longer than the context", "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"" + LONG_PROMPT + "\"}]}", 400, "messages"),
                Arguments.of("embedding of a number", "/v1/embeddings", "{\"input\": 3}", 400, "input"),
                Arguments.of("embedding longer than the context", "/v1/embeddings", "{\"input\": \"" + LONG_PROMPT + "\"}", 400, "input"),
                Arguments.of("unknown endpoint", "/v1/nothing", "{}", 404, null));
    }

    /** Each bad request gets its status and OpenAI's error body; a good request right after is unaffected. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("badRequests")
    void badRequestsGetTheir4xx(String what, String path, String body, int status, String param) throws Exception {
        var r = f.post(path, body);
        assertEquals(status, r.statusCode(), what + ": " + r.body());
        assertErrorBody(r.body(), param);
    }

    static void assertErrorBody(String body, String param) throws Exception {
        JsonNode e = json(body).path("error");
        assertTrue(e.isObject(), body);
        assertTrue(e.path("message").isTextual() && !e.path("message").asText().isEmpty(), body);
        assertTrue(e.path("type").isTextual(), body);
        assertTrue(e.has("param") && e.has("code"), body);
        if (param != null) assertEquals(param, e.path("param").asText(), body);
    }

    @Test
    void oversizedBodiesAreRefusedWithoutBeingKept() throws Exception {
        String huge = "{\"prompt\": \"" + "a".repeat(200_000) + "\"}";
        var r = f.post("/v1/completions", huge);
        assertEquals(413, r.statusCode());
        assertErrorBody(r.body(), null);
        // without a Content-Length (chunked), the body is kept only up to the limit
        var chunked = f.http.send(f.request("/v1/completions").POST(HttpRequest.BodyPublishers.ofInputStream(
                () -> new java.io.ByteArrayInputStream(huge.getBytes(StandardCharsets.UTF_8)))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(413, chunked.statusCode());
        assertEquals(200, f.post("/v1/completions", COMPLETION.formatted("")).statusCode());
    }

    @Test
    void aKeyIsRequiredEverywhereButHealth() throws Exception {
        for (String auth : new String[] {null, "Bearer wrong", "Basic dGVzdC1rZXk=", "Bearer "}) {
            var b = HttpRequest.newBuilder(f.server.uri().resolve("/v1/models"));
            if (auth != null) b.header("Authorization", auth);
            var r = f.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode(), String.valueOf(auth));
            assertErrorBody(r.body(), null);
            var m = f.http.send(HttpRequest.newBuilder(f.server.uri().resolve("/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, m.statusCode());
        }
        var wrongMethod = f.http.send(f.request("/v1/completions").GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, wrongMethod.statusCode());
        assertErrorBody(wrongMethod.body(), null);
    }

    /**
     * A streaming client that closes its connection cancels its generation at the next token: the server counts it,
     * stops long before the budget, and the session returns to the pool with its KV blocks freed.
     */
    @Test
    void aClientThatDisconnectsCancelsItsGeneration() throws Exception {
        double before = f.metric("infercl_generations_cancelled_total");
        double generatedBefore = f.metric("infercl_generated_tokens_total");
        String body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 250, \"temperature\": 2, \"top_k\": 0, \"seed\": 3, \"stream\": true}";
        f.disconnectAfterFirstChunk(body);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (f.metric("infercl_sequences_running") > 0 && System.nanoTime() < deadline) Thread.sleep(20);
        assertEquals(0, f.metric("infercl_sequences_running"));
        assertEquals(0, f.metric("infercl_kv_blocks_in_use"));
        assertEquals(before + 1, f.metric("infercl_generations_cancelled_total"), "the disconnect was noticed");
        assertTrue(f.metric("infercl_generated_tokens_total") - generatedBefore < 250, "cancelled before its budget");
        assertTrue(f.get("/metrics").body().contains("endpoint=\"/v1/completions\",status=\"499\""));
    }

    /**
     * A streaming client that goes away while it waits in the queue gives up its place then, not when a sequence
     * comes free: while every session is lent, the server writes the stream's headers and a comment every queueCheck,
     * and the first write that fails ends the wait (counted as cancelled, status 499).
     */
    @Test
    void aStreamingClientThatLeavesTheQueueGivesUpItsPlace() throws Exception {
        leaveTheQueue("{\"prompt\": \"Once upon a time\", \"max_tokens\": 8, \"stream\": true}",
                text -> text.endsWith(": waiting for a sequence\n\n"));
    }

    /** A client waiting in the queue for a whole reply that goes away gives up its place, as a streaming one does. */
    @Test
    void aClientWaitingForAWholeReplyThatLeavesTheQueueGivesUpItsPlace() throws Exception {
        leaveTheQueue("{\"prompt\": \"Once upon a time\", \"max_tokens\": 8}", OpenAiServerTest::heartbeatSeen);
    }

    /**
     * Sends {@code body} while the only session is lent, reads until {@code written} holds for what the server wrote
     * while it waits, resets the connection, and checks the request gave up its place at once, generating nothing.
     */
    private static void leaveTheQueue(String body, java.util.function.Predicate<String> written) throws Exception {
        try (var g = new ServerFixture(ServerFixture.options().withParallel(1, 4))) {
            g.server.queueCheck = Duration.ofMillis(20);
            double before = g.metric("infercl_generations_cancelled_total"), generated = g.metric("infercl_generated_tokens_total");
            var held = g.server.pool().acquire();   // the only session is lent: a request now waits in the queue
            try {
                try (Socket s = g.postRaw(body)) {
                    String seen = ServerFixture.readUntil(s, written);
                    assertTrue(seen.startsWith("HTTP/1.1 200") && written.test(seen), seen);
                    assertEquals(1, g.metric("infercl_queue_depth"), "the request waits in the queue");
                    s.setSoLinger(true, 0);   // a reset, as a client that dies does
                }
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (g.metric("infercl_queue_depth") > 0 && System.nanoTime() < deadline) Thread.sleep(10);
                assertEquals(0, g.metric("infercl_queue_depth"), "the place in the queue was given up while the session was still lent");
                assertEquals(before + 1, g.metric("infercl_generations_cancelled_total"));
            } finally {
                g.server.pool().release(held);
            }
            assertEquals(generated, g.metric("infercl_generated_tokens_total"), "nothing was generated for it");
            assertEquals(200, g.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2}").statusCode(), "the server still serves");
        }
    }

    /** Headers, then the first chunk of a whole reply's heartbeat: one space (chunked encoding). */
    private static boolean heartbeatSeen(String text) {
        return text.contains("\r\n\r\n1\r\n \r\n");
    }

    /**
     * A client waiting for a whole (not streamed) reply that goes away cancels its generation too: once the request
     * has run a queueCheck the server sends the headers and a space every queueCheck, and the first write that fails
     * stops the generation. The generation is held inside its second token (after the first space went out) until
     * the client has seen the space and reset the connection.
     */
    @Test
    void aClientThatLeavesAWholeReplyCancelsItsGeneration() throws Exception {
        try (var g = new ServerFixture(ServerFixture.options().withParallel(1, 4).withContextLength(512))) {
            g.server.queueCheck = Duration.ofMillis(20);
            double before = g.metric("infercl_generations_cancelled_total"), generated = g.metric("infercl_generated_tokens_total");
            var gone = new CountDownLatch(1);
            var tokens = new AtomicInteger();
            g.server.afterWholeToken = (id, piece) -> {
                int k = tokens.incrementAndGet();
                if (k == 1) sleep(40);        // past a queueCheck: the next token's check writes the headers and a space
                else if (k == 2) await(gone);
            };
            String body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 500, \"temperature\": 0}";
            try (Socket s = g.postRaw(body)) {
                String seen = ServerFixture.readUntil(s, OpenAiServerTest::heartbeatSeen);
                assertTrue(seen.startsWith("HTTP/1.1 200") && seen.contains("application/json") && heartbeatSeen(seen), seen);
                s.setSoLinger(true, 0);   // a reset, as a client that dies does
            } finally {
                gone.countDown();
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (g.metric("infercl_sequences_running") > 0 && System.nanoTime() < deadline) Thread.sleep(10);
            assertEquals(before + 1, g.metric("infercl_generations_cancelled_total"), "the disconnect was noticed");
            assertTrue(g.metric("infercl_generated_tokens_total") - generated < 500, "cancelled before its budget");
            assertEquals(0, g.metric("infercl_kv_blocks_in_use"));
            assertTrue(g.get("/metrics").body().contains("endpoint=\"/v1/completions\",status=\"499\""));
        }
    }

    /**
     * A whole reply that outlasts queueCheck (here every token's check writes a space) is the same JSON as one sent at
     * once: the spaces before it are whitespace JSON allows, and the text, usage and finish reason are equal.
     */
    @Test
    void aWholeReplyWithHeartbeatsIsTheSameJson() throws Exception {
        try (var g = new ServerFixture(ServerFixture.options().withParallel(1, 4))) {
            String body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"temperature\": 0.8, \"seed\": 5}";
            var quick = g.post("/v1/completions", body);
            g.server.queueCheck = Duration.ZERO;
            var beating = g.post("/v1/completions", body);
            assertEquals(200, quick.statusCode());
            assertEquals(200, beating.statusCode());
            assertTrue(beating.body().startsWith(" ") && !quick.body().startsWith(" "), "heartbeats before the JSON: " + beating.body());
            JsonNode a = ServerFixture.json(quick.body()), b = ServerFixture.json(beating.body());
            assertEquals(a.path("choices"), b.path("choices"));
            assertEquals(a.path("usage"), b.path("usage"));
            assertTrue(b.path("usage").path("completion_tokens").asInt() > 1, b.toString());
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
