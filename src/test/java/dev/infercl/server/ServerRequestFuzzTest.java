package dev.infercl.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.FuzzSupport;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The server's request handling with fuzzed requests: stories260K behind an {@link OpenAiServer} on loopback (a
 * context of 64, so that any generation a body asks for stays short), and each input sent as one POST. An input is
 * a selector byte, then the body: bits 0–1 of the selector pick the endpoint (chat completions, completions,
 * embeddings, an unknown path), bit 2 leaves the API key out, bit 3 sends a wrong one.
 *
 * <p>Invariants: every answer is 200 or a 4xx (never a 5xx: a body cannot break the server), a 4xx carries OpenAI's
 * error body naming a message, a whole 200 is a JSON object and a streamed one ends with {@code data: [DONE]}; each
 * ends within the per-input bound; and after any input the server still answers a plain completion.
 *
 * <p>Seeds under src/test/resources/dev/infercl/server/ServerRequestFuzzTestInputs/post: a valid request of each
 * kind, streamed and not, with the sampling fields, and the fuzzer's finds.
 */
class ServerRequestFuzzTest {
    private static final List<String> PATHS = List.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/nothing");
    private static ServerFixture server;

    @BeforeAll
    static void start() throws IOException {
        server = new ServerFixture(ServerFixture.options().withContextLength(64).withParallel(2, 8));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @FuzzTest
    void post(byte[] data) {
        int selector = data.length > 0 ? data[0] & 0xFF : 0;
        byte[] body = data.length > 0 ? java.util.Arrays.copyOfRange(data, 1, data.length) : data;
        FuzzSupport.bounded(() -> {
            String path = PATHS.get(selector & 3);
            var request = HttpRequest.newBuilder(server.server.uri().resolve(path)).timeout(java.time.Duration.ofSeconds(30))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body));
            if ((selector & 4) == 0) request.header("Authorization", "Bearer " + ((selector & 8) == 0 ? ServerFixture.KEY : "wrong"));
            HttpResponse<String> r = server.http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            check(r);
            // the server still serves
            HttpResponse<String> after = server.post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 2, \"seed\": 1}");
            assertEquals(200, after.statusCode(), after.body());
        });
    }

    private static void check(HttpResponse<String> r) throws IOException {
        int status = r.statusCode();
        String text = r.body();
        if (status >= 400 && status < 500) {
            JsonNode error = ServerFixture.json(text).path("error");
            assertTrue(error.path("message").isTextual() && !error.path("message").asText().isEmpty(), text);
            assertTrue(error.path("type").isTextual(), text);
        } else if (status == 200) {
            if (r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
                List<String> events = ServerFixture.events(text);
                assertTrue(!events.isEmpty() && events.getLast().equals("[DONE]"), text);
            } else {
                assertTrue(ServerFixture.json(text).isObject(), text);
            }
        } else {
            fail("status " + status + ": " + text);
        }
    }
}
