package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LoRA adapters on the random smoke model (test-models, no ../shared needed): adapters written here with GgufWriter
 * in llama.cpp's format. Mismatched or foreign files are refused naming the field or tensor; run-time application
 * equals the merged model ({@link LoraMerge}, F32) on CPU and OpenCL, with two adapters at once; removing them gives
 * the base model's logits back.
 */
public class LoraAdapterTest {
    public static final Path MODEL = Path.of("test-models/infercl-tiny-random.gguf");
    static final int DIM = 64, KV = 32, FFN = 192, VOCAB = 512, LAYERS = 2;
    static final int[] IDS = {1, 17, 42, 99, 311, 7, 250, 64, 128, 3};

    @TempDir
    Path dir;

    /** Base weight name → (rows = out, cols = in) of every weight the smoke model has. */
    public static Map<String, int[]> targets(boolean attn, boolean ffn) {
        var m = new LinkedHashMap<String, int[]>();
        for (int l = 0; l < LAYERS; l++) {
            String p = "blk." + l + ".";
            if (attn) {
                m.put(p + "attn_q.weight", new int[] {DIM, DIM});
                m.put(p + "attn_k.weight", new int[] {KV, DIM});
                m.put(p + "attn_v.weight", new int[] {KV, DIM});
                m.put(p + "attn_output.weight", new int[] {DIM, DIM});
            }
            if (ffn) {
                m.put(p + "ffn_gate.weight", new int[] {FFN, DIM});
                m.put(p + "ffn_up.weight", new int[] {FFN, DIM});
                m.put(p + "ffn_down.weight", new int[] {DIM, FFN});
            }
        }
        if (ffn) m.put("output.weight", new int[] {VOCAB, DIM});
        return m;
    }

    /** An adapter in llama.cpp's layout with random A and B (values ~ U(−amp, amp)), tensors in {@code type} (F32 or F16). */
    public static GgufWriter adapter(Map<String, int[]> targets, int rank, float alpha, GgmlType type, long seed) {
        var w = new GgufWriter().putString("general.architecture", "llama").putString("general.type", "adapter")
                .putString("adapter.type", "lora").putFloat32("adapter.lora.alpha", alpha);
        var rnd = new Random(seed);
        for (var e : targets.entrySet()) {
            int out = e.getValue()[0], in = e.getValue()[1];
            w.addTensor(e.getKey() + ".lora_a", type, new long[] {in, rank}, values(rnd, rank * in, 0.3f, type));
            w.addTensor(e.getKey() + ".lora_b", type, new long[] {rank, out}, values(rnd, out * rank, 0.3f, type));
        }
        return w;
    }

    static byte[] values(Random rnd, int n, float amp, GgmlType type) {
        var b = ByteBuffer.allocate(type == GgmlType.F32 ? 4 * n : 2 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float v = (rnd.nextFloat() * 2 - 1) * amp;
            if (type == GgmlType.F32) b.putFloat(v);
            else b.putShort(Float.floatToFloat16(v));
        }
        return b.array();
    }

    private Path write(String name, GgufWriter w) throws Exception {
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    private static float[][] logits(Model m, List<LoraAdapter.Scaled> adapters) {
        try (Session s = m.newSession(64)) {
            s.setAdapters(adapters);
            return s.logits(IDS);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"CPU", "OPENCL_KVF32"})
    void runTimeEqualsMergedAndRemovingRestoresTheBase(String backend) throws Exception {
        Path attn = write("attn.gguf", adapter(targets(true, false), 8, 16f, GgmlType.F32, 1));
        Path ffn = write("ffn.gguf", adapter(targets(false, true), 4, 0f, GgmlType.F16, 2));
        Path merged = dir.resolve("merged.gguf");
        float[][] base, adapted, again;
        try (Model m = StoriesReferenceTest.load(MODEL, LoadOptions.defaults(), backend)) {
            var a = m.loadAdapter(attn);
            var f = m.loadAdapter(ffn);
            assertEquals(16f, a.alpha());
            assertEquals(targets(false, true).keySet().stream().toList(), f.targets());
            var use = List.of(a.withScale(0.7f), f.withScale(-1.5f));
            base = logits(m, List.of());
            adapted = logits(m, use);
            try (Session s = m.newSession(64)) {
                // one session: with the adapters, then without them from a fresh sequence
                s.setAdapters(use);
                assertEquals(use, s.adapters());
                assertArrayEquals(adapted[IDS.length - 1], s.logits(IDS)[IDS.length - 1]);
                s.reset();
                s.setAdapters();
                assertTrue(s.adapters().isEmpty());
                again = s.logits(IDS);
            }
            var r = m.mergeAdapters(use, merged, GgmlType.F32);
            assertEquals(targets(true, true).size(), r.merged().size());
        }
        double moved = maxDiff(base, adapted), top = maxAbs(adapted);
        // the base logits after removing the adapters (to float rounding: the JIT may recompile a product between runs)
        assertTrue(maxDiff(base, again) <= 1e-6 * top, "base after removing the adapters differs by " + maxDiff(base, again));
        assertTrue(moved > 0.05 * top, "the adapters move the logits (by " + moved + " of a top logit " + top + ")");
        try (Model m = StoriesReferenceTest.load(merged, LoadOptions.defaults(), backend)) {
            double d = maxDiff(adapted, logits(m, List.of()));
            assertTrue(d <= 1e-4 * top, "run time vs merged: " + d + " (top logit " + top + ")");
        }
    }

    private static double maxDiff(float[][] a, float[][] b) {
        double d = 0;
        for (int t = 0; t < a.length; t++) for (int i = 0; i < a[t].length; i++) d = Math.max(d, Math.abs(a[t][i] - b[t][i]));
        return d;
    }

    private static double maxAbs(float[][] a) {
        double d = 0;
        for (float[] r : a) for (float v : r) d = Math.max(d, Math.abs(v));
        return d;
    }

    /** Loads the adapter on the CPU and returns the message it is refused with. */
    private String refused(GgufWriter w) throws Exception {
        Path p = write("bad.gguf", w);
        try (Model m = Model.load(MODEL, LoadOptions.defaults().withBackend(dev.infercl.api.BackendKind.CPU))) {
            return assertThrows(AdapterException.class, () -> m.loadAdapter(p)).getMessage();
        }
    }

    @Test
    void mismatchedAdaptersAreRefusedNamingTheTensorOrField() throws Exception {
        var one = new LinkedHashMap<String, int[]>();
        one.put("blk.0.attn_q.weight", new int[] {DIM, DIM});

        // wrong shape: A as wide as a K projection's output, B for 65 outputs
        var w = adapter(Map.of(), 4, 8, GgmlType.F32, 3);
        var rnd = new Random(4);
        w.addTensor("blk.0.attn_q.weight.lora_a", GgmlType.F32, new long[] {DIM, 4}, values(rnd, DIM * 4, 0.1f, GgmlType.F32));
        w.addTensor("blk.0.attn_q.weight.lora_b", GgmlType.F32, new long[] {4, DIM + 1}, values(rnd, (DIM + 1) * 4, 0.1f, GgmlType.F32));
        String msg = refused(w);
        assertTrue(msg.contains("bad.gguf") && msg.contains("'blk.0.attn_q.weight.lora_b'") && msg.contains("[4, 65]"), msg);

        w = adapter(Map.of(), 4, 8, GgmlType.F32, 3);
        w.addTensor("blk.1.ffn_down.weight.lora_a", GgmlType.F32, new long[] {DIM, 4}, values(rnd, DIM * 4, 0.1f, GgmlType.F32));   // ffn_down's input is 192 wide
        w.addTensor("blk.1.ffn_down.weight.lora_b", GgmlType.F32, new long[] {4, DIM}, values(rnd, DIM * 4, 0.1f, GgmlType.F32));
        msg = refused(w);
        assertTrue(msg.contains("'blk.1.ffn_down.weight.lora_a'") && msg.contains("expected [192, 4]"), msg);

        // rank disagreement between A and B
        w = adapter(Map.of(), 4, 8, GgmlType.F32, 3);
        w.addTensor("blk.0.attn_q.weight.lora_a", GgmlType.F32, new long[] {DIM, 8}, values(rnd, DIM * 8, 0.1f, GgmlType.F32));
        w.addTensor("blk.0.attn_q.weight.lora_b", GgmlType.F32, new long[] {4, DIM}, values(rnd, DIM * 4, 0.1f, GgmlType.F32));
        msg = refused(w);
        assertTrue(msg.contains("'blk.0.attn_q.weight.lora_a'") && msg.contains("rank 4"), msg);

        // unknown tensor: a layer the model does not have, and a name that is no LoRA tensor
        var unknown = new LinkedHashMap<String, int[]>();
        unknown.put("blk.7.attn_q.weight", new int[] {DIM, DIM});
        msg = refused(adapter(unknown, 4, 8, GgmlType.F32, 5));
        assertTrue(msg.contains("'blk.7.attn_q.weight.lora_a'") && msg.contains("not a linear weight"), msg);
        w = adapter(one, 4, 8, GgmlType.F32, 5);
        w.addTensor("blk.0.attn_q.weight.lora_c", GgmlType.F32, new long[] {4}, values(rnd, 4, 0.1f, GgmlType.F32));
        msg = refused(w);
        assertTrue(msg.contains("'blk.0.attn_q.weight.lora_c'"), msg);

        // a partner missing
        w = adapter(Map.of(), 4, 8, GgmlType.F32, 3);
        w.addTensor("blk.0.attn_q.weight.lora_a", GgmlType.F32, new long[] {DIM, 4}, values(rnd, DIM * 4, 0.1f, GgmlType.F32));
        msg = refused(w);
        assertTrue(msg.contains("'blk.0.attn_q.weight.lora_b'") && msg.contains("no partner"), msg);

        // other architecture, not an adapter, not LoRA, no tensors
        msg = refused(adapter(one, 4, 8, GgmlType.F32, 6).putString("general.architecture", "qwen2"));
        assertTrue(msg.contains("'general.architecture'") && msg.contains("qwen2"), msg);
        msg = refused(adapter(one, 4, 8, GgmlType.F32, 6).putString("general.type", "model"));
        assertTrue(msg.contains("'general.type'") && msg.contains("not a LoRA adapter"), msg);
        msg = refused(adapter(one, 4, 8, GgmlType.F32, 6).putString("adapter.type", "control_vector"));
        assertTrue(msg.contains("'adapter.type'"), msg);
        msg = refused(adapter(Map.of(), 4, 8, GgmlType.F32, 6));
        assertTrue(msg.contains("no LoRA tensors"), msg);

        // the base model itself is no adapter
        try (Model m = Model.load(MODEL, LoadOptions.defaults().withBackend(dev.infercl.api.BackendKind.CPU))) {
            msg = assertThrows(AdapterException.class, () -> m.loadAdapter(MODEL)).getMessage();
            assertTrue(msg.contains("'general.type'"), msg);
        }
    }

    @Test
    void adaptersBelongToTheirModelAndNeedUnbatchedSessions() throws Exception {
        Path p = write("attn.gguf", adapter(targets(true, false), 4, 8f, GgmlType.F32, 7));
        var cpu = LoadOptions.defaults().withBackend(dev.infercl.api.BackendKind.CPU);
        try (Model m1 = Model.load(MODEL, cpu); Model m2 = Model.load(MODEL, cpu); Model batched = Model.load(MODEL, cpu.withParallel(2).withContextLength(64))) {
            var a = m1.loadAdapter(p).withScale(1);
            try (Session s = m2.newSession(32)) {
                assertThrows(IllegalArgumentException.class, () -> s.setAdapters(a));
            }
            var b = batched.loadAdapter(p).withScale(1);
            try (Session s = batched.newSession(32)) {
                assertThrows(UnsupportedOperationException.class, () -> s.setAdapters(b));
            }
            assertThrows(IllegalArgumentException.class, () -> a.adapter().withScale(Float.NaN));
        }
    }
}
