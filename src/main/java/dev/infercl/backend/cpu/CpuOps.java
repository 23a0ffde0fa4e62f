package dev.infercl.backend.cpu;

import static dev.infercl.backend.cpu.VectorCodecs.F;
import static dev.infercl.backend.cpu.VectorCodecs.L;
import static jdk.incubator.vector.VectorOperators.ADD;

import dev.infercl.backend.RopeSpec;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** The row-wise and element-wise ops (RMS norm, SwiGLU, add, rotary embedding) in float lanes, on the calling thread. */
final class CpuOps {
    private CpuOps() {}

    /** out[t] = x[t] / sqrt(mean(x[t]²) + eps) · w; the sum of squares in float lanes (the reference uses double). */
    static void rmsNorm(float[] out, float[] x, float[] w, int n, int width, float eps) {
        int vecEnd = width - width % L;
        for (int t = 0; t < n; t++) {
            int r = t * width;
            var ss = FloatVector.zero(F);
            for (int i = 0; i < vecEnd; i += L) {
                var xv = FloatVector.fromArray(F, x, r + i);
                ss = xv.fma(xv, ss);
            }
            double sum = ss.reduceLanes(ADD);
            for (int i = vecEnd; i < width; i++) sum += (double) x[r + i] * x[r + i];
            float scale = (float) (1.0 / Math.sqrt(sum / width + eps));
            for (int i = 0; i < vecEnd; i += L) {
                FloatVector.fromArray(F, x, r + i).mul(scale).mul(FloatVector.fromArray(F, w, i)).intoArray(out, r + i);
            }
            for (int i = vecEnd; i < width; i++) out[r + i] = x[r + i] * scale * w[i];
        }
    }

    /** out = silu(gate) ⊙ up = gate / (1 + e^−gate) · up, in float lanes. */
    static void swiglu(float[] out, float[] gate, float[] up, int count) {
        swiglu(out, gate, up, 0, count);
    }

    /** {@link #swiglu} over elements from..to−1. */
    static void swiglu(float[] out, float[] gate, float[] up, int from, int to) {
        int vecEnd = to - (to - from) % L;
        for (int i = from; i < vecEnd; i += L) {
            var g = FloatVector.fromArray(F, gate, i);
            var silu = g.div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            silu.mul(FloatVector.fromArray(F, up, i)).intoArray(out, i);
        }
        for (int i = vecEnd; i < to; i++) {
            float g = gate[i];
            out[i] = (float) (g / (1.0 + Math.exp(-g))) * up[i];
        }
    }

    /** out = a + b (out may be a or b). */
    static void add(float[] out, float[] a, float[] b, int count) {
        int vecEnd = count - count % L;
        for (int i = 0; i < vecEnd; i += L) FloatVector.fromArray(F, a, i).add(FloatVector.fromArray(F, b, i)).intoArray(out, i);
        for (int i = vecEnd; i < count; i++) out[i] = a[i] + b[i];
    }

    /**
     * Rotary embedding as {@link Reference#rope}, with each token's cos/sin table computed once and shared by all
     * its heads (the reference recomputes pow/cos/sin per head). Same double math, so the results are identical.
     */
    static void rope(float[] x, int n, int width, int[] positions, RopeSpec spec) {
        int hd = spec.headDim(), half = spec.ropeDims() / 2;
        float[] cos = new float[half], sin = new float[half];
        double m = spec.magnitude();
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < half; i++) {
                double theta = positions[t] * spec.theta(i);
                cos[i] = (float) (Math.cos(theta) * m);
                sin[i] = (float) (Math.sin(theta) * m);
            }
            for (int base = t * width; base < (t + 1) * width - hd + 1; base += hd) {
                for (int i = 0; i < half; i++) {
                    int a = spec.neox() ? base + i : base + 2 * i;
                    int b = spec.neox() ? base + i + half : base + 2 * i + 1;
                    float x0 = x[a], x1 = x[b];
                    x[a] = x0 * cos[i] - x1 * sin[i];
                    x[b] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }
}
