package dev.infercl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.Stories;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The CLI run in-process, exactly as {@code ./infercl ARGS} runs it (the launcher only adds JVM flags). */
class CliTest {

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        var out = new ByteArrayOutputStream();
        var err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @ParameterizedTest
    @CsvSource({"stories260K-f32.gguf, stories260K-f32", "stories260K-f16.gguf, stories260K-f16", "stories260K.bin, stories260K-f32"})
    void generateGreedyPrintsPromptThenReferenceText(String model, String ref) throws Exception {
        JsonNode r = Oracles.json(SharedData.require("reference/" + ref + ".json"));
        String m = SharedData.require("models/" + model).toString();
        String[] args = model.endsWith(".bin")
                ? new String[] {"generate", "-m", m, "--tokenizer", SharedData.require("models/tok512.bin").toString(), "-p", "Once upon a time", "-n", "200", "--temp", "0"}
                : new String[] {"generate", "-m", m, "-p", "Once upon a time", "-n", "200", "--temp", "0"};
        Result res = run(args);
        assertEquals(0, res.code(), res.err());
        assertEquals("Once upon a time" + r.get("greedy_text").asText() + "\n", res.out());
        assertTrue(res.err().contains("generated: 200 tokens"), res.err());
        assertTrue(res.err().contains("tokens/s"), res.err());
    }

    @Test
    void kvTypeI8OnTheCpuBackendIsNotedAndABadKvTypeIsAnError() throws Exception {
        String m = Stories.MODEL.toString();
        Result res = run("generate", "--backend", "cpu", "--kv-type", "i8", "-m", m, "-p", "Once upon a time", "-n", "3", "--temp", "0");
        assertEquals(0, res.code(), res.err());
        assertTrue(res.err().contains("the CPU backend keeps its KV cache in F32"), res.err());
        Result bad = run("generate", "--backend", "cpu", "--kv-type", "q4", "-m", m, "-p", "x", "-n", "1");
        assertTrue(bad.code() != 0 && bad.err().contains("--kv-type must be auto, f16, f32 or i8"), bad.err());
    }

    @ParameterizedTest
    @CsvSource({"stories260K-f32", "stories260K-f16"})
    void generateOnOpenClPrintsTheReferenceText(String model) throws Exception {
        dev.infercl.backend.opencl.ClTestSupport.requireOpenCl();
        JsonNode r = Oracles.json(SharedData.require("reference/" + model + ".json"));
        Result res = run("generate", "--backend", "opencl", "-m", SharedData.require("models/" + model + ".gguf").toString(),
                "-p", "Once upon a time", "-n", "200", "--temp", "0");
        assertEquals(0, res.code(), res.err());
        assertEquals("Once upon a time" + r.get("greedy_text").asText() + "\n", res.out());
        assertTrue(res.err().contains("backend: opencl"), res.err());
    }

    @Test
    void aRunAddsOnlyItsCommandAndHelpListsThemAll() {
        var all = Main.commandLine(new String[] {"--help"}).getSubcommands();
        assertEquals(Main.COMMANDS, java.util.List.copyOf(all.keySet()));
        all.forEach((name, sub) -> assertEquals(name, sub.getCommandSpec().userObject().getClass()
                .getAnnotation(picocli.CommandLine.Command.class).name(), "the name Main adds a command under is its own"));
        assertEquals(java.util.Set.of("generate"), Main.commandLine(new String[] {"generate", "-n", "1"}).getSubcommands().keySet());

        Result help = run("--help");
        assertEquals(0, help.code(), help.err());
        for (String name : Main.COMMANDS) assertTrue(help.out().contains("  " + name), name + " in " + help.out());
        Result sub = run("generate", "--help");
        assertEquals(0, sub.code(), sub.err());
        assertTrue(sub.out().startsWith("Usage: infercl generate"), sub.out());
        Result helpSub = run("help", "tokenize");
        assertTrue(helpSub.out().startsWith("Usage: infercl tokenize"), helpSub.out());
        Result typo = run("generat", "-n", "1");
        assertEquals(2, typo.code());
        assertTrue(typo.err().contains("'generat'") && typo.err().contains("Try 'infercl --help'"), typo.err());
    }

    @Test
    void verboseShowsKernelBuildsAndTheDefaultDoesNot() {
        dev.infercl.backend.opencl.ClTestSupport.requireOpenCl();
        String m = SharedData.require("models/stories260K-f32.gguf").toString();
        Result quiet = run("generate", "--backend", "opencl", "-m", m, "-n", "2", "--temp", "0");
        assertEquals(0, quiet.code(), quiet.err());
        assertFalse(quiet.err().contains("KernelLibrary"), quiet.err());
        Result verbose = run("generate", "--backend", "opencl", "-m", m, "-n", "2", "--temp", "0", "--verbose");
        assertEquals(0, verbose.code(), verbose.err());
        assertTrue(verbose.err().contains("infercl: fine: KernelLibrary: rmsnorm_f32_f32.cl ["), verbose.err());
        assertEquals(quiet.out(), verbose.out());
        Result after = run("generate", "--backend", "opencl", "-m", m, "-n", "2", "--temp", "0");
        assertFalse(after.err().contains("KernelLibrary"), "--verbose lasts one run: " + after.err());
    }

    @Test
    void devicesListsThePlatformsOrSaysWhy() {
        Result res = run("devices");
        assertEquals(0, res.code(), res.err());
        assertFalse(res.out().isBlank());
    }

    @Test
    void generateWithoutModelTellsTheEmbeddedStory() {
        System.setProperty("infercl.home", System.getProperty("user.dir"));
        Result res = run("generate", "--seed", "7", "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        assertTrue(res.out().startsWith("Once upon a time"), res.out());
        assertTrue(res.err().contains("embedded model") && res.err().contains("stories260K"), res.err());
        // without -n the story runs until the model ends it, not for a fixed 128 tokens
        assertTrue(res.err().contains("stop: end of generation"), res.err());
        assertTrue(res.out().split("\\s+").length > 100, "a story of more than 100 words: " + res.out());
        // a seed makes sampling reproducible
        assertEquals(res.out(), run("generate", "--seed", "7", "--backend", "cpu").out());
        // -n still bounds it
        Result short12 = run("generate", "-n", "12", "--seed", "7");
        assertEquals(0, short12.code(), short12.err());
        assertTrue(short12.err().contains("generated: 12 tokens"), short12.err());
    }

    @Test
    void generateNamesTheRandomSmokeModelExplicitly() {
        Result res = run("generate", "-m", "test-models/infercl-tiny-random.gguf", "-n", "12", "--seed", "7", "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        assertTrue(res.out().startsWith("Once upon a time"), res.out());
        assertTrue(res.err().contains("generated: 12 tokens"), res.err());
        assertFalse(res.err().contains("embedded model"), res.err());
    }

    @Test
    void convertExplainsBadArgumentsInOneLine(@TempDir Path dir) {
        Result type = run("convert", "-m", "x.bin", "--tokenizer", "t.bin", "-o", dir.resolve("o.gguf").toString(), "--type", "q8_0");
        assertEquals(1, type.code());
        assertTrue(type.err().contains("--type must be f32 or f16"), type.err());
        Result missing = run("convert", "-m", dir.resolve("nope.bin").toString(), "--tokenizer", "t.bin", "-o", dir.resolve("o.gguf").toString());
        assertEquals(1, missing.code());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());
        assertTrue(missing.err().contains("nope.bin: no such file"), missing.err());
        Result usage = run("convert", "-m", "x.bin");
        assertEquals(2, usage.code(), usage.err());
    }

    @Test
    void infoDescribesTensorsAndMetadata() {
        Result res = run("info", SharedData.require("quant/llama2-q4_0.gguf").toString());
        assertEquals(0, res.code(), res.err());
        assertTrue(res.out().contains("general.architecture"), res.out());
        assertTrue(res.out().matches("(?s).*blk\\.0\\.attn_q\\.weight\\s+Q4_0\\s+\\[128, 128\\].*"), res.out());
        assertTrue(res.out().contains("39 tensors"), res.out());
    }

    /** A mixed file as llama-quantize writes one: after the tensors, each type's tensor count and bytes. */
    @Test
    void infoSummarisesEachTypeOfAMixedFile() {
        Result res = run("info", SharedData.require("kquant/llama2k-q4_k_m.gguf").toString());
        assertEquals(0, res.code(), res.err());
        assertTrue(res.out().matches("(?s).*blk\\.0\\.attn_q\\.weight\\s+Q4_K\\s+\\[256, 256\\].*"), res.out());
        String types = res.out().substring(res.out().indexOf("\ntypes:\n"));
        assertEquals(List.of("types:", "  F32: 9 tensors, 9.0 KiB", "  Q4_K: 25 tensors, 5.84 MiB", "  Q6_K: 5 tensors, 6.77 MiB"),
                types.strip().lines().toList(), res.out());
        assertFalse(res.out().contains("not supported"), res.out());
    }

    /** A type no backend computes is marked in the tensor list and in the summary; one tensor reads "1 tensor". */
    @Test
    void infoMarksTypesNotComputed(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("mixed.gguf");
        new dev.infercl.gguf.GgufWriter().putString("general.architecture", "llama")
                .addTensor("a.weight", dev.infercl.gguf.GgmlType.Q5_K, new long[] {256, 4}, new byte[176 * 4])
                .addTensor("b.weight", dev.infercl.gguf.GgmlType.Q5_K, new long[] {512, 2}, new byte[176 * 4])
                .addTensor("c.weight", dev.infercl.gguf.GgmlType.IQ2_XXS, new long[] {256, 1}, new byte[66])
                .addTensor("d.weight", dev.infercl.gguf.GgmlType.IQ4_NL, new long[] {32, 3}, new byte[18 * 3])
                .write(p);
        Result res = run("info", p.toString());
        assertEquals(0, res.code(), res.err());
        assertTrue(res.out().matches("(?s).*c\\.weight\\s+IQ2_XXS.*\\(type not supported for compute\\)\n.*"), res.out());
        String types = res.out().substring(res.out().indexOf("\ntypes:\n"));
        assertEquals(List.of("types:", "  Q5_K: 2 tensors, 1.4 KiB", "  IQ2_XXS: 1 tensor, 66 bytes (not supported for compute)",
                "  IQ4_NL: 1 tensor, 54 bytes"), types.strip().lines().toList(), res.out());
    }

    @Test
    void tokenizeWorksOnAVocabOnlyFile() {
        Result res = run("tokenize", "-m", SharedData.require("vocab/ggml-vocab-llama-spm.gguf").toString(), "--ids", "--bos", "Hello world");
        assertEquals(0, res.code(), res.err());
        assertEquals("[1, 15043, 3186]", res.out().strip());
        Result pieces = run("tokenize", "-m", SharedData.require("vocab/ggml-vocab-llama-spm.gguf").toString(), "Hello world");
        assertTrue(pieces.out().contains("15043 -> '▁Hello'"), pieces.out());
    }

    @Test
    void logitsJsonMatchesTheReference() throws Exception {
        JsonNode r = Oracles.json(Stories.REFERENCE);
        float[][] expected = Oracles.floatRows(Stories.LOGITS, 512);
        int[] ids = Oracles.ints(r.get("prompt_ids"));
        String list = String.join(",", java.util.Arrays.stream(ids).mapToObj(String::valueOf).toList());
        Result res = run("logits", "-m", Stories.MODEL.toString(), "--ids", list, "--top", "5", "--json", "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        JsonNode j = new ObjectMapper().readTree(res.out());
        assertEquals(ids.length, j.get("positions").size());
        for (int p = 0; p < ids.length; p++) {
            JsonNode top = j.get("positions").get(p).get("top");
            assertEquals(5, top.size());
            int best = 0;
            for (int v = 1; v < 512; v++) if (expected[p][v] > expected[p][best]) best = v;
            assertEquals(best, top.get(0).get("id").asInt(), "top-1 at position " + p);
            for (JsonNode e : top) assertEquals(expected[p][e.get("id").asInt()], e.get("logit").asDouble(), 1e-3);
        }
    }

    @Test
    void errorsAreOneLineWithoutStackTrace(@TempDir Path dir) throws Exception {
        Result missing = run("generate", "-m", dir.resolve("nope.gguf").toString());
        assertEquals(1, missing.code());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());
        assertTrue(missing.err().contains("nope.gguf"), missing.err());

        Path bad = dir.resolve("bad.gguf");
        Files.write(bad, new byte[] {'G', 'G', 'U', 'F', 9, 0, 0, 0});
        Result badRes = run("info", bad.toString());
        assertEquals(1, badRes.code());
        assertTrue(badRes.err().startsWith("infercl: error: ") && badRes.err().contains("version"), badRes.err());
        assertFalse(badRes.err().contains("\tat "), badRes.err());

        Result verbose = run("info", bad.toString(), "--verbose");
        assertTrue(verbose.err().contains("\tat "), "--verbose prints the stack trace");

        Result usage = run("generate", "--temp", "abc");
        assertEquals(2, usage.code());
    }

    @Test
    void benchJsonHasTheRooflineFields() throws Exception {
        Result res = run("bench", "-m", Stories.MODEL.toString(), "-p", "8,32", "-n", "8", "-r", "2",
                "--long-ctx", "100", "--json", "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        JsonNode j = new ObjectMapper().readTree(res.out());
        for (String key : new String[] {"tg_tokens_per_s", "bandwidth_gb_per_s", "roofline_fraction", "peak_host_bytes", "tg_long_tokens_per_s", "tg_cpu_ms_per_token"}) {
            assertTrue(j.get(key).asDouble() > 0, key + " in " + res.out());
        }
        assertTrue(j.get("pp_tokens_per_s").get("32").asDouble() > 0, res.out());
        // long-context ÷ short-context decode, the median over the back-to-back pairs of runs
        double ratio = j.get("tg_long_ratio").asDouble();
        assertTrue(ratio > 0 && Double.isFinite(ratio), res.out());
        // probed before and after the decode runs where the peak-memory mark can be reset around the first probe;
        // the roofline uses the higher reading
        JsonNode probes = j.get("bandwidth_probes_gb_per_s");
        boolean resettable = java.nio.file.Files.isWritable(java.nio.file.Path.of("/proc/self/clear_refs"));
        assertEquals(resettable ? 2 : 1, probes.size(), res.out());
        double max = 0;
        for (JsonNode p : probes) {
            assertTrue(p.asDouble() > 0, res.out());
            max = Math.max(max, p.asDouble());
        }
        assertEquals(max, j.get("bandwidth_gb_per_s").asDouble(), 1e-9, res.out());
        // a decode step reads every weight once: 5 layers of (2·64·64 + 2·64·32 + 3·64·172 + 2·64) F32 values, then the
        // output norm and the tied 512 × 64 classifier, plus a little KV cache
        long weights = 4L * (5 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 172 + 2 * 64) + 64 + 512 * 64);
        assertEquals(weights, j.get("weight_bytes").asLong(), res.out());
        assertTrue(j.get("bytes_per_token").asLong() > weights, res.out());
        // the compute roofline of a prefill of p tokens: per token the layers' products (5 · (2·64·64 + 2·64·32 +
        // 3·64·172) multiply-adds), the classifier's once per prompt (512 · 64 / p) and attention's over (p + 1) / 2
        // positions on average (5 layers · 2 · 64 · (p + 1) / 2), all F32 here, at the probed F32 rate
        double rate = j.get("multiply_adds_per_s").get("F32").asDouble();
        assertTrue(rate > 1e8, res.out());
        for (int p : new int[] {8, 32}) {
            double macs = 5.0 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 172) + 512.0 * 64 / p + 5.0 * 64 * (p + 1);
            double roofline = j.get("pp_roofline_tokens_per_s").get(String.valueOf(p)).asDouble();
            assertEquals(rate / macs, roofline, 1e-9 * rate / macs, res.out());
            assertEquals(j.get("pp_tokens_per_s").get(String.valueOf(p)).asDouble() / roofline,
                    j.get("pp_roofline_fraction").get(String.valueOf(p)).asDouble(), 1e-9, res.out());
        }
    }

    @Test
    void benchSweepsDecodeAgainstContextLength() throws Exception {
        Result res = run("bench", "-m", Stories.MODEL.toString(), "--ctx-sweep", "64,16,128", "-n", "4", "--json", "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        JsonNode sweep = new ObjectMapper().readTree(res.out()).get("ctx_sweep_tokens_per_s");
        assertEquals(List.of("16", "64", "128"), iterate(sweep.fieldNames()), "the depths, in ascending order: " + res.out());
        for (JsonNode rate : sweep) assertTrue(rate.asDouble() > 0, res.out());
        Result zero = run("bench", "-m", Stories.MODEL.toString(), "--ctx-sweep", "0", "--backend", "cpu");
        assertTrue(zero.code() != 0 && zero.err().contains("--ctx-sweep"), "a depth of 0 is refused: " + zero.err());
    }

    /** Runs the parallel decode measurement (shape of its output only: figures come from a quiet machine). */
    @Test
    void benchMeasuresAggregateDecodeOfParallelSequences() throws Exception {
        Result res = run("bench", "-m", Stories.MODEL.toString(), "--parallel", "1,4", "-n", "6", "-r", "1", "--json", "--backend", "cpu");
        assertEquals(0, res.code(), res.err());
        JsonNode rates = new ObjectMapper().readTree(res.out()).get("parallel_tokens_per_s");
        assertEquals(List.of("1", "4"), iterate(rates.fieldNames()), res.out());
        for (JsonNode rate : rates) assertTrue(rate.asDouble() > 0, res.out());
        Result zero = run("bench", "-m", Stories.MODEL.toString(), "--parallel", "0", "--backend", "cpu");
        assertTrue(zero.code() != 0 && zero.err().contains("--parallel"), "a count of 0 is refused: " + zero.err());
    }

    static List<String> iterate(java.util.Iterator<String> it) {
        var l = new java.util.ArrayList<String>();
        it.forEachRemaining(l::add);
        return l;
    }

    @Test
    void chatReadsMessagesFromStdinAndKeepsTheConversation() {
        var saved = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("Hello world\n/reset\nThe quick brown fox\n/exit\nignored\n".getBytes(StandardCharsets.UTF_8)));
            Result res = run("chat", "-m", SharedData.require("arch/phi3.gguf").toString(), "--temp", "0", "-n", "6", "--backend", "cpu", "--no-interactive");
            assertEquals(0, res.code(), res.err());
            assertEquals(2, res.out().lines().count(), "one reply line per message: " + res.out());
            assertTrue(res.err().contains("(conversation reset)"), res.err());
        } finally {
            System.setIn(saved);
        }
    }

    /**
     * synth --type with a K mix: the F16 model quantized as infercl quantize does (the same bytes as quantizing
     * synth's F16 file), with llama.cpp's file type; no temporary file is left; the model loads and generates.
     */
    @ParameterizedTest
    @CsvSource({"q4_k_m, 15, Q6_K", "q2_k, 10, Q4_K"})
    void synthWritesKQuantMixes(String type, int fileType, GgmlType attnV1, @TempDir Path tmp) throws Exception {
        String[] shape = {"--dim", "256", "--layers", "2", "--heads", "4", "--kv-heads", "1", "--ffn", "512", "--vocab", "300", "--ctx", "64", "--seed", "5"};
        Path mix = tmp.resolve("synth-" + type + ".gguf"), f16 = tmp.resolve("synth-f16.gguf"), viaQuantize = tmp.resolve("synth-f16-" + type + ".gguf");
        Result r = run(concat(new String[] {"synth", "--type", type, "-o", mix.toString()}, shape));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("quantized to " + type), r.err());
        assertEquals(List.of(mix.getFileName().toString()), Files.list(tmp).map(p -> p.getFileName().toString()).filter(n -> n.startsWith("synth-" + type)).toList());
        assertEquals(0, run(concat(new String[] {"synth", "--type", "f16", "-o", f16.toString()}, shape)).code());
        assertEquals(0, run("quantize", "-m", f16.toString(), "-o", viaQuantize.toString(), "--scheme", type).code());
        try (GgufFile a = GgufFile.open(mix); GgufFile b = GgufFile.open(viaQuantize)) {
            assertEquals(fileType, a.getInt("general.file_type"));
            assertEquals(GgmlType.Q6_K, a.tensor("output.weight").orElseThrow().type());
            assertEquals(attnV1, a.tensor("blk.1.attn_v.weight").orElseThrow().type(), "the last layer's attn_v (q4_k_m: use_more_bits; q2_k: 4 query heads per KV head)");
            for (TensorInfo t : b.tensors()) {
                TensorInfo m = a.tensor(t.name()).orElseThrow();
                assertEquals(t.type(), m.type(), t.name());
                assertEquals(-1, a.data(m).mismatch(b.data(t)), t.name());
            }
        }
        Result g = run("generate", "-m", mix.toString(), "--backend", "cpu", "-p", "the little dog", "-n", "5", "--temp", "0");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.err().contains("generated: 5 tokens"), g.err());
    }

    private static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
