package dev.infercl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.Elementwise;
import dev.infercl.backend.Int8TestData;
import dev.infercl.backend.Int8TestData.Case;
import dev.infercl.backend.Int8Weight;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * CpuBackend's FAST INT8 paths (W8A16 per channel and groups of 32/64/128, W8A8 with and without smoothing)
 * against {@link Reference}: in-widths 7, 32, 64, 172, 4128, out-rows 1, 7, 33, tokens 1, 3, 17 (GEMV and the
 * token tile), guard rows untouched, NMSE ≤ 5e-4, an all-zero activation row (token scale 0).
 */
class Int8CpuParityTest {
    static final float SENTINEL = -12345.5f;
    static final int GUARD = 3;

    @Test
    void fastPathsEqualTheReference() {
        var worst = new TreeMap<String, Double>();
        var r = new Random(41);
        try (var arena = Arena.ofShared(); var fast = new CpuBackend(CpuBackend.Mode.FAST, 2);
             var ref = new CpuBackend(CpuBackend.Mode.REFERENCE, 1)) {
            for (Case c : Int8TestData.cases(4128)) {
                Int8Weight w = Int8TestData.weight(r, c, arena);
                float[] x = Int8TestData.activations(r, c.n(), c.in(), true);
                float[] want = Int8TestData.reference(w, x, c.n());
                float[] got = run(fast, w, x, c);
                String name = c.w8a8() ? "cpu W8A8" + (c.smooth() ? " smooth" : "") : "cpu W8A16 g" + c.groupSize();
                Int8TestData.nmse(name + " (" + c + ")", new TreeMap<>(), got, want, 5e-4);
                worst.merge(name, nmse(got, want), Math::max);
                if (c.w8a8() && c.n() > 1) {
                    for (int o = 0; o < c.out(); o++) assertEquals(0f, got[c.out() + o], "zero activation row gives zero output: " + c);
                }
                // the REFERENCE mode of the backend is the oracle itself
                assertEquals(0.0, nmse(run(ref, w, x, c), want), c.toString());
            }
        }
        worst.forEach((k, v) -> System.out.printf("worst NMSE %-24s %.3e%n", k, v));
    }

    static double nmse(float[] got, float[] want) {
        double err = 0, ref = 0;
        for (int i = 0; i < want.length; i++) {
            err += (got[i] - want[i]) * (double) (got[i] - want[i]);
            ref += (double) want[i] * want[i];
        }
        return ref == 0 ? err : err / ref;
    }

    static float[] run(CpuBackend b, Int8Weight w, float[] x, Case c) {
        Tensor wt = b.upload(w);
        assertEquals(GgmlType.I8, wt.type());
        Tensor xt = b.allocate("x", c.n(), c.in());
        b.write(xt, x);
        Tensor out = b.allocate("out", c.n() + GUARD, c.out());
        float[] all = new float[(c.n() + GUARD) * c.out()];
        Arrays.fill(all, SENTINEL);
        b.write(out, all);
        b.matmul(out.firstRows(c.n()), xt, wt);
        b.read(out, all);
        for (int i = c.n() * c.out(); i < all.length; i++) {
            if (all[i] != SENTINEL) fail(c + ": guard value " + i + " overwritten");
        }
        return Arrays.copyOf(all, c.n() * c.out());
    }

    /**
     * The fused decode ops with INT8 weights (W8A16 per channel (also 172 columns: a scalar tail) and g32, W8A8 with and without smoothing): Q·K·V
     * in one region, a projection accumulated into a residual, gate·up·SwiGLU — against the REFERENCE backend's
     * composition of the same ops.
     */
    @Test
    void fusedDecodeOpsEqualTheReference() {
        var r = new Random(43);
        try (var arena = Arena.ofShared(); var fast = new CpuBackend(CpuBackend.Mode.FAST, 2);
             var ref = new CpuBackend(CpuBackend.Mode.REFERENCE, 1)) {
            for (Case base : new Case[] {new Case(4128, 0, 0, false, false, 1), new Case(384, 0, 32, false, false, 1),
                    new Case(172, 0, 0, false, false, 1),
                    new Case(4128, 0, 0, true, true, 1), new Case(64, 0, 0, true, false, 1)}) {
                int[] rows = {33, 7, 1};
                Int8Weight[] ws = new Int8Weight[4];
                for (int j = 0; j < 4; j++) {
                    ws[j] = Int8TestData.weight(r, new Case(base.in(), rows[j % 3], base.groupSize(), base.w8a8(), base.smooth(), 1), arena);
                }
                float[] x = Int8TestData.activations(r, 1, base.in(), false);
                float[][] got = fused(fast, ws, x, rows), want = fused(ref, ws, x, rows);
                for (int j = 0; j < got.length; j++) Int8TestData.nmse(base + " fused output " + j, new TreeMap<>(), got[j], want[j], 5e-4);
            }
        }
    }

    /** Q, K, V of ws[0..2]; ws[0] accumulated into a ramp; swiglu of gate ws[0] and up ws[3] (as many rows as ws[0]). */
    static float[][] fused(CpuBackend b, Int8Weight[] ws, float[] x, int[] rows) {
        Tensor xt = b.allocate("x", 1, x.length);
        b.write(xt, x);
        Tensor[] w = new Tensor[4], outs = new Tensor[3];
        for (int j = 0; j < 4; j++) w[j] = b.upload(ws[j]);
        for (int j = 0; j < 3; j++) outs[j] = b.allocate("out" + j, 1, rows[j]);
        b.linear(xt, new Linear(outs[0], w[0]), new Linear(outs[1], w[1]), new Linear(outs[2], w[2]));
        float[][] r = new float[5][];
        for (int j = 0; j < 3; j++) b.read(outs[j], r[j] = new float[rows[j]]);
        Tensor acc = b.allocate("acc", 1, rows[0]);
        float[] ramp = new float[rows[0]];
        for (int i = 0; i < ramp.length; i++) ramp[i] = i - 10f;
        b.write(acc, ramp);
        b.linear(xt, Linear.accumulate(acc, w[0], null));
        b.read(acc, r[3] = new float[rows[0]]);
        Tensor sw = b.allocate("swiglu", 1, rows[0]);
        b.gatedLinear(sw, xt, w[0], w[3], Elementwise.SILU_MUL);
        b.read(sw, r[4] = new float[rows[0]]);
        return r;
    }

    @Test
    void readingAnInt8WeightDequantizesIt() {
        var r = new Random(42);
        try (var arena = Arena.ofShared(); var b = new CpuBackend(CpuBackend.Mode.FAST, 1)) {
            Int8Weight w = Int8TestData.weight(r, new Case(64, 5, 32, false, false, 1), arena);
            float[] want = new float[5 * 64], got = new float[5 * 64];
            w.dequantize(want);
            b.read(b.upload(w), got);
            assertEquals(Arrays.toString(want), Arrays.toString(got));
        }
    }

    @Test
    void badInt8WeightsAreRejected() {
        try (var arena = Arena.ofShared()) {
            var v = arena.allocate(64);
            assertThrows(IllegalArgumentException.class, () -> new Int8Weight("w", 2, 32, v, new float[1], 0, null, false));
            assertThrows(IllegalArgumentException.class, () -> new Int8Weight("w", 2, 32, v, new float[2], 0, new float[32], false));
            assertThrows(IllegalArgumentException.class, () -> new Int8Weight("w", 2, 32, v, new float[2], 32, null, true));
            assertThrows(IllegalArgumentException.class, () -> new Int8Weight("w", 2, 32, v, new float[4], 24, null, false));
        }
    }

    @Test
    void roundingIsHalfAwayFromZeroAndClamped() {
        assertEquals(3, Reference.roundToInt8(2.5f));
        assertEquals(-3, Reference.roundToInt8(-2.5f));
        assertEquals(2, Reference.roundToInt8(2.4999998f));
        assertEquals(127, Reference.roundToInt8(300f));
        assertEquals(-127, Reference.roundToInt8(-127.6f));
        // the oracle on a hand-computed row: x = (1, −2, 0.5, 0), a = 2/127
        float[] x = {1f, -2f, 0.5f, 0f};
        byte[] q = new byte[4];
        float[] a = new float[1];
        Reference.quantizeActivations(x, 1, 4, null, q, a);
        assertEquals(2f / 127f, a[0]);
        assertEquals("[64, -127, 32, 0]", Arrays.toString(q)); // 63.5 → 64, 31.75 → 32
        Reference.quantizeActivations(x, 1, 4, new float[] {1f, 2f, 1f, 1f}, q, a); // x' = (1, −1, 0.5, 0)
        assertEquals("[127, -127, 64, 0]", Arrays.toString(q));
    }
}
