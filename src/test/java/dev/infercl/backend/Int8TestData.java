package dev.infercl.backend;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.cpu.Reference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Shared by the INT8 parity tests: the shape grid, seeded weights and activations, the oracle and NMSE. */
public final class Int8TestData {
    private Int8TestData() {}

    /** One matmul case: weight shape, scheme, tokens, and whether token 1 (when present) is an all-zero row. */
    public record Case(int in, int out, int groupSize, boolean w8a8, boolean smooth, int n) {
        @Override
        public String toString() {
            return (w8a8 ? "W8A8" + (smooth ? "+smooth" : "") : "W8A16 g" + groupSize) + " in " + in + " out " + out + " n " + n;
        }
    }

    /** In-widths 32, 64, 384 (groups of 128), 4128 (wide); plus 7 and 172 (not multiples of 16 or 32) for the per-channel schemes. */
    public static List<Case> cases(int wide) {
        List<Case> cs = new ArrayList<>();
        for (int in : new int[] {32, 64, 384, wide, 7, 172}) {
            for (int out : new int[] {1, 7, 33}) {
                for (int n : new int[] {1, 3, 17}) {
                    for (int g : new int[] {0, 32, 64, 128}) {
                        if (g == 0 || in % g == 0) cs.add(new Case(in, out, g, false, false, n));
                    }
                    cs.add(new Case(in, out, 0, true, false, n));
                    cs.add(new Case(in, out, 0, true, true, n));
                }
            }
        }
        return cs;
    }

    /** A seeded random weight for the case: int8 values in [−127, 127], positive scales, smoothing in [0.25, 4]. */
    public static Int8Weight weight(Random r, Case c, Arena arena) {
        MemorySegment v = arena.allocate((long) c.in() * c.out(), 64);
        for (long i = 0; i < v.byteSize(); i++) v.set(ValueLayout.JAVA_BYTE, i, (byte) (r.nextInt(255) - 127));
        int groups = c.groupSize() == 0 ? 1 : c.in() / c.groupSize();
        float[] scales = new float[c.out() * groups];
        for (int i = 0; i < scales.length; i++) scales[i] = (0.5f + r.nextFloat()) / 127f;
        float[] smooth = null;
        if (c.smooth()) {
            smooth = new float[c.in()];
            for (int j = 0; j < c.in(); j++) smooth[j] = (float) Math.pow(2, 4 * r.nextFloat() - 2);
        }
        return new Int8Weight("w", c.out(), c.in(), v, scales, c.groupSize(), smooth, c.w8a8());
    }

    /** Gaussian activations with a few outlier channels; row 1 all zero when {@code zeroRow} and n > 1. */
    public static float[] activations(Random r, int n, int in, boolean zeroRow) {
        float[] x = new float[n * in];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian() * ((i % in) % 13 == 5 ? 8f : 1f);
        if (zeroRow && n > 1) java.util.Arrays.fill(x, in, 2 * in, 0f);
        return x;
    }

    /** The oracle: {@link Reference#matmulW8A16} or {@link Reference#matmulW8A8}. */
    public static float[] reference(Int8Weight w, float[] x, int n) {
        float[] want = new float[n * w.rows()];
        if (w.quantizeActivations()) Reference.matmulW8A8(want, x, n, w.cols(), w.values(), w.scales(), w.smooth(), w.rows());
        else Reference.matmulW8A16(want, x, n, w.cols(), w.values(), w.scales(), w.groupSize(), w.rows());
        return want;
    }

    /** Normalized MSE of got against want (no NaN/Inf allowed), recorded per kernel, asserted ≤ limit. */
    public static double nmse(String kernel, Map<String, Double> worst, float[] got, float[] want, double limit) {
        double err = 0, ref = 0;
        for (int i = 0; i < want.length; i++) {
            if (!Float.isFinite(got[i])) fail(kernel + ": value " + i + " is " + got[i]);
            double d = got[i] - want[i];
            err += d * d;
            ref += (double) want[i] * want[i];
        }
        double e = ref == 0 ? err : err / ref;
        worst.merge(kernel, e, Math::max);
        assertTrue(e <= limit, kernel + ": normalized MSE " + e + " > " + limit);
        return e;
    }
}
