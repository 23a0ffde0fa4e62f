package dev.infercl.backend.opencl;

import static dev.infercl.backend.opencl.ClParityTest.guarded;
import static dev.infercl.backend.opencl.ClParityTest.input;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.KvType;
import dev.infercl.backend.Tensor;
import dev.infercl.backend.cpu.Reference;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The INT8 KV cache (kvwrite_i8_f32, attention_kv_f32, attention_kv_f32_split) against a host model of the same
 * quantization ({@link Int8Cache}: the kernel's float operations in the kernel's order) and against
 * {@link Reference#attention}: attention equals Reference on the dequantized keys and values (NMSE ≤ 5e-4) and
 * stays close to Reference on the exact ones (NMSE ≤ 5e-3); the device cache equals the host model (int8 values
 * within one step, ≥ 99.9% identical; scales to 1e-6); guard rows after every output, scales of untouched blocks
 * and of the other layer stay 0; no NaN/Inf. Batches: a multi-token prefill, a second batch, then decode steps,
 * crossing block boundaries, with key/value magnitudes that grow along the sequence so scales grow and blocks are
 * requantized, and spikes that force a requantization in the middle of a block.
 */
class ClKvInt8Test {

    static final boolean SMALL = ClTestSupport.small();
    static ClBackend fused, split, lanes;  // lanes: the GPU shape (attention_kv_f32_lanes), forced on this device
    static final Map<String, Double> worst = new TreeMap<>();

    @BeforeAll
    static void open() {
        var i8 = ClOptions.defaults().withKvType(KvType.I8);
        fused = ClTestSupport.open(i8.withAttention(KernelChooser.Attention.FUSED));
        split = ClTestSupport.open(i8.withAttention(KernelChooser.Attention.SPLIT));
        lanes = ClTestSupport.openWithLanes(ClParityTest.LANES, i8);
    }

    @AfterAll
    static void close() {
        if (fused != null) fused.close();
        if (split != null) split.close();
        if (lanes != null) lanes.close();
        worst.forEach((k, v) -> System.out.printf("worst NMSE %-48s %.3e%n", k, v));
    }

    @Test
    void attentionOverTheInt8CacheBothKernels() {
        var r = new Random(23);
        // (headDim, heads, kvHeads, context length, first batch, soft-cap, window)
        int[][] shapes = {{8, 8, 4, SMALL ? 40 : 600, 13, 0, 0}, {64, 4, 1, SMALL ? 24 : 300, 13, 0, 0},
                {40, 6, 3, SMALL ? 36 : 70, 35, 0, 0}, {16, 6, 3, SMALL ? 30 : 540, 13, 2, SMALL ? 17 : 37},
                {64, 8, 1, SMALL ? 24 : 600, 13, 0, 0}, {64, 16, 2, SMALL ? 30 : 560, 13, 3, SMALL ? 17 : 300}};
        for (int[] s : shapes) {
            for (ClBackend b : List.of(fused, split, lanes)) scenario(b, r, s[0], s[1], s[2], s[3], s[4], s[5], s[6]);
        }
        assertTrue(lanes.kernelsUsed().contains("attention_kv_f32_lanes"), "lanes kernel ran: " + lanes.kernelsUsed());
    }

    @Test
    void theInt8CacheIsAQuarterOfF32AndHalfOfFp16() {
        var layout = new KvLayout(3, 4, 64, 16, 20);
        long f16;
        try (var b = ClTestSupport.open(ClOptions.defaults().withKvType(KvType.F16))) {
            long before = b.allocatedBytes();
            try (var c = b.createKvCache(layout)) {
                f16 = b.allocatedBytes() - before;
            }
            assertEquals(2, b.kvBytesPerValue());
        }
        long before = fused.allocatedBytes(), i8;
        try (var c = fused.createKvCache(layout)) {
            i8 = fused.allocatedBytes() - before;
        }
        assertEquals(before, fused.allocatedBytes(), "closing the cache frees its values and scales");
        assertEquals(1, fused.kvBytesPerValue());
        long values = 2L * layout.layers() * layout.valuesPerLayer(), scales = 2L * layout.layers() * layout.numBlocks() * layout.kvHeads() * 4;
        assertEquals(2 * values, f16);
        assertEquals(values + scales, i8);
        System.out.printf("KV cache of %s: FP16 %d bytes, INT8 %d bytes (%.1f%%)%n", layout, f16, i8, 100.0 * i8 / f16);
    }

    /**
     * The whole model: stories260K on OpenCL with the INT8 cache, a 20-token prefill then 44 decode steps, where
     * every attention call (each layer, each step) also runs this test's host model of the cache on the same q, k
     * and v read back from the device, and Reference over its dequantized values: the device output must equal it
     * (NMSE ≤ 5e-4; the kernels are deterministic, the host model repeats their float operations). Lockstep, because
     * two separate runs (say OpenCL against CPU) differ in the last bits of k and v, which now and then rounds a
     * value to the neighbouring int8 step and moves logits by up to ~0.1 on this 8-wide-head model.
     */
    @Test
    void modelAttentionEqualsTheHostModelOfTheCacheInLockstep() throws Exception {
        var modelPath = dev.infercl.Stories.MODEL;
        var ref = dev.infercl.Oracles.json(dev.infercl.Stories.REFERENCE);
        int[] ids = java.util.Arrays.copyOf(dev.infercl.Oracles.concat(dev.infercl.Oracles.ints(ref.get("prompt_ids")),
                dev.infercl.Oracles.ints(ref.get("greedy_ids"))), 64);
        int[] calls = {0};
        var checked = lockstep(fused, calls);
        try (var file = dev.infercl.model.ModelFile.open(modelPath, null)) {
            var tr = new dev.infercl.model.Transformer(file.config(), dev.infercl.model.Weights.upload(file, checked), checked);
            int vocab = file.config().vocabSize(), prefill = 20;
            float[] logits = new float[prefill * vocab];
            try (var s = tr.newState(512, prefill)) {
                checked.read(tr.forward(s, java.util.Arrays.copyOf(ids, prefill), true), logits);
                for (int t = prefill; t < ids.length; t++) checked.read(tr.forward(s, new int[] {ids[t]}, false), logits);
            }
            for (float x : logits) assertTrue(Float.isFinite(x), "logit " + x);
            assertEquals(file.config().layers() * (1 + ids.length - prefill), calls[0], "attention calls checked");
        }
    }

    /** {@code inner} whose every attention call is checked against the host model of the INT8 cache, on the same inputs. */
    static dev.infercl.backend.Backend lockstep(ClBackend inner, int[] calls) {
        var caches = new java.util.HashMap<Integer, Int8Cache>();
        return (dev.infercl.backend.Backend) java.lang.reflect.Proxy.newProxyInstance(ClKvInt8Test.class.getClassLoader(),
                new Class<?>[] {dev.infercl.backend.Backend.class}, (proxy, method, args) -> {
                    Object result;
                    try {
                        result = method.invoke(inner, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (!method.getName().equals("attention")) return result;
                    // q and k as attention left them: rotated in place, as the cache holds k
                    Tensor out = (Tensor) args[0], q = (Tensor) args[1], k = (Tensor) args[2], v = (Tensor) args[3];
                    var cache = (dev.infercl.backend.KvCache) args[4];
                    int layer = (Integer) args[5];
                    var batch = (Batch) args[6];
                    KvLayout l = cache.layout();
                    int n = batch.size(), hd = l.headDim(), kvDim = l.kvHeads() * hd, heads = q.cols() / hd;
                    float[] qv = new float[n * q.cols()], kv = new float[n * kvDim], vv = new float[n * kvDim], got = new float[n * q.cols()];
                    inner.read(q, qv);
                    inner.read(k, kv);
                    inner.read(v, vv);
                    inner.read(out, got);
                    var model = caches.computeIfAbsent(layer, x -> new Int8Cache(l));
                    model.write(kv, vv, batch.positions(), batch.table(0));
                    float[] kDeq = model.dequantize(true), vDeq = model.dequantize(false);
                    for (int t = 0; t < n; t++) {
                        for (int g = 0; g < l.kvHeads(); g++) {
                            int at = cacheIndex(l, batch.table(t).slot(batch.positions()[t]), g);
                            System.arraycopy(kDeq, at, kv, (t * l.kvHeads() + g) * hd, hd);
                            System.arraycopy(vDeq, at, vv, (t * l.kvHeads() + g) * hd, hd);
                        }
                    }
                    float[] want = new float[n * q.cols()];
                    Reference.attention(want, qv, kv, vv, kDeq, vDeq, l, batch, heads, (AttentionSpec) args[7]);
                    nmse("stories260K attention_kv_f32 (lockstep, " + (n > 1 ? "prefill" : "decode") + ")", got, want, 5e-4);
                    calls[0]++;
                    return result;
                });
    }

    static double nmse(String what, float[] got, float[] want, double limit) {
        double err = 0, ref = 0;
        for (int i = 0; i < want.length; i++) {
            if (!Float.isFinite(got[i])) fail(what + ": value " + i + " is " + got[i]);
            double d = got[i] - want[i];
            err += d * d;
            ref += (double) want[i] * want[i];
        }
        double e = ref == 0 ? err : err / ref;
        worst.merge(what, e, Math::max);
        assertTrue(e <= limit, what + ": normalized MSE " + e + " > " + limit);
        return e;
    }

    /** Gaussian rows whose magnitude grows with the position, with an occasional spike (a scale jump mid-block). */
    static float[] rows(Random r, int[] pos, int width) {
        float[] f = new float[pos.length * width];
        for (int t = 0; t < pos.length; t++) {
            float mag = 0.5f + pos[t] * 0.01f;
            for (int i = 0; i < width; i++) f[t * width + i] = (float) r.nextGaussian() * mag;
            if (r.nextInt(12) == 0) f[t * width + r.nextInt(width)] = 4 * mag * (r.nextBoolean() ? 1 : -1);
        }
        return f;
    }

    static void scenario(ClBackend b, Random r, int hd, int heads, int kvHeads, int len, int firstBatch, float softcap, int window) {
        int blockSize = 16, blocks = (len + blockSize - 1) / blockSize + 3;
        var layout = new KvLayout(2, kvHeads, hd, blockSize, blocks);
        String kernel = (b == split ? "attention_kv_f32_split+combine" : b == lanes ? "attention_kv_f32_lanes+combine" : "attention_kv_f32") + " hd " + hd + (softcap > 0 ? " softcap" : "") + (window > 0 ? " window" : "");
        try (var cache = b.createKvCache(layout)) {
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < blocks; i++) ids.add(cache.pool().allocate());
            Collections.shuffle(ids, r);
            ids.forEach(cache.pool()::release);
            var table = new BlockTable(cache.pool(), blockSize);
            var model = new Int8Cache(layout);
            float[] kExact = new float[(int) layout.valuesPerLayer()], vExact = new float[kExact.length];
            var spec = new AttentionSpec((float) (1 / Math.sqrt(hd)), softcap, window);
            int qDim = heads * hd, kvDim = kvHeads * hd;
            List<Integer> batches = new ArrayList<>(List.of(Math.min(firstBatch, len), Math.min(5, len - Math.min(firstBatch, len))));
            while (batches.stream().mapToInt(Integer::intValue).sum() < len) batches.add(1);
            int start = 0;
            for (int n : batches) {
                if (n == 0) continue;
                int[] pos = new int[n];
                for (int t = 0; t < n; t++) pos[t] = start + t;
                table.reserve(start + n);
                float[] q = ClParityTest.random(r, n * qDim, softcap > 0 ? 4f : 1f), k = rows(r, pos, kvDim), v = rows(r, pos, kvDim);
                // what the device should compute: Reference over the host model's dequantized cache …
                model.write(k, v, pos, table);
                float[] kDeq = model.dequantize(true), vDeq = model.dequantize(false);
                float[] kRows = new float[n * kvDim], vRows = new float[n * kvDim];
                for (int t = 0; t < n; t++) {
                    for (int g = 0; g < kvHeads; g++) {
                        int at = cacheIndex(layout, table.slot(pos[t]), g);
                        System.arraycopy(kDeq, at, kRows, (t * kvHeads + g) * hd, hd);
                        System.arraycopy(vDeq, at, vRows, (t * kvHeads + g) * hd, hd);
                    }
                }
                float[] wantDeq = new float[n * qDim], wantExact = new float[n * qDim];
                Reference.attention(wantDeq, q, kRows, vRows, kDeq, vDeq, layout, table, pos, heads, spec);
                // … and close to it over the exact keys and values
                Reference.attention(wantExact, q, k, v, kExact, vExact, layout, table, pos, heads, spec);
                Tensor qt = input(b, q, n, qDim), kt = input(b, k, n, kvDim), vt = input(b, v, n, kvDim);
                var batch = new Batch(pos, table);
                float[] got = guarded(b, n, qDim, null, out -> b.attention(out, qt, kt, vt, cache, 1, batch, spec));
                nmse(kernel + " vs dequantized", got, wantDeq, 5e-4);
                nmse(kernel + " vs exact K/V", got, wantExact, 5e-3);
                table.setLength(start + n);
                start += n;
                compareCache(b, cache, layout, model, table, start);
            }
            table.release();
        }
    }

    static int cacheIndex(KvLayout l, int slot, int g) {
        int block = slot / l.blockSize(), o = slot % l.blockSize();
        return ((block * l.kvHeads() + g) * l.blockSize() + o) * l.headDim();
    }

    /** The device's layer 1 equals the host model on every stored position; untouched scales (and layer 0's) stay 0. */
    static void compareCache(ClBackend b, dev.infercl.backend.KvCache cache, KvLayout l, Int8Cache model, BlockTable table, int length) {
        int values = (int) l.valuesPerLayer(), heads = l.numBlocks() * l.kvHeads();
        byte[] k = new byte[values], v = new byte[values];
        float[] ks = new float[heads], vs = new float[heads];
        b.readKvInt8(cache, 1, k, v, ks, vs);
        long same = 0, total = 0;
        for (int p = 0; p < length; p++) {
            for (int g = 0; g < l.kvHeads(); g++) {
                int at = cacheIndex(l, table.slot(p), g);
                for (int i = 0; i < l.headDim(); i++) {
                    for (boolean isK : new boolean[] {true, false}) {
                        int got = (isK ? k : v)[at + i], want = (isK ? model.k : model.v)[at + i];
                        if (Math.abs(got - want) > 1) fail("int8 " + (isK ? "key" : "value") + " at position " + p + " head " + g + " [" + i + "]: " + got + ", model " + want);
                        if (got == want) same++;
                        total++;
                    }
                }
            }
        }
        assertTrue(same >= total * 0.999, "int8 values equal to the host model: " + same + " of " + total);
        var used = new java.util.HashSet<Integer>();
        for (int i = 0; i < table.blockCount(); i++) used.add(table.block(i));
        for (int block = 0; block < l.numBlocks(); block++) {
            for (int g = 0; g < l.kvHeads(); g++) {
                int h = block * l.kvHeads() + g;
                if (!used.contains(block)) {
                    assertTrue(ks[h] == 0 && vs[h] == 0, "scale of untouched block " + block + " changed: " + ks[h] + ", " + vs[h]);
                    continue;
                }
                assertTrue(Math.abs(ks[h] - model.ks[h]) <= 1e-6 * model.ks[h] && Math.abs(vs[h] - model.vs[h]) <= 1e-6 * model.vs[h],
                        "block " + block + " head " + g + " scales " + ks[h] + ", " + vs[h] + " vs model " + model.ks[h] + ", " + model.vs[h]);
            }
        }
        b.readKvInt8(cache, 0, k, v, ks, vs);
        for (int h = 0; h < heads; h++) assertTrue(ks[h] == 0 && vs[h] == 0, "layer 0 scales were written");
    }

    /**
     * A host model of one layer of the INT8 cache, as kvwrite_i8_f32 documents it: per (block, KV head) a scale that
     * starts at 0 in a fresh block and only grows; a row whose absolute maximum a gives a / 127 above the scale
     * requantizes the block's earlier slots with ratio = scale · (1 / (a / 127)) and raises the scale to a / 127;
     * values are clamp(rint(x · (1 / scale)), ±127). Same float operations in the same order as the kernel.
     */
    static final class Int8Cache {
        final KvLayout l;
        final byte[] k, v;   // (numBlocks, kvHeads, blockSize, headDim)
        final float[] ks, vs; // (numBlocks, kvHeads)

        Int8Cache(KvLayout l) {
            this.l = l;
            k = new byte[(int) l.valuesPerLayer()];
            v = new byte[k.length];
            ks = new float[l.numBlocks() * l.kvHeads()];
            vs = new float[ks.length];
        }

        void write(float[] kRows, float[] vRows, int[] pos, BlockTable table) {
            int bs = l.blockSize(), hd = l.headDim();
            var byBlock = new java.util.LinkedHashMap<Integer, List<Integer>>();
            for (int t = 0; t < pos.length; t++) byBlock.computeIfAbsent(table.block(pos[t] / bs), x -> new ArrayList<>()).add(t);
            byBlock.forEach((block, rowList) -> {
                for (int g = 0; g < l.kvHeads(); g++) {
                    int head = block * l.kvHeads() + g, base = head * bs * hd;
                    int filled = pos[rowList.getFirst()] % bs;
                    float sk = filled == 0 ? 0f : ks[head], sv = filled == 0 ? 0f : vs[head];
                    for (int t : rowList) {
                        int o = pos[t] % bs, src = (t * l.kvHeads() + g) * hd;
                        sk = row(k, kRows, src, base, o, filled, sk);
                        sv = row(v, vRows, src, base, o, filled, sv);
                        filled = Math.max(filled, o + 1);
                    }
                    ks[head] = sk;
                    vs[head] = sv;
                }
            });
        }

        /** One row into one (block, head): requantize when the scale must grow, then store; returns the scale. */
        private float row(byte[] cache, float[] rows, int src, int base, int o, int filled, float scale) {
            int hd = l.headDim();
            float a = 0f;
            for (int i = 0; i < hd; i++) a = Math.max(a, Math.abs(rows[src + i]));
            float need = a / 127f;
            if (need > scale) {
                float ratio = scale * (1f / need);
                for (int e = base; e < base + filled * hd; e++) cache[e] = quantize(cache[e] * ratio);
                scale = need;
            }
            float inv = scale > 0 ? 1f / scale : 0f;
            for (int i = 0; i < hd; i++) cache[base + o * hd + i] = quantize(rows[src + i] * inv);
            return scale;
        }

        private static byte quantize(float x) {
            return (byte) Math.max(-127, Math.min(127, Math.rint(x)));
        }

        /** The whole layer as floats (q · scale), in the cache layout. */
        float[] dequantize(boolean keys) {
            byte[] q = keys ? k : v;
            float[] s = keys ? ks : vs;
            float[] out = new float[q.length];
            int per = l.blockSize() * l.headDim();
            for (int e = 0; e < q.length; e++) out[e] = q[e] * s[e / per];
            return out;
        }
    }
}
