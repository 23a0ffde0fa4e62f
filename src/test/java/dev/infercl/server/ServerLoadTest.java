package dev.infercl.server;

import static dev.infercl.server.ServerFixture.events;
import static dev.infercl.server.ServerFixture.json;
import static dev.infercl.server.ServerFixture.streamedText;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * 32 concurrent streaming clients on loopback against 4 sequences: 26 complete (prompts of 1 to 12 sentences,
 * budgets of 24 to 56 tokens, each its own seed), 3 disconnect after their first chunk, 3 send bad requests. Every
 * completed stream equals the same request run alone through the Java API, carries one id of its own, and ends in
 * [DONE]; the bad ones get their 4xx; afterwards /health answers 200 and no sequence, queued request or KV block is
 * left. Then a server of one sequence and no queue refuses the requests that overlap a running one with 429.
 */
@Timeout(600)
class ServerLoadTest {
    static final String[] SENTENCES = {"Once upon a time there was a little dog.", "He liked to run in the park.", "One day he saw a big red ball.",
            "The sun was hot and the sky was blue.", "Lily wanted to play with her friend.", "They went to the lake together."};

    record Good(String prompt, int maxTokens, long seed) {
        String body() {
            return "{\"model\": \"stories260K\", \"prompt\": " + quote(prompt) + ", \"max_tokens\": " + maxTokens
                    + ", \"temperature\": 0.8, \"top_k\": 40, \"top_p\": 0.95, \"min_p\": 0.05, \"seed\": " + seed + ", \"stream\": true}";
        }
    }

    static String quote(String s) {
        try {
            return ServerFixture.JSON.writeValueAsString(s);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void thirtyTwoConcurrentStreamingClients() throws Exception {
        try (var f = new ServerFixture(ServerFixture.options())) {
            var good = new ArrayList<Good>();
            for (int i = 0; i < 26; i++) {
                var p = new StringBuilder();
                for (int k = 0; k <= (i * 7) % 12; k++) p.append(k == 0 ? "" : " ").append(SENTENCES[(i + k) % SENTENCES.length]);
                good.add(new Good(p.toString(), 24 + (i % 3) * 16, 1000 + i));
            }
            String[] bad = {"{\"prompt\": \"Once\", \"stream\": true", "{\"model\": \"nope\", \"prompt\": \"Once\", \"stream\": true}",
                    "{\"prompt\": \"Once\", \"max_tokens\": -1, \"stream\": true}"};
            double cancelledBefore = f.metric("infercl_generations_cancelled_total");

            var gate = new CountDownLatch(1);
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<HttpResponse<String>>> goods = new ArrayList<>(), bads = new ArrayList<>();
                List<Future<?>> gone = new ArrayList<>();
                for (Good g : good) goods.add(pool.submit(() -> {
                    gate.await();
                    return f.post("/v1/completions", g.body());
                }));
                for (String b : bad) bads.add(pool.submit(() -> {
                    gate.await();
                    return f.post("/v1/completions", b);
                }));
                for (int i = 0; i < 3; i++) {
                    String body = new Good(SENTENCES[i], 200, 50 + i).body().replace("\"temperature\": 0.8", "\"temperature\": 2");
                    gone.add(pool.submit(() -> {
                        gate.await();
                        f.disconnectAfterFirstChunk(body);
                        return null;
                    }));
                }
                gate.countDown();

                var ids = new HashSet<String>();
                for (int i = 0; i < good.size(); i++) {
                    var r = goods.get(i).get();
                    assertEquals(200, r.statusCode(), r.body());
                    var ev = events(r.body());
                    assertEquals("[DONE]", ev.getLast(), "request " + i + " ends in [DONE]");
                    var own = new HashSet<String>();
                    for (String e : ev.subList(0, ev.size() - 1)) own.add(json(e).path("id").asText());
                    assertEquals(1, own.size(), "request " + i + ": every chunk carries the stream's id");
                    assertTrue(ids.addAll(own), "request " + i + ": an id of its own");
                    Good g = good.get(i);
                    assertEquals(f.alone(g.prompt(), g.maxTokens(), 0.8f, 40, 0.95f, 0.05f, g.seed()), streamedText(r.body()),
                            "request " + i + " (prompt of " + g.prompt().length() + " chars) equals the request alone");
                }
                int[] want = {400, 404, 400};
                for (int i = 0; i < bad.length; i++) {
                    var r = bads.get(i).get();
                    assertEquals(want[i], r.statusCode(), bad[i] + ": " + r.body());
                    OpenAiServerTest.assertErrorBody(r.body(), null);
                }
                for (var g : gone) g.get();
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (f.metric("infercl_sequences_running") > 0 && System.nanoTime() < deadline) Thread.sleep(20);
            var health = f.http.send(HttpRequest.newBuilder(f.server.uri().resolve("/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
            assertEquals(0, f.metric("infercl_sequences_running"));
            assertEquals(0, f.metric("infercl_queue_depth"));
            assertEquals(0, f.metric("infercl_kv_blocks_in_use"));
            double cancelled = f.metric("infercl_generations_cancelled_total") - cancelledBefore;
            // a disconnecting client whose story ends before its next token is written completes instead
            assertTrue(cancelled >= 1 && cancelled <= 3, "disconnects noticed: " + cancelled);
        }
    }

    /** One sequence and no queue: of 8 requests sent at once, the first generates and the others overlapping it get 429. */
    @Test
    void aFullQueueIsRefusedWith429() throws Exception {
        try (var f = new ServerFixture(ServerFixture.options().withParallel(1, 0))) {
            var gate = new CountDownLatch(1);
            var replies = new ArrayList<Future<HttpResponse<String>>>();
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 8; i++) {
                    String body = new Good(SENTENCES[i % SENTENCES.length], 100, i).body();
                    replies.add(pool.submit(() -> {
                        gate.await();
                        return f.post("/v1/completions", body);
                    }));
                }
                gate.countDown();
                int ok = 0, refused = 0;
                for (var r : replies) {
                    var reply = r.get();
                    if (reply.statusCode() == 200) {
                        ok++;
                    } else {
                        assertEquals(429, reply.statusCode(), reply.body());
                        OpenAiServerTest.assertErrorBody(reply.body(), null);
                        assertEquals("queue_full", json(reply.body()).path("error").path("code").asText());
                        refused++;
                    }
                }
                assertTrue(ok >= 1 && refused >= 1, ok + " served, " + refused + " refused");
            }
            assertEquals(200, f.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2}").statusCode());
            assertEquals(0, f.metric("infercl_sequences_running"));
        }
    }
}
