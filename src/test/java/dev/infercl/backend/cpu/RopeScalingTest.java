package dev.infercl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.RopeSpec;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Scaled rotary embeddings against float64 implementations written here from the methods' own descriptions
 * (sharing nothing with {@link RopeSpec}): linear position interpolation, YaRN as transformers'
 * {@code _compute_yarn_parameters} states it (correction range from the rotation counts, a linear ramp between the
 * interpolated and the original inverse frequencies, attention factor 0.1·ln(s) + 1), and Phi-3's LongRoPE (inverse
 * frequencies divided by per-pair factors, cos and sin scaled by the attention factor the file carries). Reference.rope
 * must match within float rounding, and CpuOps.rope must equal Reference.rope bit for bit.
 */
class RopeScalingTest {
    static final double BASE = 10000;
    static final int HEAD_DIM = 64, HEADS = 3;

    /** Linear: every inverse frequency divided by the factor. */
    static double[] linearInvFreq(int dims, double factor) {
        double[] f = new double[dims / 2];
        for (int i = 0; i < f.length; i++) f[i] = 1 / (Math.pow(BASE, 2.0 * i / dims) * factor);
        return f;
    }

    /**
     * YaRN (transformers' formulation): dimension index whose wavelength turns {@code rot} times over the original
     * context, a range [floor(d(fast)), ceil(d(slow))] clipped to [0, dims − 1], and a ramp over pair indices that keeps
     * the original inverse frequency below the range and interpolates above it.
     */
    static double[] yarnInvFreq(int dims, double factor, int originalContext, double betaFast, double betaSlow) {
        double low = Math.max(Math.floor(dims * Math.log(originalContext / (betaFast * 2 * Math.PI)) / (2 * Math.log(BASE))), 0);
        double high = Math.min(Math.ceil(dims * Math.log(originalContext / (betaSlow * 2 * Math.PI)) / (2 * Math.log(BASE))), dims - 1);
        if (low == high) high += 0.001;
        double[] f = new double[dims / 2];
        for (int i = 0; i < f.length; i++) {
            double posFreq = Math.pow(BASE, 2.0 * i / dims);
            double extrapolation = 1 / posFreq, interpolation = 1 / (factor * posFreq);
            double keep = 1 - Math.min(1, Math.max(0, (i - low) / (high - low)));
            f[i] = interpolation * (1 - keep) + extrapolation * keep;
        }
        return f;
    }

    /** LongRoPE: inverse frequencies divided by the chosen factor set. */
    static double[] longRopeInvFreq(int dims, float[] ext) {
        double[] f = new double[dims / 2];
        for (int i = 0; i < f.length; i++) f[i] = 1 / (ext[i] * Math.pow(BASE, 2.0 * i / dims));
        return f;
    }

    /** Rotates every head of x in float64: pair i by pos·invFreq[i], cos and sin times {@code attention}. */
    static double[] rotate(float[] x, int n, int width, int dims, boolean neox, int[] pos, double[] invFreq, double attention) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i];
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < width / HEAD_DIM; h++) {
                int o = t * width + h * HEAD_DIM;
                for (int i = 0; i < dims / 2; i++) {
                    double th = pos[t] * invFreq[i], c = Math.cos(th) * attention, s = Math.sin(th) * attention;
                    int a = neox ? o + i : o + 2 * i, b = neox ? o + i + dims / 2 : o + 2 * i + 1;
                    out[a] = x[a] * c - x[b] * s;
                    out[b] = x[a] * s + x[b] * c;
                }
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0}, rope dims {1}, neox {2}")
    @CsvSource({"linear, 64, false", "linear, 32, true", "yarn, 64, true", "yarn, 48, false", "yarn-betas, 64, true",
            "longrope-short, 64, true", "longrope-long, 48, false"})
    void matchesFloat64(String kind, int dims, boolean neox) {
        var r = new Random(kind.hashCode() * 31L + dims);
        int n = 6, width = HEADS * HEAD_DIM, original = 4096;
        float[] ext = new float[dims / 2];
        for (int i = 0; i < ext.length; i++) ext[i] = kind.endsWith("long") ? 1f + 40f * i / ext.length : 1f + 0.2f * r.nextFloat();
        double factor = 8, attention = 1;
        double[] invFreq;
        RopeSpec spec;
        switch (kind) {
            case "linear" -> {
                invFreq = linearInvFreq(dims, factor);
                spec = new RopeSpec(HEAD_DIM, dims, (float) BASE, neox, null, RopeSpec.Scaling.linear(factor));
            }
            case "yarn", "yarn-betas" -> {
                double fast = kind.equals("yarn") ? 32 : 16, slow = kind.equals("yarn") ? 1 : 2;
                invFreq = yarnInvFreq(dims, factor, original, fast, slow);
                attention = 0.1 * Math.log(factor) + 1;
                spec = new RopeSpec(HEAD_DIM, dims, (float) BASE, neox, null, RopeSpec.Scaling.yarn(factor, original, dims, BASE, fast, slow));
            }
            case "longrope-short", "longrope-long" -> {
                invFreq = longRopeInvFreq(dims, ext);
                // Phi-3's attention factor for a 128k model of 4k original context: √(1 + ln 32 / ln 4096)
                attention = Math.sqrt(1 + Math.log(32) / Math.log(original));
                spec = new RopeSpec(HEAD_DIM, dims, (float) BASE, neox, ext, RopeSpec.Scaling.NONE.withMagnitude(attention));
            }
            default -> throw new IllegalArgumentException(kind);
        }
        assertEquals(attention, spec.magnitude(), 1e-12, kind + ": magnitude");
        for (int i = 0; i < dims / 2; i++) assertEquals(invFreq[i], spec.theta(i), 1e-12 * invFreq[i], kind + ": theta " + i);

        float[] x = new float[n * width];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        int[] pos = {0, 1, 17, 1000, 4095, 30000};
        double[] want = rotate(x, n, width, dims, neox, pos, invFreq, attention);
        float[] ref = x.clone(), cpu = x.clone();
        Reference.rope(ref, n, width, pos, spec);
        CpuOps.rope(cpu, n, width, pos, spec);
        double worst = 0;
        for (int i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(ref[i] - want[i]));
        // cos·m and sin·m rounded to float, then two float products and a sum on O(1) values
        assertTrue(worst < 1e-5, kind + ": Reference.rope off the float64 rotation by " + worst);
        assertArrayEquals(ref, cpu, kind + ": CpuOps.rope and Reference.rope");

        // the scaling matters here: plain RoPE is far from it
        float[] plain = x.clone();
        Reference.rope(plain, n, width, pos, new RopeSpec(HEAD_DIM, dims, (float) BASE, neox));
        double moved = 0;
        for (int i = 0; i < x.length; i++) moved = Math.max(moved, Math.abs(plain[i] - want[i]));
        assertTrue(moved > 0.1, kind + ": plain RoPE differs by only " + moved);
    }

    /** The ramp really mixes: with these parameters some pairs keep their angle, some are interpolated, some lie between. */
    @ParameterizedTest(name = "rope dims {0}")
    @CsvSource({"64", "48", "128"})
    void yarnRampCoversThreeRegions(int dims) {
        double[] yarn = yarnInvFreq(dims, 8, 4096, 32, 1), plain = linearInvFreq(dims, 1), linear = linearInvFreq(dims, 8);
        int kept = 0, interpolated = 0, mixed = 0;
        for (int i = 0; i < dims / 2; i++) {
            if (Math.abs(yarn[i] - plain[i]) < 1e-15) kept++;
            else if (Math.abs(yarn[i] - linear[i]) < 1e-15) interpolated++;
            else mixed++;
        }
        assertTrue(kept > 0 && interpolated > 0 && mixed > 0, "kept " + kept + ", interpolated " + interpolated + ", mixed " + mixed);
    }
}
