package dev.infercl.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.Generation;
import dev.infercl.api.Model;
import dev.infercl.api.Pooling;
import dev.infercl.api.Session;
import dev.infercl.api.TokenListener;
import dev.infercl.engine.SamplerOptions;
import dev.infercl.engine.StopMatcher;
import dev.infercl.engine.TokenLogprobs;
import dev.infercl.tokenizer.ChatTemplate;
import dev.infercl.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * An OpenAI-compatible HTTP server over one {@link Model}: {@code POST /v1/chat/completions}, {@code /v1/completions}
 * (whole or streamed as server-sent events ending in {@code data: [DONE]}), {@code /v1/embeddings},
 * {@code GET /v1/models}, {@code /health} and {@code /metrics} (Prometheus text).
 *
 * <p>It is the JDK's {@code com.sun.net.httpserver} with a virtual thread per request, and Jackson for every body, so
 * no HTTP or JSON is parsed here. A request generates in a {@link Session} lent by a pool of {@code parallel}
 * sessions (the engine runs them together); more wait in a bounded queue, and beyond it are refused with 429. Every
 * refusal is a 4xx with OpenAI's error body and touches no other request; a client that goes away cancels its
 * generation ({@link Session#cancel()}), or gives up its place in the queue, and its session returns to the pool:
 * a stream's at its next token, a whole reply's at its next check ({@link #queueCheck}).
 *
 * <p>The server listens from {@link #start} on, answering /health with 503 until {@link #ready} hands it the model
 * (so a supervisor sees it loading); it never closes the model, which its caller owns.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(OpenAiServer.class.getName());
    private static final Set<String> ENDPOINTS = Set.of("/health", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings");

    private final ServerOptions options;
    private final HttpServer http;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final ObjectMapper json = new ObjectMapper();
    private final Metrics metrics = new Metrics();
    /**
     * How often a request that waits checks that its client is still there: a streaming one in the queue with an SSE
     * comment; a whole reply, queued or generating, with a space before its JSON (see {@link Heartbeat}).
     */
    volatile java.time.Duration queueCheck = java.time.Duration.ofSeconds(1);
    /**
     * Called on the generating thread after each streamed token, once the chunk its text released (if any) is written:
     * lets a test hold a generation at a known point to see what the client has received by then. Null: none.
     */
    volatile TokenListener afterStreamedToken;
    /** As {@link #afterStreamedToken}, for each token of a whole (not streamed) reply. */
    volatile TokenListener afterWholeToken;
    private final byte[] key;

    /** Set once by {@link #ready}; null while the model loads. */
    private volatile Served served;

    private record Served(Model model, SessionPool pool, String id, ChatTemplate template, int[] chatStopIds, List<String> chatStops,
                          long created) {}

    private OpenAiServer(ServerOptions options) throws IOException {
        this.options = options;
        this.key = options.apiKey() == null ? null : options.apiKey().getBytes(StandardCharsets.UTF_8);
        this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 0);
        http.setExecutor(executor);
        http.createContext("/", this::handle);
    }

    /** Binds and starts answering (/health says 503 until {@link #ready}). */
    public static OpenAiServer start(ServerOptions options) throws IOException {
        var s = new OpenAiServer(options);
        s.http.start();
        return s;
    }

    /**
     * Serves {@code model} from now on: opens the pool's sessions (each holding the configured context) and reads the
     * model's chat template. A model without a usable template still serves completions and embeddings.
     */
    /** The pool of sessions requests take turns on (null until {@link #ready}). */
    SessionPool pool() {
        Served s = served;
        return s == null ? null : s.pool();
    }

    public void ready(Model model) {
        ready(model, options.contextLength());
    }

    /** {@link #ready(Model)} with sessions of {@code ctx} positions (≤ 0: {@link Model#newSession()}'s default). */
    public void ready(Model model, int ctx) {
        if (served != null) throw new IllegalStateException("the server already serves " + served.id());
        ChatTemplate template = null;
        try {
            template = model.chatTemplate(null);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "no chat template: /v1/chat/completions will refuse requests", e);
        }
        String id = options.modelId();
        if (id == null) {
            id = model.path().getFileName().toString();
            if (id.endsWith(".gguf")) id = id.substring(0, id.length() - 5);
        }
        var pool = new SessionPool(model, options.parallel(), options.queue(), ctx);
        served = new Served(model, pool, id, template, template == null ? new int[0] : template.stopTokenIds(model.tokenizer()),
                template == null ? List.of() : template.stopStrings(), System.currentTimeMillis() / 1000);
    }

    /** The port it listens on (the one chosen when the options asked for 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    public URI uri() {
        var a = http.getAddress();
        String host = a.getAddress().getHostAddress();
        return URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort());
    }

    /** The id requests name in "model". */
    public String modelId() {
        Served s = served;
        return s == null ? null : s.id();
    }

    /** Stops listening, ends the requests in progress and closes the sessions; the model stays open. */
    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
        Served s = served;
        if (s != null) s.pool().close();
    }

    // ------------------------------------------------------------------------------------------------- dispatch

    private void handle(HttpExchange ex) {
        String path = ex.getRequestURI().getPath();
        String endpoint = ENDPOINTS.contains(path) ? path : path.startsWith("/v1/models/") ? "/v1/models" : "other";
        int status;
        try {
            status = route(ex, path, ex.getRequestMethod());
        } catch (ApiException e) {
            status = e.status;
            error(ex, e);
        } catch (Exception | Error e) {
            LOG.log(Level.WARNING, "request " + path + " failed", e);
            status = 500;
            error(ex, new ApiException(500, "server_error", null, null, "internal error: " + e));
        }
        metrics.request(endpoint, status);
        ex.close();
    }

    private int route(HttpExchange ex, String path, String method) throws Exception {
        if (path.equals("/health")) {
            requireMethod(method, "GET");
            boolean up = served != null;
            return send(ex, up ? 200 : 503, json.createObjectNode().put("status", up ? "ok" : "loading model"));
        }
        authorize(ex);
        if (!ENDPOINTS.contains(path) && !path.startsWith("/v1/models/")) {
            throw new ApiException(404, "invalid_request_error", null, "not_found", "no endpoint " + method + " " + path);
        }
        Served s = served;
        if (s == null) throw new ApiException(503, "server_error", null, "model_loading", "the model is still loading; /health says when it is ready");
        switch (path) {
            case "/metrics" -> {
                requireMethod(method, "GET");
                byte[] text = metrics.render(s.pool()).getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                ex.sendResponseHeaders(200, text.length);
                ex.getResponseBody().write(text);
                return 200;
            }
            case "/v1/models" -> {
                requireMethod(method, "GET");
                var list = json.createObjectNode().put("object", "list");
                list.putArray("data").add(modelObject(s));
                return send(ex, 200, list);
            }
            case "/v1/chat/completions" -> {
                requireMethod(method, "POST");
                return complete(ex, s, CompletionRequest.parse(body(ex), true));
            }
            case "/v1/completions" -> {
                requireMethod(method, "POST");
                return complete(ex, s, CompletionRequest.parse(body(ex), false));
            }
            case "/v1/embeddings" -> {
                requireMethod(method, "POST");
                return embeddings(ex, s, body(ex));
            }
            default -> {   // /v1/models/{id}
                requireMethod(method, "GET");
                String id = path.substring("/v1/models/".length());
                if (!id.equals(s.id())) throw unknownModel(id, s);
                return send(ex, 200, modelObject(s));
            }
        }
    }

    private ObjectNode modelObject(Served s) {
        return json.createObjectNode().put("id", s.id()).put("object", "model").put("created", s.created()).put("owned_by", "infercl");
    }

    private static void requireMethod(String method, String allowed) throws ApiException {
        if (!method.equals(allowed)) throw new ApiException(405, "invalid_request_error", null, "method_not_allowed", "use " + allowed + ", not " + method);
    }

    /** Every endpoint but /health needs "Authorization: Bearer KEY" when the server has a key (compared in constant time). */
    private void authorize(HttpExchange ex) throws ApiException {
        if (key == null) return;
        String h = ex.getRequestHeaders().getFirst("Authorization");
        if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiException(401, "invalid_request_error", null, "missing_api_key", "an API key is required: Authorization: Bearer KEY");
        }
        if (!MessageDigest.isEqual(h.substring(7).strip().getBytes(StandardCharsets.UTF_8), key)) {
            throw new ApiException(401, "invalid_request_error", null, "invalid_api_key", "incorrect API key");
        }
    }

    private static ApiException unknownModel(String id, Served s) {
        return new ApiException(404, "invalid_request_error", "model", "model_not_found", "the model '" + id + "' does not exist; this server serves '" + s.id() + "'");
    }

    /** The body as JSON, read up to the size limit (a larger one is refused unread). */
    private JsonNode body(HttpExchange ex) throws ApiException, IOException {
        int max = options.maxBodyBytes();
        ApiException tooLarge = new ApiException(413, "invalid_request_error", null, "request_too_large", "the request body is larger than " + max + " bytes");
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long declared;
            try {
                declared = Long.parseLong(length.strip());
            } catch (NumberFormatException e) {
                throw ApiException.invalid(null, "Content-Length is not a number");
            }
            if (declared > max) throw tooLarge;
        }
        byte[] bytes = ex.getRequestBody().readNBytes(max + 1);
        if (bytes.length > max) throw tooLarge;
        if (bytes.length == 0) throw ApiException.invalid(null, "the request has no body (a JSON object is expected)");
        try {
            JsonNode node = json.readTree(bytes);
            if (node == null || node.isMissingNode()) throw ApiException.invalid(null, "the request body holds no JSON");
            return node;
        } catch (JsonProcessingException e) {
            throw new ApiException(400, "invalid_request_error", null, "invalid_json", "malformed JSON: " + e.getOriginalMessage());
        } catch (java.io.CharConversionException e) {   // bytes Jackson's encoding detection takes for UTF-32 it cannot read
            throw new ApiException(400, "invalid_request_error", null, "invalid_json", "malformed JSON: " + e.getMessage());
        }
    }

    /**
     * Reads and drops what remains of a refused request's body, up to 16 times the body limit, kept nowhere, so that
     * the connection stays in step (a client still sending when the connection closes would get a reset instead of
     * the error). A longer body is not read: the reply says "Connection: close", and the client may see a reset.
     */
    private void discard(HttpExchange ex) {
        long cap = 16L * options.maxBodyBytes();
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        try {
            if (length != null && Long.parseLong(length.strip()) > cap) {
                ex.getResponseHeaders().set("Connection", "close");
                return;
            }
            java.io.InputStream body = ex.getRequestBody();
            byte[] sink = new byte[64 << 10];
            long read = 0;
            int n = 0;
            while (read <= cap && (n = body.read(sink)) >= 0) read += n;
            if (n >= 0) ex.getResponseHeaders().set("Connection", "close");
        } catch (IOException | NumberFormatException e) {
            ex.getResponseHeaders().set("Connection", "close");
        }
    }

    // ------------------------------------------------------------------------------------------------- completions

    private int complete(HttpExchange ex, Served s, CompletionRequest r) throws Exception {
        if (r.model() != null && !r.model().equals(s.id())) throw unknownModel(r.model(), s);
        Tokenizer tok = s.model().tokenizer();
        int[] ids, stopIds;
        var stops = new ArrayList<>(r.stop());
        if (r.chat()) {
            if (s.template() == null) throw ApiException.unsupported("messages", "this model has no chat template; use /v1/completions");
            try {
                ids = s.template().encode(tok, r.messages(), true);
            } catch (RuntimeException e) {   // a template may refuse a conversation (raise_exception)
                throw ApiException.invalid("messages", "the chat template refused the messages: " + e.getMessage());
            }
            stopIds = s.chatStopIds();
            stops.addAll(s.chatStops());
        } else {
            ids = tok.encode(r.prompt(), tok.addBosByDefault(), false);
            stopIds = new int[0];
        }
        int ctx = s.pool().contextLength;
        if (ids.length == 0) throw ApiException.invalid(r.chat() ? "messages" : "prompt", "the prompt has no tokens");
        if (ids.length >= ctx) {
            throw new ApiException(400, "invalid_request_error", r.chat() ? "messages" : "prompt", "context_length_exceeded",
                    "the prompt has " + ids.length + " tokens; the context holds " + ctx + " (and the reply needs at least one)");
        }
        if (r.maxTokens() != null && r.maxTokens() > ctx) {
            throw ApiException.invalid(r.chat() ? "max_completion_tokens" : "max_tokens", "the token budget " + r.maxTokens() + " exceeds the context of " + ctx + " tokens");
        }
        int room = ctx - ids.length;
        int budget = r.maxTokens() == null ? room : Math.min(r.maxTokens(), room);
        var sampler = new SamplerOptions(r.temperature(), r.topK(), r.topP(), r.minP(), r.repeatPenalty(), 64, r.seed(),
                r.presencePenalty(), r.frequencyPenalty());
        var options = new GenerateOptions(budget, sampler, false, true, stopIds, null, r.logprobs() ? r.topLogprobs() : -1);

        // A client waiting in the queue is written to every queueCheck — a streaming one the stream's headers and an
        // SSE comment, one waiting for a whole reply its headers and a space — so that one that went away is noticed
        // while it waits (a write fails) and gives up its place.
        Events events = r.stream() ? new Events(ex) : null;
        Heartbeat heartbeat = r.stream() ? null : new Heartbeat(ex, queueCheck);
        Session session = s.pool().acquire(queueCheck, () -> {
            if (events != null) events.comment("waiting for a sequence");
            else heartbeat.beat();
            return events != null ? events.broken : heartbeat.broken;
        });
        if (session == null) {
            metrics.cancelled.increment();
            return 499;
        }
        try {
            metrics.promptTokens.add(ids.length);
            return r.stream() ? stream(events, s, r, session, ids, options, stops) : whole(heartbeat, s, r, session, ids, options, stops);
        } finally {
            s.pool().release(session);
        }
    }

    private static String newId(String prefix) {
        return prefix + HexFormat.of().formatHex(ByteBuffer.allocate(12).putLong(ThreadLocalRandom.current().nextLong())
                .putInt(ThreadLocalRandom.current().nextInt()).array());
    }

    private static String finishReason(Generation g, StopMatcher m) {
        if (m.stopped()) return "stop";
        return switch (g.stop()) {
            case END_OF_GENERATION, CANCELLED -> "stop";
            case TOKEN_BUDGET, CONTEXT_FULL -> "length";
        };
    }

    private ObjectNode usage(int prompt, int completion) {
        return json.createObjectNode().put("prompt_tokens", prompt).put("completion_tokens", completion).put("total_tokens", prompt + completion);
    }

    private int whole(Heartbeat heartbeat, Served s, CompletionRequest r, Session session, int[] ids, GenerateOptions options, List<String> stops) throws IOException {
        var matcher = new StopMatcher(stops);
        TokenListener observer = afterWholeToken;
        // the tokens up to the one whose text reached a stop string, as the stream delivers them
        List<TokenLogprobs> kept = r.logprobs() ? new ArrayList<>() : null;
        Generation g;
        try {
            g = session.generate(ids, options, new TokenListener() {
                @Override
                public void onToken(int id, String piece) {
                    onToken(id, piece, null);
                }

                @Override
                public void onToken(int id, String piece, TokenLogprobs lp) {
                    if (matcher.stopped()) return;
                    if (id >= 0) {
                        metrics.token();
                        if (kept != null) kept.add(lp);
                    }
                    matcher.accept(piece);
                    if (matcher.stopped()) session.cancel();
                    heartbeat.beatIfDue();
                    if (heartbeat.broken) session.cancel();   // the client went away: stop at once, free the session
                    if (observer != null) observer.onToken(id, piece, lp);
                }
            });
        } catch (RuntimeException e) {
            if (!heartbeat.begun()) throw e;
            LOG.log(Level.WARNING, "generation failed", e);   // headers are sent: the error is the body
            heartbeat.finish(json.writeValueAsBytes(errorBody(new ApiException(500, "server_error", null, null, "generation failed: " + e.getMessage()))));
            return 500;
        }
        if (heartbeat.broken) {
            metrics.cancelled.increment();
            return 499;
        }
        matcher.flush();
        String text = matcher.text();
        ObjectNode logprobs = kept == null ? null : logprobs(s.model().tokenizer(), kept, r.chat(), new int[1]);

        var choice = json.createObjectNode().put("index", 0);
        if (r.chat()) {
            choice.putObject("message").put("role", "assistant").put("content", text);
        } else {
            choice.put("text", text);
        }
        choice.set("logprobs", logprobs);
        choice.put("finish_reason", finishReason(g, matcher));
        var out = json.createObjectNode().put("id", newId(r.chat() ? "chatcmpl-" : "cmpl-"))
                .put("object", r.chat() ? "chat.completion" : "text_completion")
                .put("created", System.currentTimeMillis() / 1000).put("model", s.id());
        out.putArray("choices").add(choice);
        out.set("usage", usage(ids.length, g.tokens().length));
        if (!heartbeat.begun()) return send(heartbeat.ex, 200, out);
        heartbeat.finish(json.writeValueAsBytes(out));
        return heartbeat.broken ? 499 : 200;
    }

    /**
     * A whole reply that keeps its client in view: the JDK's server shows a client's disconnect only to a write, and
     * a whole reply writes nothing until it is done. So once a request has waited a {@code period} (queued or
     * generating), its status line and headers go out (200, JSON, chunked) and then a space every period: JSON allows
     * whitespace before its value, and a write that fails tells that the client is gone. A reply done sooner is sent
     * as usual, with its length; a generation that fails after the headers has OpenAI's error object as its body.
     */
    private static final class Heartbeat {
        final HttpExchange ex;
        private final long period;
        private long last = System.nanoTime();
        private OutputStream out;
        volatile boolean broken;

        Heartbeat(HttpExchange ex, java.time.Duration period) {
            this.ex = ex;
            this.period = period.toNanos();
        }

        boolean begun() {
            return out != null;
        }

        void beatIfDue() {
            if (System.nanoTime() - last >= period) beat();
        }

        void beat() {
            write(new byte[] {' '});
        }

        void finish(byte[] body) {
            write(body);
            if (out != null) {
                try {
                    out.close();
                } catch (IOException e) {
                    broken = true;
                }
            }
        }

        private void write(byte[] bytes) {
            last = System.nanoTime();
            if (broken) return;
            try {
                if (out == null) {
                    ex.getResponseHeaders().set("Content-Type", "application/json");
                    ex.sendResponseHeaders(200, 0);
                    out = ex.getResponseBody();
                }
                out.write(bytes);
                out.flush();
            } catch (IOException e) {
                broken = true;
            }
        }
    }

    /**
     * The logprobs object of {@code tokens} in the endpoint's format (chat: {@code content}; legacy: {@code tokens},
     * {@code token_logprobs}, {@code top_logprobs}, {@code text_offset}), each computed by the engine from the logits
     * row its token was sampled from. {@code offset} holds the legacy text offset of the first token, counted from the
     * reply's start, and is advanced past the last, so a stream's chunks continue each other's offsets.
     */
    private ObjectNode logprobs(Tokenizer tok, List<TokenLogprobs> tokens, boolean chat, int[] offset) {
        var result = json.createObjectNode();
        ArrayNode content = chat ? result.putArray("content") : null;
        ArrayNode texts = chat ? null : result.putArray("tokens"), lps = chat ? null : result.putArray("token_logprobs");
        ArrayNode tops = chat ? null : result.putArray("top_logprobs"), offsets = chat ? null : result.putArray("text_offset");
        for (TokenLogprobs t : tokens) {
            String piece = text(tok, t.token());
            if (chat) {
                var e = content.addObject().put("token", piece).put("logprob", t.logprob());
                bytes(e.putArray("bytes"), tok, t.token());
                ArrayNode alts = e.putArray("top_logprobs");
                for (int i = 0; i < t.topIds().length; i++) {
                    var a = alts.addObject().put("token", text(tok, t.topIds()[i])).put("logprob", t.topLogprobs()[i]);
                    bytes(a.putArray("bytes"), tok, t.topIds()[i]);
                }
            } else {
                texts.add(piece);
                lps.add(t.logprob());
                var alts = tops.addObject();
                for (int i = 0; i < t.topIds().length; i++) alts.put(text(tok, t.topIds()[i]), t.topLogprobs()[i]);
                offsets.add(offset[0]);
                offset[0] += piece.length();
            }
        }
        return result;
    }

    private static String text(Tokenizer tok, int id) {
        return new String(tok.tokenBytes(id), StandardCharsets.UTF_8);
    }

    private static void bytes(ArrayNode into, Tokenizer tok, int id) {
        for (byte b : tok.tokenBytes(id)) into.add(b & 0xff);
    }

    /**
     * Server-sent events: the headers go out with the first write; a write that fails (the client went away) marks the
     * stream broken instead of throwing.
     */
    private final class Events {
        private final HttpExchange ex;
        private OutputStream out;
        volatile boolean broken;

        Events(HttpExchange ex) {
            this.ex = ex;
        }

        /** Sends the status line and headers, once. */
        void open() throws IOException {
            if (out != null) return;
            ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
            ex.getResponseHeaders().set("Cache-Control", "no-cache");
            ex.sendResponseHeaders(200, 0);
            out = ex.getResponseBody();
        }

        void send(String data) {
            write("data: " + data + "\n\n");
        }

        /** A comment line, which SSE clients ignore: a write that tells whether the client is still there. */
        void comment(String text) {
            write(": " + text + "\n\n");
        }

        private void write(String text) {
            if (broken) return;
            try {
                open();
                out.write(text.getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                broken = true;
            }
        }

        void send(JsonNode node) throws JsonProcessingException {
            send(json.writeValueAsString(node));
        }
    }

    /**
     * A streamed reply: each chunk goes out as soon as its text is certain (the stop matcher holds back none of it).
     * With logprobs each chunk carries those of the tokens generated since the previous chunk, as the engine handed
     * them over with each token, so a token whose text was held back (a possible start of a stop string, a partial
     * UTF-8 character) rides with the chunk that releases it, and those of text cut by a stop string go in a chunk
     * with empty text before the last one.
     */
    private int stream(Events events, Served s, CompletionRequest r, Session session, int[] ids, GenerateOptions options, List<String> stops) throws IOException {
        String id = newId(r.chat() ? "chatcmpl-" : "cmpl-");
        long created = System.currentTimeMillis() / 1000;
        events.open();
        if (r.chat()) events.send(chunk(r, s, id, created, "", true, null, null));
        var matcher = new StopMatcher(stops);
        Tokenizer tok = s.model().tokenizer();
        List<TokenLogprobs> unsent = r.logprobs() ? new ArrayList<>() : null;   // tokens whose chunk is not sent yet
        int[] offset = {0};   // the legacy text_offset of the next token
        TokenListener observer = afterStreamedToken;
        Generation g;
        try {
            g = session.generate(ids, options, new TokenListener() {
                @Override
                public void onToken(int tokenId, String piece) {
                    onToken(tokenId, piece, null);
                }

                @Override
                public void onToken(int tokenId, String piece, TokenLogprobs lp) {
                    if (matcher.stopped() || events.broken) return;
                    if (tokenId >= 0) {
                        metrics.token();
                        if (unsent != null) unsent.add(lp);
                    }
                    String t = matcher.accept(piece);
                    if (matcher.stopped()) session.cancel();
                    if (!t.isEmpty()) {
                        try {
                            events.send(chunk(r, s, id, created, t, false, null, take(tok, unsent, r.chat(), offset)));
                        } catch (JsonProcessingException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                    if (events.broken) session.cancel();   // the client went away: stop at once, free the session
                    if (observer != null) observer.onToken(tokenId, piece, lp);
                }
            });
        } catch (RuntimeException e) {   // headers are sent: the error goes in the stream
            LOG.log(Level.WARNING, "generation failed", e);
            events.send(errorBody(new ApiException(500, "server_error", null, null, "generation failed: " + e.getMessage())));
            return 500;
        }
        if (events.broken) {
            metrics.cancelled.increment();
            return 499;   // nginx's "client closed request": counted apart from completed streams
        }
        String tail = matcher.flush();
        if (!tail.isEmpty() || (unsent != null && !unsent.isEmpty())) events.send(chunk(r, s, id, created, tail, false, null, take(tok, unsent, r.chat(), offset)));
        events.send(chunk(r, s, id, created, null, false, finishReason(g, matcher), null));
        if (r.includeUsage()) {
            var u = base(r, s, id, created);
            u.putArray("choices");
            u.set("usage", usage(ids.length, g.tokens().length));
            events.send(u);
        }
        events.send("[DONE]");
        return events.broken ? 499 : 200;
    }

    /** The logprobs of the tokens not sent yet, which are then sent (null when the request asked for none). */
    private ObjectNode take(Tokenizer tok, List<TokenLogprobs> unsent, boolean chat, int[] offset) {
        if (unsent == null) return null;
        ObjectNode lp = logprobs(tok, unsent, chat, offset);
        unsent.clear();
        return lp;
    }

    private ObjectNode base(CompletionRequest r, Served s, String id, long created) {
        return json.createObjectNode().put("id", id).put("object", r.chat() ? "chat.completion.chunk" : "text_completion")
                .put("created", created).put("model", s.id());
    }

    /**
     * One streamed chunk: text (null in the last one), the role in the first chat chunk, the finish reason in the last,
     * the logprobs of its tokens when asked for (else null).
     */
    private ObjectNode chunk(CompletionRequest r, Served s, String id, long created, String text, boolean role, String finish, ObjectNode logprobs) {
        var c = base(r, s, id, created);
        var choice = c.putArray("choices").addObject().put("index", 0);
        if (r.chat()) {
            var delta = choice.putObject("delta");
            if (role) delta.put("role", "assistant");
            if (text != null) delta.put("content", text);
        } else {
            choice.put("text", text == null ? "" : text);
        }
        choice.set("logprobs", logprobs);
        choice.put("finish_reason", finish);
        if (r.includeUsage()) c.putNull("usage");
        return c;
    }

    // ------------------------------------------------------------------------------------------------- embeddings

    private int embeddings(HttpExchange ex, Served s, JsonNode body) throws Exception {
        if (!body.isObject()) throw ApiException.invalid(null, "the request body must be a JSON object");
        String model = Fields.string(body, "model", false);
        if (model != null && !model.equals(s.id())) throw unknownModel(model, s);
        JsonNode in = body.get("input");
        List<String> inputs = new ArrayList<>();
        if (in != null && in.isTextual()) {
            inputs.add(in.textValue());
        } else if (in != null && in.isArray() && !in.isEmpty() && in.size() <= 2048) {
            for (JsonNode e : in) {
                if (!e.isTextual()) throw ApiException.invalid("input", "'input' must be a string or an array of 1 to 2048 strings");
                inputs.add(e.textValue());
            }
        } else {
            throw ApiException.invalid("input", "'input' must be a string or an array of 1 to 2048 strings");
        }
        String format = Fields.string(body, "encoding_format", false);
        if (format != null && !format.equals("float") && !format.equals("base64")) {
            throw ApiException.invalid("encoding_format", "'encoding_format' must be float or base64");
        }
        String pool = Fields.string(body, "pooling", false);
        Pooling pooling = pool == null || pool.equals("mean") ? Pooling.MEAN : pool.equals("last") ? Pooling.LAST : null;
        if (pooling == null) throw ApiException.invalid("pooling", "'pooling' must be mean or last");
        Tokenizer tok = s.model().tokenizer();
        int ctx = s.pool().contextLength;
        List<int[]> ids = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            int[] t = tok.encode(inputs.get(i), tok.addBosByDefault(), false);
            if (t.length == 0) throw ApiException.invalid("input", "input " + i + " is empty");
            if (t.length > ctx) {
                throw new ApiException(400, "invalid_request_error", "input", "context_length_exceeded", "input " + i + " has " + t.length + " tokens; the context holds " + ctx);
            }
            ids.add(t);
        }
        var out = json.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        int tokens = 0;
        Session slot = s.pool().acquire();   // an embedding takes a sequence's place (its own KV cache) while it runs
        try {
            for (int i = 0; i < ids.size(); i++) {
                float[] v = s.model().embed(ids.get(i), pooling);
                tokens += ids.get(i).length;
                var e = data.addObject().put("object", "embedding").put("index", i);
                if ("base64".equals(format)) {
                    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                    for (float f : v) b.putFloat(f);
                    e.put("embedding", Base64.getEncoder().encodeToString(b.array()));
                } else {
                    ArrayNode a = e.putArray("embedding");
                    for (float f : v) a.add(f);
                }
            }
        } finally {
            s.pool().release(slot);
        }
        metrics.promptTokens.add(tokens);
        out.put("model", s.id());
        out.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        return send(ex, 200, out);
    }

    // ------------------------------------------------------------------------------------------------- replies

    private int send(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = json.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
        return status;
    }

    private ObjectNode errorBody(ApiException e) {
        var body = json.createObjectNode();
        body.putObject("error").put("message", e.getMessage()).put("type", e.type).put("param", e.param).put("code", e.code);
        return body;
    }

    /** The error as the reply, unless the reply has begun (then the connection just ends). */
    private void error(HttpExchange ex, ApiException e) {
        if (ex.getResponseCode() != -1) return;
        discard(ex);
        try {
            send(ex, e.status, errorBody(e));
        } catch (IOException ignored) {
            // the client is gone; nothing to tell it
        }
    }
}
