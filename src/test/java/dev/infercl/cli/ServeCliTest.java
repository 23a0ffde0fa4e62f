package dev.infercl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.Stories;
import dev.infercl.api.BackendKind;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Pooling;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code infercl serve} and {@code infercl embed} run in-process as the launcher runs them. */
@Timeout(120)
class ServeCliTest {

    @Test
    void embedPrintsOneNormalisedVectorPerText() throws Exception {
        var r = CliTest.run("embed", "-m", Stories.MODEL.toString(), "--backend", "cpu", "--pooling", "last", "Lily had a red ball.", "The sun was hot.");
        assertEquals(0, r.code(), r.err());
        var lines = r.out().lines().toList();
        assertEquals(2, lines.size());
        var json = new ObjectMapper();
        try (Model m = Model.load(Stories.MODEL, LoadOptions.defaults().withBackend(BackendKind.CPU))) {
            float[] want = m.embed("The sun was hot.", Pooling.LAST);
            var got = json.readTree(lines.get(1));
            assertEquals(want.length, got.size());
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got.get(i).floatValue(), 1e-6f);
        }
        var bad = CliTest.run("embed", "-m", Stories.MODEL.toString(), "--pooling", "max", "x");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("--pooling must be mean or last"), bad.err());
    }

    /** The server starts, says where it listens, serves with the key it was given, and stops when its thread is interrupted. */
    @Test
    void serveListensOnLoopbackAndAnswers() throws Exception {
        var err = new StringBuffer();
        OutputStream sink = new OutputStream() {
            @Override
            public void write(int b) {
                err.append((char) b);
            }
        };
        int[] code = {-1};
        Thread t = Thread.ofPlatform().start(() -> code[0] = Main.run(new String[] {"serve", "-m", Stories.MODEL.toString(), "--backend", "cpu",
                "--port", "0", "--parallel", "2", "--api-key", "k1", "-c", "128"}, new PrintStream(new ByteArrayOutputStream()), new PrintStream(sink, true)));
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!err.toString().contains("infercl: serving") && t.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
        var m = Pattern.compile("listening on (http://127\\.0\\.0\\.1:\\d+)").matcher(err);
        assertTrue(m.find(), err.toString());
        URI base = URI.create(m.group(1));
        assertTrue(err.toString().contains("2 sequence(s) of 128 tokens, API key required"), err.toString());
        var http = HttpClient.newHttpClient();
        assertEquals(200, http.send(HttpRequest.newBuilder(base.resolve("/health")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(401, http.send(HttpRequest.newBuilder(base.resolve("/v1/models")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        var r = http.send(HttpRequest.newBuilder(base.resolve("/v1/completions")).header("Authorization", "Bearer k1")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": \"Once upon a time\", \"max_tokens\": 5, \"temperature\": 0}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        t.interrupt();
        t.join(30_000);
        assertTrue(!t.isAlive(), "serve stops when interrupted");
    }

    @Test
    void badServeOptionsAreOneLine() {
        var r = CliTest.run("serve", "-m", Stories.MODEL.toString(), "--parallel", "0");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--parallel must be ≥ 1"), r.err());
    }
}
