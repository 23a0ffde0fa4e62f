package dev.infercl.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Stories;
import dev.infercl.api.Pooling;
import dev.infercl.cli.Main;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The official OpenAI Node client ({@code openai} on npm) streams a chat from the server and embeds two texts
 * (src/test/node/chat.mjs): the streamed text equals what {@code infercl chat} prints for the same message and seed.
 * Skips, saying why, when node or the package is missing: .ci/run installs it with
 * {@code npm install --prefix target/node openai@VERSION}; {@code -Dinfercl.test.nodePrefix=DIR} names another prefix.
 */
@Timeout(300)
class NodeClientTest {
    static final String MESSAGE = "Tell me a story about a brave little cat.";
    static final int SEED = 42, MAX_TOKENS = 64;

    @Test
    void theOpenAiNodeClientStreamsTheCliText() throws Exception {
        Path prefix = Path.of(System.getProperty("infercl.test.nodePrefix", "target/node")).toAbsolutePath();
        String node = System.getProperty("infercl.test.node", "node");
        try {
            var p = new ProcessBuilder(node, "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) Assumptions.abort("skipped: '" + node + " --version' failed");
        } catch (java.io.IOException e) {
            Assumptions.abort("skipped: no node on the PATH (" + e.getMessage() + "); the OpenAI Node client test needs Node.js ≥ 20");
        }
        if (!Files.isRegularFile(prefix.resolve("node_modules/openai/package.json"))) {
            Assumptions.abort("skipped: the openai package is not installed under " + prefix
                    + " (npm install --prefix target/node openai@5.23.2, as .ci/run does)");
        }

        // what the CLI prints for the message: one reply line
        var out = new ByteArrayOutputStream();
        var saved = System.in;
        int code;
        try {
            System.setIn(new ByteArrayInputStream((MESSAGE + "\n").getBytes(StandardCharsets.UTF_8)));
            code = Main.run(new String[] {"chat", "-m", Stories.MODEL.toString(), "--backend", "cpu", "--no-interactive", "--seed", "" + SEED,
                            "-n", "" + MAX_TOKENS, "--temp", "0.8", "--top-k", "40", "--top-p", "0.95", "--min-p", "0.05"},
                    new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        } finally {
            System.setIn(saved);
        }
        assertEquals(0, code);
        String cli = out.toString(StandardCharsets.UTF_8);
        assertTrue(cli.endsWith("\n"), cli);
        cli = cli.substring(0, cli.length() - 1);

        try (var f = new ServerFixture(ServerFixture.options())) {
            // ESM resolves 'openai' from the script's folder up: the script runs from the prefix
            Path script = prefix.resolve("infercl-chat.mjs");
            Files.copy(Path.of("src/test/node/chat.mjs"), script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            var pb = new ProcessBuilder(node, script.toString()).directory(prefix.toFile());
            pb.environment().put("INFERCL_BASE_URL", f.server.uri() + "/v1");
            pb.environment().put("INFERCL_API_KEY", ServerFixture.KEY);
            pb.environment().put("INFERCL_MESSAGE", MESSAGE);
            pb.environment().put("INFERCL_SEED", "" + SEED);
            pb.environment().put("INFERCL_MAX_TOKENS", "" + MAX_TOKENS);
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
            Process p = pb.start();
            String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "node finished");
            assertEquals(0, p.exitValue(), stdout);
            JsonNode r = ServerFixture.json(stdout.strip().lines().reduce((a, b) -> b).orElseThrow());
            assertEquals("stories260K", r.path("model").asText());
            assertEquals(cli, r.path("text").asText(), "the streamed chat equals infercl chat's reply");
            assertTrue(r.path("text").asText().length() > 0);
            assertTrue(r.path("usage").path("completion_tokens").asInt() > 0, stdout);
            assertTrue(r.path("finish").isTextual(), stdout);
            int dim = f.model.config().dim();
            assertEquals(dim, r.path("embeddings").path(0).asInt());
            assertEquals(dim, r.path("embeddings").path(1).asInt());
            float[] want = f.model.embed("The sun was hot.", Pooling.MEAN);
            for (int i = 0; i < 4; i++) assertEquals(want[i], r.path("firstEmbedding").path(i).floatValue(), 1e-6f);
        }
    }
}
