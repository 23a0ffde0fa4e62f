package dev.infercl.backend.cpu;

import dev.infercl.backend.BlockTable;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.RopeSpec;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * CpuBackend's fast paths: the same arithmetic as {@link Reference}, with the Vector API and across cores.
 *
 * <p>Weights are read in their file type straight from the mapped segment and decoded in registers; nothing
 * is widened to an F32 copy. Every species is a {@code static final} constant, which the Vector API needs in
 * order to compile to machine vectors instead of boxed objects.
 */
final class CpuKernels {
    private CpuKernels() {}

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Ints of the same shape as F: the lanes F16/BF16 bits are widened into before being reinterpreted. */
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    /** L halves (16-bit lanes) in half F's width: one load yields one float vector after widening. */
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    /**
     * Int8 lanes for the quantized types. Normally L bytes (one float vector per load); on 128-bit machines
     * (L = 4) the narrowest byte vector holds 8, and each load is widened in {@link #PARTS} parts.
     */
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, L * 8)));
    private static final int PARTS = B.length() / L;

    /** Tokens sharing one decode of a weight row: each weight vector is decoded once, then used TILE times. */
    private static final int TILE = 4;

    // ---------------------------------------------------------------------------------------------- matmul

    /**
     * out[t][o] = Σ_i x[t][i]·W[o][i]. Output rows are split into chunks across the pool; within a chunk each
     * weight row is decoded once per tile of {@link #TILE} tokens (prefill), or once for a single token (decode).
     */
    static void matmul(ForkJoinPool pool, float[] out, float[] x, int n, int in, MemorySegment w, GgmlType type, int outRows) {
        long rowBytes = type.byteSize(in);
        // ~8 chunks per thread balance uneven progress; chunks of a few rows at least keep the overhead small.
        int chunk = Math.max(Math.max(1, 4096 / Math.max(1, in * n)), outRows / (pool.getParallelism() * 8));
        int chunks = (outRows + chunk - 1) / chunk;
        parallelFor(pool, chunks, c -> {
            for (int o = c * chunk; o < Math.min(outRows, (c + 1) * chunk); o++) {
                long row = o * rowBytes;
                for (int t0 = 0; t0 < n; t0 += TILE) {
                    int tn = Math.min(TILE, n - t0);
                    switch (type) {
                        case F32 -> rowF32(w, row, x, in, t0, tn, out, o, outRows);
                        case F16 -> rowF16(w, row, x, in, t0, tn, out, o, outRows);
                        case BF16 -> rowBf16(w, row, x, in, t0, tn, out, o, outRows);
                        case Q8_0 -> rowQ8_0(w, row, x, in, t0, tn, out, o, outRows);
                        case Q4_0 -> rowQ4_0(w, row, x, in, t0, tn, out, o, outRows);
                        default -> throw new IllegalArgumentException("matmul: no kernel for " + type);
                    }
                }
            }
        });
    }

    // Each row method computes out[t][o] for tokens t0..t0+tn−1 against weight row o at byte offset `row`.
    // A full tile runs four accumulators over one pass of the row; a partial tile (the last tokens of a
    // prefill, or decode) runs one token at a time, so a single-token GEMV does no wasted multiply-adds.

    private static void rowF32(MemorySegment w, long row, float[] x, int in, int t0, int tn, float[] out, int o, int outRows) {
        int vecEnd = in - in % L;
        if (tn == TILE) {
            int x0 = t0 * in, x1 = x0 + in, x2 = x1 + in, x3 = x2 + in;
            var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
            for (int i = 0; i < vecEnd; i += L) {
                var wv = FloatVector.fromMemorySegment(F, w, row + i * 4L, LE);
                a0 = wv.fma(FloatVector.fromArray(F, x, x0 + i), a0);
                a1 = wv.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = wv.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = wv.fma(FloatVector.fromArray(F, x, x3 + i), a3);
            }
            store4(out, o, outRows, t0, a0, a1, a2, a3);
        } else {
            for (int t = t0; t < t0 + tn; t++) {
                int xt = t * in;
                var a = FloatVector.zero(F);
                for (int i = 0; i < vecEnd; i += L) {
                    a = FloatVector.fromMemorySegment(F, w, row + i * 4L, LE).fma(FloatVector.fromArray(F, x, xt + i), a);
                }
                out[t * outRows + o] = a.reduceLanes(VectorOperators.ADD);
            }
        }
        for (int i = vecEnd; i < in; i++) tail(out, o, outRows, x, in, t0, tn, i, w.get(Dequant.F32, row + i * 4L));
    }

    private static void rowF16(MemorySegment w, long row, float[] x, int in, int t0, int tn, float[] out, int o, int outRows) {
        int vecEnd = in - in % L;
        if (tn == TILE) {
            int x0 = t0 * in, x1 = x0 + in, x2 = x1 + in, x3 = x2 + in;
            var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
            for (int i = 0; i < vecEnd; i += L) {
                var wv = halfToFloat(ShortVector.fromMemorySegment(S, w, row + i * 2L, LE));
                a0 = wv.fma(FloatVector.fromArray(F, x, x0 + i), a0);
                a1 = wv.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = wv.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = wv.fma(FloatVector.fromArray(F, x, x3 + i), a3);
            }
            store4(out, o, outRows, t0, a0, a1, a2, a3);
        } else {
            for (int t = t0; t < t0 + tn; t++) {
                int xt = t * in;
                var a = FloatVector.zero(F);
                for (int i = 0; i < vecEnd; i += L) {
                    var wv = halfToFloat(ShortVector.fromMemorySegment(S, w, row + i * 2L, LE));
                    a = wv.fma(FloatVector.fromArray(F, x, xt + i), a);
                }
                out[t * outRows + o] = a.reduceLanes(VectorOperators.ADD);
            }
        }
        for (int i = vecEnd; i < in; i++) tail(out, o, outRows, x, in, t0, tn, i, Dequant.f16(w.get(Dequant.I16, row + i * 2L)));
    }

    private static void rowBf16(MemorySegment w, long row, float[] x, int in, int t0, int tn, float[] out, int o, int outRows) {
        int vecEnd = in - in % L;
        if (tn == TILE) {
            int x0 = t0 * in, x1 = x0 + in, x2 = x1 + in, x3 = x2 + in;
            var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
            for (int i = 0; i < vecEnd; i += L) {
                var wv = bf16ToFloat(ShortVector.fromMemorySegment(S, w, row + i * 2L, LE));
                a0 = wv.fma(FloatVector.fromArray(F, x, x0 + i), a0);
                a1 = wv.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                a2 = wv.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                a3 = wv.fma(FloatVector.fromArray(F, x, x3 + i), a3);
            }
            store4(out, o, outRows, t0, a0, a1, a2, a3);
        } else {
            for (int t = t0; t < t0 + tn; t++) {
                int xt = t * in;
                var a = FloatVector.zero(F);
                for (int i = 0; i < vecEnd; i += L) {
                    var wv = bf16ToFloat(ShortVector.fromMemorySegment(S, w, row + i * 2L, LE));
                    a = wv.fma(FloatVector.fromArray(F, x, xt + i), a);
                }
                out[t * outRows + o] = a.reduceLanes(VectorOperators.ADD);
            }
        }
        for (int i = vecEnd; i < in; i++) tail(out, o, outRows, x, in, t0, tn, i, Dequant.bf16(w.get(Dequant.I16, row + i * 2L)));
    }

    /**
     * Q8_0: each 34-byte block is an f16 scale d and 32 int8 q. The int8 lanes are widened to floats and scaled
     * by d once (w = q·d, exactly as the reference decodes them), then shared by the tile's tokens.
     */
    private static void rowQ8_0(MemorySegment w, long row, float[] x, int in, int t0, int tn, float[] out, int o, int outRows) {
        int blocks = in / 32;
        if (tn == TILE) {
            int x0 = t0 * in, x1 = x0 + in, x2 = x1 + in, x3 = x2 + in;
            var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
            for (int b = 0; b < blocks; b++) {
                long base = row + b * 34L;
                float d = Dequant.f16(w.get(Dequant.I16, base));
                for (int j = 0; j < 32; j += B.length()) {
                    var q = ByteVector.fromMemorySegment(B, w, base + 2 + j, LE);
                    for (int p = 0; p < PARTS; p++) {
                        var wv = ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(d);
                        int i = b * 32 + j + p * L;
                        a0 = wv.fma(FloatVector.fromArray(F, x, x0 + i), a0);
                        a1 = wv.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                        a2 = wv.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                        a3 = wv.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                    }
                }
            }
            store4(out, o, outRows, t0, a0, a1, a2, a3);
            return;
        }
        for (int t = t0; t < t0 + tn; t++) {
            int xt = t * in;
            var a = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                long base = row + b * 34L;
                float d = Dequant.f16(w.get(Dequant.I16, base));
                // one token: sum q·x over the block, then scale the block sum by d (one multiply per block)
                var s = FloatVector.zero(F);
                for (int j = 0; j < 32; j += B.length()) {
                    var q = ByteVector.fromMemorySegment(B, w, base + 2 + j, LE);
                    for (int p = 0; p < PARTS; p++) {
                        var wv = (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
                        s = wv.fma(FloatVector.fromArray(F, x, xt + b * 32 + j + p * L), s);
                    }
                }
                a = s.fma(FloatVector.broadcast(F, d), a);
            }
            out[t * outRows + o] = a.reduceLanes(VectorOperators.ADD);
        }
    }

    /**
     * Q4_0: each 18-byte block is an f16 scale d and 16 bytes; byte j holds value j in its low nibble and value
     * j+16 in its high nibble, each (nibble − 8)·d. One byte load yields both halves of the block.
     */
    private static void rowQ4_0(MemorySegment w, long row, float[] x, int in, int t0, int tn, float[] out, int o, int outRows) {
        int blocks = in / 32;
        int step = Math.min(16, B.length());  // bytes per load (B is never wider than the 16 bytes of a block here)
        if (tn == TILE) {
            int x0 = t0 * in, x1 = x0 + in, x2 = x1 + in, x3 = x2 + in;
            var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
            for (int b = 0; b < blocks; b++) {
                long base = row + b * 18L;
                float d = Dequant.f16(w.get(Dequant.I16, base));
                for (int j = 0; j < 16; j += step) {
                    var q = ByteVector.fromMemorySegment(B, w, base + 2 + j, LE);
                    for (int p = 0; p < 2 * PARTS; p++) {
                        // parts 0..PARTS−1: low nibbles, values j..; the rest: high nibbles, values j+16..
                        // (the shift picks the nibble, so no vector is chosen by a branch: that would box it)
                        int high = p / PARTS;
                        var nibbles = q.lanewise(VectorOperators.LSHR, 4 * high).and((byte) 0x0f).sub((byte) 8);
                        var wv = ((FloatVector) nibbles.convertShape(VectorOperators.B2F, F, p % PARTS)).mul(d);
                        int i = b * 32 + j + 16 * high + (p % PARTS) * L;
                        a0 = wv.fma(FloatVector.fromArray(F, x, x0 + i), a0);
                        a1 = wv.fma(FloatVector.fromArray(F, x, x1 + i), a1);
                        a2 = wv.fma(FloatVector.fromArray(F, x, x2 + i), a2);
                        a3 = wv.fma(FloatVector.fromArray(F, x, x3 + i), a3);
                    }
                }
            }
            store4(out, o, outRows, t0, a0, a1, a2, a3);
            return;
        }
        for (int t = t0; t < t0 + tn; t++) {
            int xt = t * in;
            var a = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                long base = row + b * 18L;
                float d = Dequant.f16(w.get(Dequant.I16, base));
                var s = FloatVector.zero(F);
                for (int j = 0; j < 16; j += step) {
                    var q = ByteVector.fromMemorySegment(B, w, base + 2 + j, LE);
                    var lo = q.and((byte) 0x0f).sub((byte) 8);
                    var hi = q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8);
                    for (int p = 0; p < PARTS; p++) {
                        int i = xt + b * 32 + j + p * L;
                        s = ((FloatVector) lo.convertShape(VectorOperators.B2F, F, p)).fma(FloatVector.fromArray(F, x, i), s);
                        s = ((FloatVector) hi.convertShape(VectorOperators.B2F, F, p)).fma(FloatVector.fromArray(F, x, i + 16), s);
                    }
                }
                a = s.fma(FloatVector.broadcast(F, d), a);
            }
            out[t * outRows + o] = a.reduceLanes(VectorOperators.ADD);
        }
    }

    private static void store4(float[] out, int o, int outRows, int t0, FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3) {
        out[t0 * outRows + o] = a0.reduceLanes(VectorOperators.ADD);
        out[(t0 + 1) * outRows + o] = a1.reduceLanes(VectorOperators.ADD);
        out[(t0 + 2) * outRows + o] = a2.reduceLanes(VectorOperators.ADD);
        out[(t0 + 3) * outRows + o] = a3.reduceLanes(VectorOperators.ADD);
    }

    /** Adds column i's weight wi to the sums of tokens t0..t0+tn−1 (the columns past the last full vector). */
    private static void tail(float[] out, int o, int outRows, float[] x, int in, int t0, int tn, int i, float wi) {
        for (int t = t0; t < t0 + tn; t++) out[t * outRows + o] += x[t * in + i] * wi;
    }

    /**
     * IEEE binary16 → binary32 in registers. JDK 25's VectorOperators has no half-float conversion (S2F is
     * the numeric short → float cast), so the bits are moved by hand: the 15 exponent+mantissa bits shifted
     * into float position and multiplied by 2^112 rebias the exponent (15 → 127); this is exact for normals and
     * also turns subnormal halves (read as float subnormals) into the right normal floats, and keeps ±0. The
     * all-ones exponent (Inf/NaN) would come out finite, so those lanes get the float all-ones exponent instead.
     * The short → int widening sign-extends, so bit 31 already is the sign.
     */
    static FloatVector halfToFloat(ShortVector h) {
        var bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        var em = bits.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        var magnitude = em.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> infOrNan = em.compare(VectorOperators.GE, 0x7c00 << 13);
        magnitude = magnitude.blend(em.or(0x7f800000), infOrNan);
        return magnitude.or(bits.and(0x80000000)).reinterpretAsFloats();
    }

    /** BF16 is the upper half of a float32: widen and shift into place. */
    private static FloatVector bf16ToFloat(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    // ------------------------------------------------------------------------------------------- attention

    /**
     * Same semantics as {@link Reference#attention}: store k[t], v[t] in the paged cache, then per (token, query
     * head) a causal softmax over positions 0..positions[t] of q·K·scale, weighting V. Tasks are (token, head)
     * pairs spread over the pool; each chunk of tasks owns one score buffer of the longest context.
     */
    static void attention(ForkJoinPool pool, float[] out, float[] q, float[] k, float[] v, float[] kCache, float[] vCache,
                          KvLayout layout, BlockTable table, int[] positions, int heads, float scale) {
        int hd = layout.headDim(), kvHeads = layout.kvHeads(), bs = layout.blockSize();
        int n = positions.length;
        int maxLen = 0;
        for (int t = 0; t < n; t++) {
            int slot = table.slot(positions[t]);
            for (int g = 0; g < kvHeads; g++) {
                int dst = Reference.cacheIndex(layout, slot, g);
                System.arraycopy(k, (t * kvHeads + g) * hd, kCache, dst, hd);
                System.arraycopy(v, (t * kvHeads + g) * hd, vCache, dst, hd);
            }
            maxLen = Math.max(maxLen, positions[t] + 1);
        }
        int group = heads / kvHeads, tasks = n * heads, scoreLen = maxLen;
        int chunk = Math.max(1, tasks / (pool.getParallelism() * 4));
        int chunks = (tasks + chunk - 1) / chunk;
        parallelFor(pool, chunks, c -> {
            float[] scores = new float[scoreLen];
            for (int task = c * chunk; task < Math.min(tasks, (c + 1) * chunk); task++) {
                int t = task / heads, h = task % heads, g = h / group;
                int qo = (t * heads + h) * hd;
                int len = positions[t] + 1;
                // pass 1: scores and their maximum, walking the block table block by block
                float max = Float.NEGATIVE_INFINITY;
                for (int p0 = 0; p0 < len; p0 += bs) {
                    int rowBase = Reference.cacheIndex(layout, table.block(p0 / bs) * bs, g);
                    for (int p = p0; p < Math.min(len, p0 + bs); p++) {
                        float s = dot(q, qo, kCache, rowBase + (p - p0) * hd, hd) * scale;
                        scores[p] = s;
                        max = Math.max(max, s);
                    }
                }
                // pass 2: exponentials with the maximum subtracted (no overflow), and their sum
                float sum = expInPlace(scores, len, max);
                // pass 3: out = Σ_p scores[p]·V[p] / sum, accumulated in the output row itself
                java.util.Arrays.fill(out, qo, qo + hd, 0f);
                for (int p0 = 0; p0 < len; p0 += bs) {
                    int rowBase = Reference.cacheIndex(layout, table.block(p0 / bs) * bs, g);
                    for (int p = p0; p < Math.min(len, p0 + bs); p++) {
                        axpy(scores[p], vCache, rowBase + (p - p0) * hd, out, qo, hd);
                    }
                }
                scaleInPlace(out, qo, hd, 1f / sum);
            }
        });
    }

    private static float dot(float[] a, int ao, float[] b, int bo, int len) {
        int vecEnd = len - len % L;
        var acc = FloatVector.zero(F);
        for (int i = 0; i < vecEnd; i += L) acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (int i = vecEnd; i < len; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /** y[yo..yo+len) += a·x[xo..xo+len). */
    private static void axpy(float a, float[] x, int xo, float[] y, int yo, int len) {
        int vecEnd = len - len % L;
        for (int i = 0; i < vecEnd; i += L) {
            FloatVector.fromArray(F, x, xo + i).fma(FloatVector.broadcast(F, a), FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        for (int i = vecEnd; i < len; i++) y[yo + i] += a * x[xo + i];
    }

    /** s[i] = e^(s[i] − max) for i < len; returns their sum. */
    private static float expInPlace(float[] s, int len, float max) {
        int vecEnd = len - len % L;
        var sum = FloatVector.zero(F);
        for (int i = 0; i < vecEnd; i += L) {
            var e = FloatVector.fromArray(F, s, i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(s, i);
            sum = sum.add(e);
        }
        float total = sum.reduceLanes(VectorOperators.ADD);
        for (int i = vecEnd; i < len; i++) {
            s[i] = (float) Math.exp(s[i] - max);
            total += s[i];
        }
        return total;
    }

    private static void scaleInPlace(float[] a, int off, int len, float factor) {
        int vecEnd = len - len % L;
        for (int i = 0; i < vecEnd; i += L) FloatVector.fromArray(F, a, off + i).mul(factor).intoArray(a, off + i);
        for (int i = vecEnd; i < len; i++) a[off + i] *= factor;
    }

    // -------------------------------------------------------------------------------------- elementwise ops

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
            double sum = ss.reduceLanes(VectorOperators.ADD);
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
        int vecEnd = count - count % L;
        for (int i = 0; i < vecEnd; i += L) {
            var g = FloatVector.fromArray(F, gate, i);
            var silu = g.div(g.neg().lanewise(VectorOperators.EXP).add(1f));
            silu.mul(FloatVector.fromArray(F, up, i)).intoArray(out, i);
        }
        for (int i = vecEnd; i < count; i++) {
            float g = gate[i];
            out[i] = (float) (g / (1.0 + Math.exp(-g))) * up[i];
        }
    }

    /** x += y. */
    static void add(float[] x, float[] y, int count) {
        int vecEnd = count - count % L;
        for (int i = 0; i < vecEnd; i += L) FloatVector.fromArray(F, x, i).add(FloatVector.fromArray(F, y, i)).intoArray(x, i);
        for (int i = vecEnd; i < count; i++) x[i] += y[i];
    }

    /**
     * Rotary embedding as {@link Reference#rope}, with each token's cos/sin table computed once and shared by all
     * its heads (the reference recomputes pow/cos/sin per head). Same double math, so the results are identical.
     */
    static void rope(float[] x, int n, int width, int[] positions, RopeSpec spec) {
        int hd = spec.headDim(), half = spec.ropeDims() / 2;
        float[] cos = new float[half], sin = new float[half];
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < half; i++) {
                double theta = positions[t] * Math.pow(spec.base(), -2.0 * i / spec.ropeDims());
                cos[i] = (float) Math.cos(theta);
                sin[i] = (float) Math.sin(theta);
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

    // ----------------------------------------------------------------------------------------------- util

    /** Runs body(0..tasks−1) on the pool (inline when there is one task: no hand-off for tiny ops). */
    private static void parallelFor(ForkJoinPool pool, int tasks, IntConsumer body) {
        if (tasks == 1) {
            body.accept(0);
            return;
        }
        // A parallel stream started inside the pool runs its pieces on that pool's workers.
        pool.submit(() -> IntStream.range(0, tasks).parallel().forEach(body)).join();
    }
}
