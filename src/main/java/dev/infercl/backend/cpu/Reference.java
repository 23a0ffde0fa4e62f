package dev.infercl.backend.cpu;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.Elementwise;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.RopeSpec;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;

/**
 * The oracle: every op as plain scalar loops over host arrays, written for clarity and never optimised.
 * Every fast path (CpuBackend's Vector API code, every OpenCL kernel) is tested against these functions, and
 * {@code CpuBackend} can be switched back to them ({@code --backend reference}).
 *
 * <p>Matrices are row-major {@code float[]}: row t of an {@code [n × width]} matrix starts at {@code t·width}.
 */
public final class Reference {
    private Reference() {}

    /** out[t] = table[tokens[t]]: table has rows of {@code width} values in {@code type}. */
    public static void embed(float[] out, MemorySegment table, GgmlType type, int width, int[] tokens) {
        for (int t = 0; t < tokens.length; t++) {
            Dequant.row(type, table, (long) tokens[t] * width, out, t * width, width);
        }
    }

    /**
     * out[g] = x[g] / sqrt(mean(x[g]²) + eps) · w for every group g of {@code w.length} consecutive values in
     * the first n rows of width {@code width} (a group is a whole row, or one head when w is a head wide).
     */
    public static void rmsNorm(float[] out, float[] x, float[] w, int n, int width, float eps) {
        int g = w.length;
        for (int base = 0; base < n * width; base += g) {
            double ss = 0;
            for (int i = 0; i < g; i++) ss += (double) x[base + i] * x[base + i];
            float scale = (float) (1.0 / Math.sqrt(ss / g + eps));
            for (int i = 0; i < g; i++) out[base + i] = x[base + i] * scale * w[i];
        }
    }

    /** out[t] = (x[t] − mean) / sqrt(variance + eps) · w + b over rows t in [0, n). */
    public static void layerNorm(float[] out, float[] x, float[] w, float[] b, int n, int width, float eps) {
        for (int t = 0; t < n; t++) {
            int base = t * width;
            double mean = 0;
            for (int i = 0; i < width; i++) mean += x[base + i];
            mean /= width;
            double var = 0;
            for (int i = 0; i < width; i++) var += (x[base + i] - mean) * (x[base + i] - mean);
            float inv = (float) (1.0 / Math.sqrt(var / width + eps));
            for (int i = 0; i < width; i++) out[base + i] = (float) (x[base + i] - mean) * inv * w[i] + b[i];
        }
    }

    /**
     * out[i] = op(a[i], b[i]) over the first n rows of width {@code width} (b[i mod width] for ADD_ROW; b unused by
     * the unary ops). Element by element, so out may be a or b.
     */
    public static void map(float[] out, Elementwise op, float[] a, float[] b, int n, int width) {
        for (int i = 0; i < n * width; i++) {
            float y = !op.binary() ? 0 : op.kind() == Elementwise.Kind.ADD_ROW ? b[i % width] : b[i];
            out[i] = apply(op, a[i], y);
        }
    }

    /** One element of {@link #map}. */
    public static float apply(Elementwise op, float a, float b) {
        return switch (op.kind()) {
            case ADD, ADD_ROW -> a + b;
            case SILU_MUL -> (float) (a / (1.0 + Math.exp(-a))) * b;
            case GELU_MUL -> gelu(a) * b;
            case GELU -> gelu(a);
            case SCALE -> a * op.c();
            case SOFTCAP -> (float) (op.c() * Math.tanh(a / op.c()));
            case RELU -> a > 0 ? a : 0f;
        };
    }

    /** GELU, tanh approximation. */
    public static float gelu(float x) {
        return (float) (0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))));
    }

    /** dst = the (dstRows × dstCols) block of src (rows of srcCols values) whose first value is src[row][col]. */
    public static void copy(float[] dst, int dstRows, int dstCols, float[] src, int srcCols, int row, int col) {
        for (int t = 0; t < dstRows; t++) System.arraycopy(src, (row + t) * srcCols + col, dst, t * dstCols, dstCols);
    }

    /**
     * x as llama.cpp's Q8_K activations carry it, the input of the int8-activation K-quant products
     * (opencl-kernels/quantize_f32_q8k.cl): per 256 values of each row, m the value of largest magnitude (the first of
     * equals), s = −127 / m in float, q = min(127, rint(s·x)), and the value q / s; zeros stay zeros. {@code in} is a
     * multiple of 256.
     */
    public static float[] roundQ8K(float[] x, int in) {
        float[] out = new float[x.length];
        for (int b = 0; b < x.length; b += 256) {
            float amax = 0, m = 0;
            for (int i = b; i < b + 256; i++) {
                if (Math.abs(x[i]) > amax) {
                    amax = Math.abs(x[i]);
                    m = x[i];
                }
            }
            if (amax == 0) continue;
            float s = -127f / m, d = 1f / s;
            for (int i = b; i < b + 256; i++) out[i] = Math.min(127, (int) Math.rint(s * x[i])) * d;
        }
        return out;
    }

    /**
     * x as llama.cpp's Q8_0 activations hold it (quantize_f32_q8_0tiles on the device): per 32 values m = the largest
     * magnitude, q = rint(x · 127 / m), and the value q · d with d = m / 127 rounded to F16; zeros stay zeros.
     * {@code x.length} is a multiple of 32.
     */
    public static float[] roundQ8_0(float[] x) {
        float[] out = new float[x.length];
        for (int b = 0; b < x.length; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(x[i]));
            if (amax == 0) continue;
            float id = 127f / amax, d = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            for (int i = b; i < b + 32; i++) out[i] = (float) Math.rint(x[i] * id) * d;
        }
        return out;
    }

    /**
     * out[t][o] = Σ_i x[t][i] · W[o][i] for t in [0, n), o in [0, outRows): W has {@code outRows} rows of
     * {@code in} values in {@code type}, each row {@code type.byteSize(in)} bytes.
     */
    public static void matmul(float[] out, float[] x, int n, int in, MemorySegment w, GgmlType type, int outRows) {
        float[] row = new float[in];
        for (int o = 0; o < outRows; o++) {
            Dequant.row(type, w, (long) o * in, row, 0, in);
            for (int t = 0; t < n; t++) {
                float sum = 0;
                for (int i = 0; i < in; i++) sum += x[t * in + i] * row[i];
                out[t * outRows + o] = sum;
            }
        }
    }

    /**
     * W8A16: out[t][o] = Σ_j x[t][j] · (q[o][j] · scale[o][j / gs]) for t in [0, n), o in [0, outRows); q is
     * (outRows, in) int8 row-major, scales (outRows, groups), gs = groupSize (in when groupSize is 0).
     */
    public static void matmulW8A16(float[] out, float[] x, int n, int in, MemorySegment q, float[] scales, int groupSize, int outRows) {
        int gs = groupSize == 0 ? in : groupSize, groups = in / gs;
        for (int o = 0; o < outRows; o++) {
            for (int t = 0; t < n; t++) {
                float sum = 0;
                for (int j = 0; j < in; j++) {
                    float w = q.get(java.lang.foreign.ValueLayout.JAVA_BYTE, (long) o * in + j) * scales[o * groups + j / gs];
                    sum += x[t * in + j] * w;
                }
                out[t * outRows + o] = sum;
            }
        }
    }

    /**
     * W8A8 activation quantization, per token t: x'_j = x[t][j] / smooth[j] (smooth null: 1), a_t = max_j |x'_j| / 127,
     * xq[t][j] = clamp(round_half_away_from_zero(x'_j / a_t), −127, 127); a_t = 0 gives a row of zeros.
     */
    public static void quantizeActivations(float[] x, int n, int in, float[] smooth, byte[] xq, float[] tokenScale) {
        for (int t = 0; t < n; t++) {
            float max = 0;
            for (int j = 0; j < in; j++) max = Math.max(max, Math.abs(smooth == null ? x[t * in + j] : x[t * in + j] / smooth[j]));
            float a = max / 127f;
            tokenScale[t] = a;
            for (int j = 0; j < in; j++) {
                float v = smooth == null ? x[t * in + j] : x[t * in + j] / smooth[j];
                xq[t * in + j] = a == 0 ? 0 : roundToInt8(v / a);
            }
        }
    }

    /** round half away from zero, clamped to [−127, 127]. */
    public static byte roundToInt8(float v) {
        double r = Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
        return (byte) Math.max(-127, Math.min(127, r));
    }

    /**
     * W8A8: activations quantized per token ({@link #quantizeActivations}), then
     * out[t][o] = a_t · scale[o] · Σ_j xq[t][j] · q[o][j] with the sum in int32 (evaluated as (a_t · scale[o]) · sum).
     */
    public static void matmulW8A8(float[] out, float[] x, int n, int in, MemorySegment q, float[] scales, float[] smooth, int outRows) {
        byte[] xq = new byte[n * in];
        float[] a = new float[n];
        quantizeActivations(x, n, in, smooth, xq, a);
        for (int o = 0; o < outRows; o++) {
            for (int t = 0; t < n; t++) {
                int sum = 0;
                for (int j = 0; j < in; j++) sum += xq[t * in + j] * q.get(java.lang.foreign.ValueLayout.JAVA_BYTE, (long) o * in + j);
                out[t * outRows + o] = a[t] * scales[o] * sum;
            }
        }
    }

    /**
     * Rotates each head of row t (width = heads · headDim) by positions[t], in place (see {@link RopeSpec}): the angle
     * and the magnitude in double, cos·magnitude and sin·magnitude rounded to float once.
     */
    public static void rope(float[] x, int n, int width, int[] positions, RopeSpec spec) {
        int hd = spec.headDim();
        int rd = spec.ropeDims();
        double m = spec.magnitude();
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < width / hd; h++) {
                int base = t * width + h * hd;
                for (int i = 0; i < rd / 2; i++) {
                    double theta = positions[t] * spec.theta(i);
                    float c = (float) (Math.cos(theta) * m), s = (float) (Math.sin(theta) * m);
                    int a = spec.neox() ? base + i : base + 2 * i;
                    int b = spec.neox() ? base + i + rd / 2 : base + 2 * i + 1;
                    float x0 = x[a], x1 = x[b];
                    x[a] = x0 * c - x1 * s;
                    x[b] = x0 * s + x1 * c;
                }
            }
        }
    }

    /** Index of the first value of (slot, kvHead) in one layer's K or V array of a cache with {@code layout}. */
    public static int cacheIndex(KvLayout layout, int slot, int kvHead) {
        int block = slot / layout.blockSize(), offset = slot % layout.blockSize();
        return ((block * layout.kvHeads() + kvHead) * layout.blockSize() + offset) * layout.headDim();
    }

    /** {@link #attention(float[], float[], float[], float[], float[], float[], KvLayout, Batch, int, AttentionSpec)} of one sequence. */
    public static void attention(float[] out, float[] q, float[] k, float[] v, float[] kCache, float[] vCache,
                                 KvLayout layout, BlockTable table, int[] positions, int heads, AttentionSpec spec) {
        attention(out, q, k, v, kCache, vCache, layout, new Batch(positions, table), heads, spec);
    }

    /**
     * Writes k[t], v[t] at position positions[t] of row t's sequence in one layer's cache arrays (layout (block,
     * kvHead, slot, headDim)), then out[t] = Σ_p softmax_p(score(q[t], K[p])) · V[p] over the positions p of that
     * sequence the spec lets positions[t] see, score = q·k · scale (+ the relative-position bias of (positions[t], p)
     * and the head, read from {@code bias}: (buckets, heads), when the spec has one), soft-capped when the spec says so;
     * per query head. k and v null: nothing is written (cross-attention over a cache filled before); q null: nothing is
     * attended (the call only fills the cache).
     */
    public static void attention(float[] out, float[] q, float[] k, float[] v, float[] kCache, float[] vCache,
                                 KvLayout layout, Batch batch, int heads, AttentionSpec spec) {
        attention(out, q, k, v, kCache, vCache, layout, batch, heads, spec, null);
    }

    /** As above, with the spec's relative-position bias table on the host ((buckets, heads); null without one). */
    public static void attention(float[] out, float[] q, float[] k, float[] v, float[] kCache, float[] vCache,
                                 KvLayout layout, Batch batch, int heads, AttentionSpec spec, float[] bias) {
        int hd = layout.headDim(), kvHeads = layout.kvHeads();
        int[] positions = batch.positions();
        int n = positions.length;
        for (int t = 0; t < n && k != null; t++) {
            int slot = batch.table(t).slot(positions[t]);
            for (int g = 0; g < kvHeads; g++) {
                int dst = cacheIndex(layout, slot, g);
                System.arraycopy(k, t * kvHeads * hd + g * hd, kCache, dst, hd);
                System.arraycopy(v, t * kvHeads * hd + g * hd, vCache, dst, hd);
            }
        }
        int group = heads / kvHeads;
        var rb = spec.bias();
        for (int t = 0; t < n && q != null; t++) {
            BlockTable table = batch.table(t);
            int first = spec.firstVisible(positions[t]), len = spec.visibleEnd(positions[t]);
            double[] scores = new double[len];
            for (int h = 0; h < heads; h++) {
                int g = h / group;
                int qo = t * heads * hd + h * hd;
                double max = Double.NEGATIVE_INFINITY;
                for (int p = first; p < len; p++) {
                    int ko = cacheIndex(layout, table.slot(p), g);
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += q[qo + i] * kCache[ko + i];
                    scores[p] = dot * spec.scale();
                    if (rb != null) scores[p] += bias[rb.bucket(positions[t], p) * heads + h];
                    if (spec.softcap() > 0) scores[p] = spec.softcap() * Math.tanh(scores[p] / spec.softcap());
                    max = Math.max(max, scores[p]);
                }
                double sum = 0;
                for (int p = first; p < len; p++) {
                    scores[p] = Math.exp(scores[p] - max);
                    sum += scores[p];
                }
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int p = first; p < len; p++) acc += scores[p] * vCache[cacheIndex(layout, table.slot(p), g) + i];
                    out[qo + i] = (float) (acc / sum);
                }
            }
        }
    }
}
