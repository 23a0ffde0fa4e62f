package dev.infercl.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.LlamaCpp;
import dev.infercl.SharedData;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.engine.SamplerOptions;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.model.SyntheticModel;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The K-quant mixes against llama.cpp's own {@code llama-quantize} (../shared/anchors/llama.cpp; skipped where it is
 * absent): for the same F16 model and scheme, every tensor of InferCL's file has llama-quantize's type and bytes;
 * the files load and generate in {@code llama-cli}; and on the trained story model (as it is, 64 wide, and widened
 * to 256) InferCL's file is as close to the F16 original (mean KLD of the next-token distributions,
 * {@link Evaluator}) as llama-quantize's, within 10%.
 */
class KQuantSchemesTest {

    static final String[] SCHEMES = {"q4_k_m", "q5_k_m", "q6_k", "q4_k_s", "q3_k_m", "q2_k"};

    @TempDir static Path dir;

    /**
     * Synthetic F16 models: {@code gqa4} 8 layers, 8 query heads on 2 KV heads, every row a multiple of 256 (the
     * layer-dependent rules, Q2_K's GQA rule); {@code ffn704} 4 layers, FFN width 704 (ffn_down falls back); {@code tied}
     * without output.weight (token_embd is then the output matrix). The comparison also runs on
     * ../shared/models/stories260K-f32.gguf: an F32 source whose rows of 64 and 172 take the fallbacks, F16 included.
     */
    static final Map<String, Path> MODELS = new HashMap<>();

    @BeforeAll
    static void models() throws Exception {
        MODELS.put("gqa4", write(new SyntheticModel.Spec("kq-gqa4", 256, 8, 8, 2, 768, 1000, 128, GgmlType.F16, 21)));
        MODELS.put("ffn704", write(new SyntheticModel.Spec("kq-ffn704", 256, 4, 4, 2, 704, 1000, 128, GgmlType.F16, 22)));
        Path full = write(new SyntheticModel.Spec("kq-tied", 256, 2, 4, 4, 512, 1000, 128, GgmlType.F16, 23));
        Path tied = dir.resolve("tied.gguf");
        withoutOutput(full, tied);
        MODELS.put("tied", tied);
    }

    static Path write(SyntheticModel.Spec spec) throws Exception {
        Path p = dir.resolve(spec.name() + ".gguf");
        SyntheticModel.write(spec, p, null);
        return p;
    }

    /** The model with every tensor but output.weight. */
    static void withoutOutput(Path src, Path dst) throws Exception {
        try (GgufFile f = GgufFile.open(src)) {
            var w = new GgufWriter();
            for (var e : f.metadata()) {
                if (e.value() instanceof GgufFile.MetadataArray a) w.putArray(e.key(), a.elementType(), a.values());
                else w.put(e.key(), e.type(), e.value());
            }
            for (TensorInfo t : f.tensors()) {
                if (!t.name().equals("output.weight")) w.addTensor(t.name(), t.type(), t.dims(), f.data(t).toArray(ValueLayout.JAVA_BYTE));
            }
            w.write(dst);
        }
    }

    static Stream<Arguments> schemesAndModels() {
        var args = new ArrayList<Arguments>();
        for (String m : List.of("gqa4", "ffn704", "tied", "stories260K-f32")) for (String s : SCHEMES) args.add(Arguments.of(s, m));
        return args.stream();
    }

    static Path llamaQuantize(Path src, String scheme, String stem) throws Exception {
        Path out = dir.resolve(stem + "-llama-" + scheme + ".gguf");
        if (!Files.exists(out)) LlamaCpp.runOk("llama-quantize", 300, src.toString(), out.toString(), scheme.toUpperCase(Locale.ROOT));
        return out;
    }

    static Path ours(Path src, String scheme, String stem) throws Exception {
        Path out = dir.resolve(stem + "-infercl-" + scheme + ".gguf");
        if (!Files.exists(out)) Quantizer.quantize(src, out, Quantizer.Options.of(Scheme.parse(scheme)), null);
        return out;
    }

    /** Every tensor of InferCL's file has the type, shape and bytes of llama-quantize's, and general.file_type is the same. */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("schemesAndModels")
    void sameTypesAndBytesAsLlamaQuantize(String scheme, String model) throws Exception {
        Path src = model.equals("stories260K-f32") ? SharedData.require("models/stories260K-f32.gguf") : MODELS.get(model);
        Path theirs = llamaQuantize(src, scheme, model), mine = ours(src, scheme, model);
        try (GgufFile a = GgufFile.open(mine); GgufFile b = GgufFile.open(theirs)) {
            assertEquals(b.getInt("general.file_type"), a.getInt("general.file_type"), "general.file_type");
            assertEquals(b.getInt("general.quantization_version"), a.getInt("general.quantization_version"));
            assertEquals(b.tensors().size(), a.tensors().size(), "tensor count");
            var typeDiffs = new ArrayList<String>();
            var byteDiffs = new ArrayList<String>();
            var counts = new TreeMap<String, Integer>();
            for (TensorInfo t : b.tensors()) {
                TensorInfo m = a.tensor(t.name()).orElseThrow(() -> new AssertionError("missing " + t.name()));
                assertEquals(Arrays.toString(t.dims()), Arrays.toString(m.dims()), t.name());
                counts.merge(t.type().name(), 1, Integer::sum);
                if (m.type() != t.type()) typeDiffs.add(t.name() + ": " + m.type() + " vs llama.cpp " + t.type());
                else if (a.data(m).mismatch(b.data(t)) != -1) byteDiffs.add(t.name() + " (" + t.type() + ") at byte " + a.data(m).mismatch(b.data(t)));
            }
            assertTrue(typeDiffs.isEmpty(), "types differ from llama-quantize's: " + typeDiffs);
            assertTrue(byteDiffs.isEmpty(), "bytes differ from llama-quantize's: " + byteDiffs);
            System.out.println(scheme + " " + model + ": " + a.tensors().size() + " tensors, types and bytes equal llama-quantize's: " + counts);
        }
    }

    /** InferCL's file of the 8-layer model loads in llama-cli, which names its file type and generates. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"q4_k_m, Q4_K - Medium", "q5_k_m, Q5_K - Medium", "q6_k, Q6_K", "q4_k_s, Q4_K - Small", "q3_k_m, Q3_K - Medium", "q2_k, Q2_K - Medium"})
    void loadsInLlamaCli(String scheme, String fileTypeName) throws Exception {
        Path mine = ours(MODELS.get("gqa4"), scheme, "gqa4");
        var r = LlamaCpp.run("llama-cli", 120, "-m", mine.toString(), "-p", "Hello", "-n", "4", "--temp", "0", "-no-cnv", "-t", "2");
        assertEquals(0, r.exitCode(), () -> "llama-cli exited with " + r.exitCode() + ":\n" + r.output());
        assertTrue(r.stderr().contains("file type   = " + fileTypeName), "llama-cli names the file type " + fileTypeName + ":\n" + r.stderr());
        String text = r.stdout().strip();
        assertTrue(text.startsWith("Hello") && text.length() > "Hello".length(), "llama-cli printed the prompt and generated text: '" + text + "'");
        System.out.println(scheme + ": llama-cli exit 0, '" + text + "'");
    }

    // ---- KLD against the F16 original -------------------------------------------------------------------------

    /** F16 originals and text sampled from each (cached per model). */
    static final Map<String, Path> F16 = new HashMap<>();
    static final Map<String, List<int[]>> TEXT = new HashMap<>();

    /**
     * The F16 original: {@code stories260K} the trained 64-wide story model of ../shared/models (every matrix falls
     * back to a 32-value type, ffn_down's rows of 172 stay F16); {@code stories260K-w256} the same model widened to
     * rows of 256 ({@link #widen}), where every matrix takes the K types.
     */
    static synchronized Path f16(String model) throws Exception {
        if (!F16.containsKey(model)) {
            Path stories = SharedData.require("models/stories260K-f16.gguf");
            Path p = switch (model) {
                case "stories260K" -> stories;
                case "stories260K-w256" -> {
                    Path out = dir.resolve("stories260K-w256-f16.gguf");
                    widen(stories, out);
                    assertEquals(greedy(stories), greedy(out), "the widened model continues a story as the original does");
                    yield out;
                }
                default -> throw new IllegalArgumentException(model);
            };
            F16.put(model, p);
        }
        return F16.get(model);
    }

    static String greedy(Path model) throws Exception {
        try (Model m = Model.load(model, LoadOptions.defaults().withBackend(BackendKind.CPU)); Session s = m.newSession()) {
            return s.generate("Once upon a time", GenerateOptions.greedy(40), null).text();
        }
    }

    /**
     * stories260K (width 64, 8 heads of 8 on 4 KV heads, FFN 172) zero-padded to width 256, 32 heads of 8 on 16 KV
     * heads and FFN 256, computing nearly the same function: the padded heads have zero queries, keys and values,
     * the padded FFN units zero gate, up and down weights, and the norm weights are halved because the RMS over 256
     * values of which 64 are nonzero is half that over the 64 (only ε's weight changes).
     */
    static void widen(Path src, Path dst) throws Exception {
        Map<Long, Long> wider = Map.of(64L, 256L, 32L, 128L, 172L, 256L, 512L, 512L);
        Map<String, Long> keys = Map.of("llama.embedding_length", 256L, "llama.feed_forward_length", 256L,
                "llama.attention.head_count", 32L, "llama.attention.head_count_kv", 16L);
        try (GgufFile f = GgufFile.open(src)) {
            var w = new GgufWriter();
            for (var e : f.metadata()) {
                if (e.value() instanceof GgufFile.MetadataArray a) w.putArray(e.key(), a.elementType(), a.values());
                else if (keys.containsKey(e.key())) w.putUInt32(e.key(), keys.get(e.key()));
                else w.put(e.key(), e.type(), e.value());
            }
            for (TensorInfo t : f.tensors()) {
                long cols = t.dim(0), rows = t.rows(), newCols = wider.get(cols), newRows = t.nDims() == 1 ? 1 : wider.get(rows);
                int size = t.type() == GgmlType.F32 ? 4 : 2;
                ByteBuffer b = ByteBuffer.allocate((int) (newCols * newRows * size)).order(ByteOrder.LITTLE_ENDIAN);
                for (long r = 0; r < rows; r++) {
                    for (long c = 0; c < cols; c++) {
                        long at = (r * newCols + c) * size;
                        if (t.type() == GgmlType.F32) b.putFloat((int) at, f.data(t).get(dev.infercl.tensor.Dequant.F32, (r * cols + c) * 4) / 2);
                        else b.putShort((int) at, f.data(t).get(dev.infercl.tensor.Dequant.I16, (r * cols + c) * 2));
                    }
                }
                if (t.type() != GgmlType.F32 && t.type() != GgmlType.F16) throw new IllegalStateException(t.name() + " is " + t.type());
                w.addTensor(t.name(), t.type(), t.nDims() == 1 ? new long[] {newCols} : new long[] {newCols, newRows}, b.array());
            }
            w.write(dst);
        }
    }

    /** 16 windows sampled from the F16 model at temperature 1 (seeds 101–116), each a prompt and up to 100 tokens. */
    static synchronized List<int[]> text(String model) throws Exception {
        if (!TEXT.containsKey(model)) {
            String[] prompts = {"Once upon a time", "One day", "The little dog"};
            var windows = new ArrayList<int[]>();
            try (Model m = Model.load(f16(model), LoadOptions.defaults().withBackend(BackendKind.CPU))) {
                for (int i = 0; i < 16; i++) {
                    try (Session s = m.newSession()) {
                        var g = s.generate(prompts[i % prompts.length], new GenerateOptions(100, new SamplerOptions(1f, 0, 1f, 0f, 1f, 64, 101 + i), null, true), null);
                        int[] w = new int[g.promptTokens().length + g.tokens().length];
                        System.arraycopy(g.promptTokens(), 0, w, 0, g.promptTokens().length);
                        System.arraycopy(g.tokens(), 0, w, g.promptTokens().length, g.tokens().length);
                        windows.add(w);
                    }
                }
            }
            TEXT.put(model, windows);
        }
        return TEXT.get(model);
    }

    /** Mean KLD of InferCL's file against the F16 original ≤ 1.1 × that of llama-quantize's file, on the same text. */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"stories260K-w256, q4_k_m", "stories260K-w256, q5_k_m", "stories260K-w256, q6_k", "stories260K-w256, q4_k_s",
            "stories260K-w256, q3_k_m", "stories260K-w256, q2_k", "stories260K, q4_k_m", "stories260K, q3_k_m", "stories260K, q2_k"})
    void kldWithinTenPercentOfLlamaQuantizes(String model, String scheme) throws Exception {
        LlamaCpp.tool("llama-quantize");
        Path ref = f16(model);
        List<int[]> windows = text(model);
        Path mine = ours(ref, scheme, model), theirs = llamaQuantize(ref, scheme, model);
        Evaluator.Result a = QuantTestModels.evaluate(mine, ref, "CPU", windows), b = QuantTestModels.evaluate(theirs, ref, "CPU", windows);
        System.out.printf(Locale.ROOT, "KLD %s %s (%d positions): InferCL %.6g [%.6g, %.6g] top-1 %.2f%%, llama-quantize %.6g [%.6g, %.6g] top-1 %.2f%%, ratio %.4f%n",
                model, scheme, a.tokens(), a.kld().value(), a.kld().low(), a.kld().high(), 100 * a.top1().value(),
                b.kld().value(), b.kld().low(), b.kld().high(), 100 * b.top1().value(), a.kld().value() / b.kld().value());
        assertTrue(a.kld().value() <= 1.1 * b.kld().value(), "InferCL's KLD " + a.kld().value() + " > 1.1 × llama-quantize's " + b.kld().value());
    }
}
