package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.Stories;
import dev.infercl.api.BackendKind;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Pooling;
import dev.infercl.backend.KvType;
import dev.infercl.backend.opencl.ClTestSupport;
import dev.infercl.gguf.GgufFile;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Model#embed} against the independent float64 forward pass ({@link ArchSpecReference}'s rows after the final
 * norm, pooled and normalised here): stories260K and the generated gpt2 (LayerNorm, learned positions) and gemma2
 * (soft-caps, sliding window) models on the reference, CPU and OpenCL backends, a text longer than one prefill
 * chunk, and the invariants (unit norm, MEAN = the normalised average of the rows, LAST = the last row normalised).
 */
class EmbeddingTest {
    static final String TEXT = "Once upon a time, there was a little girl named Lily. She loved to play outside.";

    static LoadOptions options(String backend) {
        if (backend.startsWith("OPENCL")) ClTestSupport.requireOpenCl();
        var o = LoadOptions.defaults().withBackend(backend.startsWith("OPENCL") ? BackendKind.OPENCL : BackendKind.valueOf(backend));
        return o.withKvType(KvType.F32);   // an FP16 cache moves the hidden rows by ~1e-3
    }

    /** The float64 pooled and normalised embedding of ids. */
    static double[] expected(Path file, int[] ids, Pooling pooling) throws Exception {
        try (GgufFile g = GgufFile.open(file)) {
            var ref = new ArchSpecReference(g);
            ref.forward(ids);
            double[][] rows = ref.hidden;
            double[] v = new double[rows[0].length];
            if (pooling == Pooling.MEAN) {
                for (double[] r : rows) for (int c = 0; c < v.length; c++) v[c] += r[c] / rows.length;
            } else {
                v = rows[rows.length - 1].clone();
            }
            double n = 0;
            for (double x : v) n += x * x;
            for (int c = 0; c < v.length; c++) v[c] /= Math.sqrt(n);
            return v;
        }
    }

    static void assertClose(double[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what + ": dimension");
        double norm = 0, worst = 0;
        for (int i = 0; i < got.length; i++) {
            norm += got[i] * (double) got[i];
            worst = Math.max(worst, Math.abs(want[i] - got[i]));
        }
        assertEquals(1.0, Math.sqrt(norm), 1e-5, what + ": unit norm");
        assertTrue(worst < tol, what + ": worst |Δ| " + worst + " ≥ " + tol);
    }

    @ParameterizedTest
    @ValueSource(strings = {"REFERENCE", "CPU", "OPENCL"})
    void storiesMatchesTheFloat64Pass(String backend) throws Exception {
        try (Model m = Model.load(Stories.MODEL, options(backend))) {
            int[] ids = m.tokenizer().encode(TEXT, true, false);
            for (Pooling p : Pooling.values()) {
                assertClose(expected(Stories.MODEL, ids, p), m.embed(TEXT, p), 1e-4, "stories260K " + backend + " " + p);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "gemma2", "qwen3"})
    void otherArchitecturesMatchTheFloat64Pass(String arch, @TempDir Path dir) throws Exception {
        Path file = ArchSpecModels.write(arch, dir.resolve(arch + ".gguf"));
        var rnd = new Random(7);
        int[] ids = new int[40];
        for (int i = 0; i < ids.length; i++) ids[i] = 3 + rnd.nextInt(290);
        for (String backend : new String[] {"CPU", "OPENCL"}) {
            try (Model m = Model.load(file, options(backend))) {
                for (Pooling p : Pooling.values()) {
                    assertClose(expected(file, ids, p), m.embed(ids, p), 2e-4, arch + " " + backend + " " + p);
                }
            }
        }
    }

    @Test
    void aTextLongerThanOnePrefillChunkIsPooledOverEveryToken() throws Exception {
        var rnd = new Random(3);
        int[] ids = new int[530];   // two chunks of the 512-token prefill
        ids[0] = 1;
        for (int i = 1; i < ids.length; i++) ids[i] = 3 + rnd.nextInt(500);
        try (Model m = Model.load(Stories.MODEL, options("CPU"))) {
            for (Pooling p : Pooling.values()) assertClose(expected(Stories.MODEL, ids, p), m.embed(ids, p), 1e-4, "530 tokens " + p);
        }
    }

    @Test
    void invariantsAndRefusals() throws Exception {
        try (Model m = Model.load(Stories.MODEL, options("CPU"))) {
            float[] a = m.embed(TEXT, Pooling.MEAN);
            assertArrayEquals(a, m.embed(TEXT, Pooling.MEAN), 1e-6f, "repeatable (the CPU backend's JIT-compiled loops may round differently from its first run)");
            assertEquals(m.config().dim(), a.length);
            int[] ids = m.tokenizer().encode(TEXT, true, false);
            float[] last = m.embed(ids, Pooling.LAST);
            try (var s = m.newSession()) {
                s.logits(java.util.Arrays.copyOf(ids, 5));   // sessions and embeddings share the model without disturbing each other
                assertArrayEquals(last, m.embed(ids, Pooling.LAST), 1e-6f);
            }
            float[] one = m.embed(new int[] {ids[0]}, Pooling.MEAN);
            assertArrayEquals(one, m.embed(new int[] {ids[0]}, Pooling.LAST), 1e-6f, "one token: MEAN = LAST");
            assertThrows(IllegalArgumentException.class, () -> m.embed(new int[0], Pooling.MEAN));
        }
    }

    // ------------------------------------------------------------------------------- docs/EMBEDDINGS.md's recipes

    static String classify(Model model, String text, java.util.Map<String, String> labels) {
        float[] q = model.embed(text, Pooling.MEAN);
        String best = null;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (var label : labels.entrySet()) {
            float[] l = model.embed(label.getValue(), Pooling.MEAN);
            double score = 0;
            for (int i = 0; i < q.length; i++) score += q[i] * l[i];
            if (score > bestScore) {
                bestScore = score;
                best = label.getKey();
            }
        }
        return best;
    }

    static String classifyByNextToken(Model model, String text, java.util.List<String> labels) {
        var tok = model.tokenizer();
        int[] prompt = tok.encode("Text: " + text + "\nTopic (animals or food):", tok.addBosByDefault(), false);
        try (var s = model.newSession()) {
            float[][] logits = s.logits(prompt);
            float[] next = logits[logits.length - 1];
            return labels.stream()
                    .max(java.util.Comparator.comparingDouble(l -> next[tok.encode(" " + l, false, false)[0]]))
                    .orElseThrow();
        }
    }

    /**
     * Both recipes run as docs/EMBEDDINGS.md writes them. stories260K is far too small for its embeddings to carry
     * meaning (every story sentence is about 0.9 from every other), so what is checked is the mechanics: a label's own
     * description is nearest to itself, and each recipe answers one of the labels.
     */
    @Test
    void classificationRecipes() throws Exception {
        try (Model m = Model.load(Stories.MODEL, options("CPU"))) {
            var labels = java.util.Map.of("animals", "A story about a dog or a cat.", "food", "A story about baking a cake and eating.");
            for (var l : labels.entrySet()) assertEquals(l.getKey(), classify(m, l.getValue(), labels));
            assertTrue(labels.containsKey(classify(m, "The dog chased the ball in the park.", labels)));
            String label = classifyByNextToken(m, "The dog chased the ball in the park.", java.util.List.of("animals", "food"));
            assertTrue(label.equals("animals") || label.equals("food"));
        }
    }
}
