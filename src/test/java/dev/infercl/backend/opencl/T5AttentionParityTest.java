package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.KvType;
import dev.infercl.backend.RelativeBias;
import dev.infercl.backend.Tensor;
import dev.infercl.backend.cpu.CpuBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The attention op's T5 arguments (relative-position bias, unmasked extent, write-only and attend-only calls) on the
 * CPU backend and on OpenCL (each kernel shape forced; F32 and FP16 caches) against the scalar Reference: an encoder
 * batch (bidirectional bias, unmasked), a causal decoder prefill and a decode row past 2·256 positions (causal bias;
 * the split kernel's range), and cross-attention over 530 keys written once, read by 3 rows.
 */
class T5AttentionParityTest {
    static final int HEADS = 4, KV_HEADS = 2, HD = 32, BUCKETS = 32;

    @Test
    void bucketsAreLlamaCpps() {
        // ../shared/t5/README.md's tables (n = query − key ≥ 0; encoder keys after the query add 16)
        int[] enc = {0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 22, 23, 31, 32, 45, 46, 63, 64, 90, 91, 500};
        int[] encB = {0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15};
        for (int i = 0; i < enc.length; i++) {
            assertEquals(encB[i], RelativeBias.bucket(enc[i], 0, BUCKETS, true, 128), "encoder, key " + enc[i] + " before the query");
            if (enc[i] > 0) assertEquals(16 + encB[i], RelativeBias.bucket(0, enc[i], BUCKETS, true, 128), "encoder, key " + enc[i] + " after");
        }
        int[] dec = {0, 15, 16, 18, 19, 20, 21, 23, 24, 26, 27, 30, 31, 34, 35, 39, 40, 45, 46, 51, 52, 58, 59, 66, 67, 76, 77, 86, 87, 98, 99, 112, 113, 1000};
        int[] decB = {0, 15, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23, 24, 24, 25, 25, 26, 26, 27, 27, 28, 28, 29, 29, 30, 30, 31, 31};
        for (int i = 0; i < dec.length; i++) assertEquals(decB[i], RelativeBias.bucket(dec[i], 0, BUCKETS, false, 128), "decoder, distance " + dec[i]);
    }

    @ParameterizedTest
    @ValueSource(strings = {"CPU", "OPENCL_F32", "OPENCL_F16", "OPENCL_F32_FUSED", "OPENCL_F32_SPLIT", "OPENCL_F32_LANES"})
    void matchesReference(String kind) {
        Supplier<Backend> b = switch (kind) {
            case "CPU" -> CpuBackend::new;
            case "OPENCL_F32" -> () -> ClTestSupport.open(ClOptions.defaults().withKvType(KvType.F32));
            case "OPENCL_F16" -> () -> ClTestSupport.open(ClOptions.defaults().withKvType(KvType.F16));
            case "OPENCL_F32_FUSED" -> () -> ClTestSupport.open(ClOptions.defaults().withKvType(KvType.F32).withAttention(KernelChooser.Attention.FUSED));
            case "OPENCL_F32_SPLIT" -> () -> ClTestSupport.open(ClOptions.defaults().withKvType(KvType.F32).withAttention(KernelChooser.Attention.SPLIT));
            default -> () -> ClTestSupport.open(ClOptions.defaults().withKvType(KvType.F32).withAttention(KernelChooser.Attention.LANES));
        };
        List<float[]> want, got;
        try (Backend ref = new CpuBackend(CpuBackend.Mode.REFERENCE, 1)) {
            want = scenario(ref);
        }
        try (Backend be = b.get()) {
            got = scenario(be);
        }
        String[] names = {"encoder (unmasked, bidirectional bias)", "decoder prefill (causal bias)", "decode row at 600", "cross-attention (write once, read)"};
        for (int i = 0; i < want.size(); i++) {
            double num = 0, den = 0;
            for (int j = 0; j < want.get(i).length; j++) {
                float g = got.get(i)[j];
                assertTrue(Float.isFinite(g), names[i] + ": value " + j + " is " + g);
                num += (g - want.get(i)[j]) * (double) (g - want.get(i)[j]);
                den += want.get(i)[j] * (double) want.get(i)[j];
            }
            double nmse = num / den;
            System.out.printf("t5 attention on %s, %s: NMSE %.2e%n", kind, names[i], nmse);
            assertTrue(nmse <= 5e-4, kind + ", " + names[i] + ": NMSE " + nmse);
        }
    }

    /** The four attention results of the scenario (same seed on every backend). */
    static List<float[]> scenario(Backend b) {
        var rnd = new Random(19);
        var out = new ArrayList<float[]>();
        var tables = new ArrayList<BlockTable>();
        var caches = new ArrayList<KvCache>();
        try {
            Tensor bias = tensor(b, rnd, BUCKETS, HEADS, 1f);
            var bidi = new RelativeBias(bias, BUCKETS, true, 128);
            var causal = new RelativeBias(bias, BUCKETS, false, 128);
            var plain = new AttentionSpec(1f, 0f, 0, null);
            // encoder: 37 rows, every one sees every position
            int n = 37;
            out.add(run(b, rnd, caches, tables, n, plain.unmasked(n).withBias(bidi)));
            // decoder: a causal prefill of 600 rows, then one decode row at 600 on the same cache
            KvCache dc = cache(b, caches, 640);
            BlockTable dt = new BlockTable(dc.pool(), 16);
            tables.add(dt);
            out.add(step(b, rnd, dc, dt, 0, 600, plain.withBias(causal), true));
            out.add(step(b, rnd, dc, dt, 600, 1, plain.withBias(causal), true));
            // cross-attention: 530 keys written once (no query), then 3 rows read them (no write), no bias
            KvCache cc = cache(b, caches, 530);
            BlockTable ct = new BlockTable(cc.pool(), 16);
            tables.add(ct);
            ct.reserve(530);
            ct.setLength(530);
            int[] keysPos = new int[530];
            for (int i = 0; i < keysPos.length; i++) keysPos[i] = i;
            Tensor k = tensor(b, rnd, 530, KV_HEADS * HD, 1f), v = tensor(b, rnd, 530, KV_HEADS * HD, 1f);
            b.attention(null, null, k, v, cc, 0, new Batch(keysPos, ct), plain.unmasked(530));
            Tensor q = tensor(b, rnd, 3, HEADS * HD, 0.3f), o = b.allocate("o", 3, HEADS * HD);
            b.attention(o, q, null, null, cc, 0, new Batch(new int[] {0, 1, 2}, ct), plain.unmasked(530));
            float[] r = new float[3 * HEADS * HD];
            b.read(o, r);
            out.add(r);
            return out;
        } finally {
            for (BlockTable t : tables) t.release();
            for (KvCache c : caches) c.close();
        }
    }

    /** n rows at positions 0..n−1 on a cache of their own whose length is set first (the encoder's unmasked batch). */
    private static float[] run(Backend b, Random rnd, List<KvCache> caches, List<BlockTable> tables, int n, AttentionSpec spec) {
        KvCache c = cache(b, caches, n);
        BlockTable t = new BlockTable(c.pool(), 16);
        tables.add(t);
        t.reserve(n);
        t.setLength(n);
        return step(b, rnd, c, t, 0, n, spec, false);
    }

    private static float[] step(Backend b, Random rnd, KvCache c, BlockTable t, int start, int n, AttentionSpec spec, boolean grow) {
        int[] pos = new int[n];
        for (int i = 0; i < n; i++) pos[i] = start + i;
        if (grow) t.reserve(start + n);
        Tensor q = tensor(b, rnd, n, HEADS * HD, 0.3f), k = tensor(b, rnd, n, KV_HEADS * HD, 1f), v = tensor(b, rnd, n, KV_HEADS * HD, 1f);
        Tensor o = b.allocate("o", n, HEADS * HD);
        b.attention(o, q, k, v, c, 0, new Batch(pos, t), spec);
        if (grow) t.setLength(start + n);
        float[] r = new float[n * HEADS * HD];
        b.read(o, r);
        return r;
    }

    private static KvCache cache(Backend b, List<KvCache> caches, int positions) {
        KvCache c = b.createKvCache(new KvLayout(1, KV_HEADS, HD, 16, Math.ceilDiv(positions, 16)));
        caches.add(c);
        return c;
    }

    private static Tensor tensor(Backend b, Random rnd, int rows, int cols, float sd) {
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * sd;
        Tensor t = b.allocate("t", rows, cols);
        b.write(t, x);
        return t;
    }
}
