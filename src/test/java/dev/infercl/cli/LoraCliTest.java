package dev.infercl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.gguf.GgmlType;
import dev.infercl.model.LoraAdapterTest;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --lora / --lora-scaled on the commands that run a model, and lora merge, on the smoke model with an adapter written here. */
class LoraCliTest {
    static final String MODEL = LoraAdapterTest.MODEL.toString();
    static final String IDS = "1,17,42,99,311,7";

    @TempDir
    Path dir;

    private Path adapter() throws Exception {
        Path p = dir.resolve("ffn.gguf");
        LoraAdapterTest.adapter(LoraAdapterTest.targets(true, true), 4, 8f, GgmlType.F32, 11).write(p);
        return p;
    }

    private static JsonNode logits(String... extra) throws Exception {
        var args = new java.util.ArrayList<>(java.util.List.of("logits", "-m", MODEL, "--ids", IDS, "--top", "3", "--json", "--backend", "cpu"));
        args.addAll(java.util.List.of(extra));
        var r = CliTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return new ObjectMapper().readTree(r.out()).get("positions");
    }

    @Test
    void logitsWithAdaptersAndTheMergedModel() throws Exception {
        String a = adapter().toString();
        JsonNode base = logits(), zero = logits("--lora-scaled", a, "0"), one = logits("--lora", a);
        JsonNode twice = logits("--lora-scaled", a, "0.5", "--lora-scaled", a, "0.5");
        // scale 0 is the base model (to rounding: separate runs may differ in the last bit as the JIT recompiles the products)
        for (int p = 0; p < base.size(); p++) {
            JsonNode x = base.get(p).get("top"), y = zero.get(p).get("top");
            for (int k = 0; k < x.size(); k++) {
                assertEquals(x.get(k).get("id"), y.get(k).get("id"));
                assertEquals(x.get(k).get("logit").asDouble(), y.get(k).get("logit").asDouble(), 1e-6);
            }
        }
        assertNotEquals(base, one, "the adapter changes the logits");
        Path merged = dir.resolve("merged.gguf");
        var r = CliTest.run("lora", "merge", "-m", MODEL, "--lora", a, "-o", merged.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("wrote " + merged) && r.out().contains("F32"), r.out());
        var m = new ObjectMapper().readTree(CliTest.run("logits", "-m", merged.toString(), "--ids", IDS, "--top", "3", "--json", "--backend", "cpu").out()).get("positions");
        for (int p = 0; p < one.size(); p++) {
            for (JsonNode[] pair : new JsonNode[][] {{one, m}, {one, twice}}) {
                JsonNode x = pair[0].get(p).get("top"), y = pair[1].get(p).get("top");
                assertEquals(x.get(0).get("id"), y.get(0).get("id"), "top-1 at " + p);
                assertEquals(x.get(0).get("logit").asDouble(), y.get(0).get("logit").asDouble(), 1e-4 * Math.abs(x.get(0).get("logit").asDouble()) + 1e-5);
            }
        }
    }

    @Test
    void generateAndEvalRunWithAnAdapter() throws Exception {
        String a = adapter().toString();
        var g = CliTest.run("generate", "-m", MODEL, "-p", "hello", "-n", "8", "--temp", "0", "--backend", "cpu", "--lora-scaled", a, "0.5");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().startsWith("hello"), g.out());
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "the cat sat on the mat and the dog ran after it. ".repeat(4));
        var e = CliTest.run("eval", "-m", MODEL, "-f", text.toString(), "--backend", "cpu", "-c", "32", "--lora", a);
        assertEquals(0, e.code(), e.err());
        assertTrue(e.out().contains("perplexity"), e.out());
    }

    @Test
    void chatRunsWithAnAdapter() throws Exception {
        var saved = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("hello there\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            var r = CliTest.run("chat", "-m", MODEL, "--template", "chatml", "--temp", "0", "-n", "4", "--backend", "cpu", "--no-interactive", "--lora", adapter().toString());
            assertEquals(0, r.code(), r.err());
            assertEquals(1, r.out().lines().count(), r.out());
        } finally {
            System.setIn(saved);
        }
    }

    @Test
    void badAdaptersAndScalesAreOneLineErrors() throws Exception {
        var r = CliTest.run("logits", "-m", MODEL, "--ids", IDS, "--backend", "cpu", "--lora", MODEL);
        assertNotEquals(0, r.code());
        assertTrue(r.err().contains("'general.type'") && r.err().contains("not a LoRA adapter"), r.err());
        r = CliTest.run("logits", "-m", MODEL, "--ids", IDS, "--backend", "cpu", "--lora-scaled", adapter().toString(), "strong");
        assertNotEquals(0, r.code());
        assertTrue(r.err().contains("--lora-scaled") && r.err().contains("not a number"), r.err());
        r = CliTest.run("lora", "merge", "-m", MODEL, "-o", dir.resolve("x.gguf").toString());
        assertNotEquals(0, r.code());
        assertTrue(r.err().contains("--lora"), r.err());
        r = CliTest.run("lora");
        assertNotEquals(0, r.code());
        assertTrue(r.err().contains("merge"), r.err());
        r = CliTest.run("lora", "merge", "--help");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("--lora-scaled") && r.out().contains("--type"), r.out());
        r = CliTest.run("generate", "--help");
        assertTrue(r.out().contains("--lora-scaled=FILE SCALE") || r.out().contains("--lora-scaled FILE SCALE"), r.out());
    }
}
