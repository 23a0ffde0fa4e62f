package dev.infercl.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.Stories;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.engine.SamplerOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** stories260K on the CPU backend (loaded with the server's parallel sequences) behind an {@link OpenAiServer} on a loopback port, and an HTTP client for it. */
final class ServerFixture implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY = "test-key";
    final Model model;
    final OpenAiServer server;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    ServerFixture(ServerOptions options) throws IOException {
        // as infercl serve loads it: the sessions batched by the scheduler
        model = Model.load(Stories.MODEL, LoadOptions.defaults().withBackend(BackendKind.CPU).withParallel(options.parallel()));
        server = OpenAiServer.start(options.withPort(0));
        server.ready(model);
    }

    static ServerOptions options() {
        return ServerOptions.defaults().withParallel(4, 64).withApiKey(KEY).withContextLength(256).withMaxBodyBytes(64 << 10);
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(120)).header("Authorization", "Bearer " + KEY);
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return http.send(request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** A connection on which a POST /v1/completions of {@code body} has been written as a raw HTTP/1.1 request. */
    Socket postRaw(String body) throws IOException {
        var uri = server.uri();
        Socket s = new Socket(uri.getHost(), uri.getPort());
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        OutputStream out = s.getOutputStream();
        out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(b);
        out.flush();
        return s;
    }

    /** What the connection delivers until {@code done} holds for all of it (or the stream ends). */
    static String readUntil(Socket s, Predicate<String> done) throws IOException {
        InputStream in = s.getInputStream();
        var seen = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            seen.append((char) c);
            if (done.test(seen.toString())) break;
        }
        return seen.toString();
    }

    /** Sends a streaming request over a raw socket, reads until the first event, and resets the connection. */
    void disconnectAfterFirstChunk(String body) throws IOException {
        try (Socket s = postRaw(body)) {
            readUntil(s, seen -> seen.contains("data: ") && seen.endsWith("\n\n"));
            s.setSoLinger(true, 0);   // a reset, as a client that dies does
        }
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(String s) throws IOException {
        return JSON.readTree(s);
    }

    /** The data lines of a server-sent event stream (without "data: "). */
    static List<String> events(String body) {
        var out = new ArrayList<String>();
        for (String line : body.split("\n")) if (line.startsWith("data: ")) out.add(line.substring(6));
        return out;
    }

    /** The text a stream carried: the chunks' delta contents (chat) or texts (completions), concatenated. */
    static String streamedText(String body) throws IOException {
        var b = new StringBuilder();
        for (String e : events(body)) {
            if (e.equals("[DONE]")) break;
            JsonNode c = json(e);
            for (JsonNode choice : c.path("choices")) {
                JsonNode t = choice.has("delta") ? choice.path("delta").path("content") : choice.path("text");
                if (t.isTextual()) b.append(t.asText());
            }
        }
        return b.toString();
    }

    /** What Session.generate gives for the prompt alone, with the server's options for these fields. */
    String alone(String prompt, int maxTokens, float temperature, int topK, float topP, float minP, long seed) {
        try (Session s = model.newSession(256)) {
            return s.generate(prompt, new GenerateOptions(maxTokens, new SamplerOptions(temperature, topK, topP, minP, 1f, 64, seed), null, true), null).text();
        }
    }

    /** A metric's value from /metrics. */
    double metric(String line) throws IOException, InterruptedException {
        for (String l : get("/metrics").body().split("\n")) {
            if (l.startsWith(line + " ")) return Double.parseDouble(l.substring(line.length() + 1));
        }
        return Double.NaN;
    }

    @Override
    public void close() {
        server.close();
        model.close();
    }
}
