package dev.infercl.backend.cpu;

import static dev.infercl.backend.cpu.CpuOps.swiglu;
import static dev.infercl.backend.cpu.CpuParallel.parallelFor;
import static dev.infercl.backend.cpu.VectorCodecs.B;
import static dev.infercl.backend.cpu.VectorCodecs.F;
import static dev.infercl.backend.cpu.VectorCodecs.I;
import static dev.infercl.backend.cpu.VectorCodecs.L;
import static dev.infercl.backend.cpu.VectorCodecs.LE;
import static dev.infercl.backend.cpu.VectorCodecs.PARTS;
import static dev.infercl.backend.cpu.VectorCodecs.S;
import static dev.infercl.backend.cpu.VectorCodecs.bf16ToFloat;
import static dev.infercl.backend.cpu.VectorCodecs.finiteHalfToFloat;
import static dev.infercl.backend.cpu.VectorCodecs.halfToFloat;
import static dev.infercl.backend.cpu.VectorCodecs.int8ToFloat;
import static dev.infercl.backend.cpu.VectorCodecs.nibbleColumn;
import static dev.infercl.backend.cpu.VectorCodecs.nibblesToFloat;
import static jdk.incubator.vector.VectorOperators.ADD;

import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one-token path of decode: a weight's {@link Rows} against one activation row, run for several weights in
 * one parallel region ({@link #gemv}, {@link #gemvSwiglu}), and the single-token dot products per weight type
 * that {@link CpuGemm} also uses for products of fewer than {@link CpuGemm#MIN_TOKENS} tokens.
 */
final class CpuGemv {
    private CpuGemv() {}

    /** A weight's rows against the one activation row of a decode step: out[o] = (accumulate ? out[o] : 0) + W[o]·x. */
    @FunctionalInterface
    interface Rows {
        void run(int o0, int o1, float[] out, boolean accumulate);
    }

    /** Whether {@link #rows} has a fast path for w (every GGUF type the matmul has, and INT8 unless its groups straddle vectors). */
    static boolean hasRows(CpuTensor w) {
        if (w.int8 == null) return w.type == GgmlType.F32 || w.type == GgmlType.F16 || w.type == GgmlType.BF16
                || w.type == GgmlType.Q8_0 || w.type == GgmlType.Q4_0 || BlockDecoder.handles(w.type);
        int gs = w.int8.groupSize();
        return w.int8.quantizeActivations() || gs == 0 || gs == w.cols || gs % B.length() == 0;
    }

    /** w's {@link Rows} for the activation row x[0..in); a W8A8 weight quantizes x here, once for all its rows. */
    static Rows rows(CpuTensor w, float[] x, int in) {
        if (w.int8 != null) {
            var q = w.int8;
            float[] scales = q.scales();
            MemorySegment values = q.values();
            if (q.quantizeActivations()) {
                byte[] xq = new byte[in];
                float[] a = new float[1];
                quantizeActivations(x, 0, in, q.smooth(), xq, a);
                return (o0, o1, out, acc) -> {
                    for (int o = o0; o < o1; o++) out[o] = (acc ? out[o] : 0f) + a[0] * scales[o] * dotW8A8(values, (long) o * in, xq, 0, in);
                };
            }
            int gs = q.groupSize() == 0 ? in : q.groupSize(), groups = in / gs;
            boolean pairs = PARTS == 1 && gs % (2 * L) == 0;
            return (o0, o1, out, acc) -> {
                int o = o0;
                if (pairs) for (; o + 1 < o1; o += 2) dot2I8(values, (long) o * in, in, scales, o * groups, groups, gs, x, out, o, acc);
                for (; o < o1; o++) out[o] = (acc ? out[o] : 0f) + dotI8(values, (long) o * in, scales, o * groups, gs, x, 0, in);
            };
        }
        MemorySegment m = w.weight;
        GgmlType type = w.type;
        long rowBytes = type.byteSize(in);
        if (type == GgmlType.F16 && w.halvesFinite()) {
            return (o0, o1, out, acc) -> {
                for (int o = o0; o < o1; o++) {
                    float d = dotF16Finite(m, o * rowBytes, x, in);
                    out[o] = acc ? out[o] + d : d;
                }
            };
        }
        if (BlockDecoder.hasDot(type)) {
            float[] xsum = blockSums(x, in);
            return (o0, o1, out, acc) -> {
                float[] scratch = new float[BlockDecoder.SCRATCH];
                for (int o = o0; o < o1; o++) {
                    float d = BlockDecoder.dot(type, m, o * rowBytes, x, xsum, in, scratch);
                    out[o] = acc ? out[o] + d : d;
                }
            };
        }
        if (BlockDecoder.handles(type)) {
            return (o0, o1, out, acc) -> {
                float[] run = new float[BlockDecoder.SCRATCH];
                for (int o = o0; o < o1; o++) {
                    float d = dotBlocks(type, m, o * rowBytes, x, 0, in, run);
                    out[o] = acc ? out[o] + d : d;
                }
            };
        }
        if (type == GgmlType.Q4_0 && PARTS == 1 && L == 16) {
            float[] xsum = blockSums(x, in);
            return (o0, o1, out, acc) -> {
                for (int o = o0; o < o1; o++) {
                    float d = dotQ4_0Decode(m, o * rowBytes, x, xsum, in);
                    out[o] = acc ? out[o] + d : d;
                }
            };
        }
        return (o0, o1, out, acc) -> {
            int o = o0;
            // Q8_0 pairs of rows share each x load and keep two independent accumulator chains in flight (a two-row
            // F16 loop of the same shape made F16 decode slower, and was dropped)
            if (type == GgmlType.Q8_0 && PARTS == 1) for (; o + 1 < o1; o += 2) dot2Q8_0(m, o * rowBytes, rowBytes, x, in, out, o, acc);
            for (; o < o1; o++) {
                long row = o * rowBytes;
                float d = switch (type) {
                    case F32 -> dotF32(m, row, x, 0, in);
                    case F16 -> dotF16(m, row, x, 0, in);
                    case BF16 -> dotBf16(m, row, x, 0, in);
                    case Q8_0 -> dotQ8_0(m, row, x, 0, in);
                    case Q4_0 -> dotQ4_0(m, row, x, 0, in);
                    default -> throw new IllegalArgumentException("matmul: no kernel for " + type);
                };
                out[o] = acc ? out[o] + d : d;
            }
        };
    }

    /**
     * Decode: outs[j] (+)= x·W_jᵀ for every part j (the Q, K and V projections; or one weight) in one parallel
     * region. Each part's rows are cut into chunks of an even number of rows, about eight per thread over all
     * parts together, and the threads claim chunks of every part from the same counter — one hand-off per
     * region instead of one per weight.
     */
    static void gemv(ForkJoinPool pool, Rows[] parts, int[] rows, float[][] outs, boolean accumulate) {
        int total = 0;
        for (int r : rows) total += r;
        int chunk = chunkRows(pool, total);
        int[] first = new int[parts.length + 1];   // first[j]: index of part j's first chunk
        for (int j = 0; j < parts.length; j++) first[j + 1] = first[j] + (rows[j] + chunk - 1) / chunk;
        parallelFor(pool, first[parts.length], c -> {
            int j = 0;
            while (c >= first[j + 1]) j++;
            int o0 = (c - first[j]) * chunk;
            parts[j].run(o0, Math.min(rows[j], o0 + chunk), outs[j], accumulate);
        });
    }

    /** Decode: out = silu(x·gateᵀ) ⊙ (x·upᵀ) in one region; each chunk computes its gate rows into out, its up rows into upOut. */
    static void gemvSwiglu(ForkJoinPool pool, Rows gate, Rows up, int rows, float[] out, float[] upOut) {
        int chunk = chunkRows(pool, 2 * rows);
        parallelFor(pool, (rows + chunk - 1) / chunk, c -> {
            int o0 = c * chunk, o1 = Math.min(rows, o0 + chunk);
            gate.run(o0, o1, out, false);
            up.run(o0, o1, upOut, false);
            swiglu(out, out, upOut, o0, o1);
        });
    }

    /** Rows per decode chunk: about eight chunks per thread (uneven progress on shared cores evens out), even, at least 16. */
    private static int chunkRows(ForkJoinPool pool, int totalRows) {
        int c = Math.max(16, totalRows / (pool.getParallelism() * 8));
        return c + (c & 1);
    }

    /**
     * Rows at byte offsets rowA and rowA + rowBytes, Q8_0, one token: out[o], out[o+1] as {@link #dotQ8_0} computes
     * each. Needs B.length() == L (one load per float vector). The block's first vector starts the sums with a
     * multiply: written this way (no zero start, no nested part loop) C2 makes it faster than the dotQ8_0 shape,
     * and faster than the same two-row loop in dotQ8_0's shape.
     *
     * <p>Tried against it and dropped as no faster: x quantized per 32-block to int8 with int16 products and one
     * float conversion per block, as llama.cpp's Q8_0×Q8_0 (without a pmaddwd/vpdpbusd the pair sums cost what the
     * conversions saved); four rows per x load (the more concurrent row streams, the slower from memory); two
     * blocks per iteration with four accumulators; one row; the block scales converted in a scalar pre-pass into a
     * float[] or from a broadcast int with vector shifts; the row copied to a byte[] first; a load ahead of the
     * row as a prefetch; the pair's scales gathered and converted in one pass before it, or one pair ahead; a
     * scalar byte load pairs ahead in each iteration as a prefetch; 32-byte loads converted in two parts. From memory
     * the loop's arithmetic and its waits for memory add up rather than overlap (docs/PERFORMANCE.md).
     */
    private static void dot2Q8_0(MemorySegment w, long rowA, long rowBytes, float[] x, int in, float[] out, int o, boolean acc) {
        long rowB = rowA + rowBytes;
        var a = FloatVector.zero(F);
        var b = a;
        for (int blk = 0; blk < in / 32; blk++) {
            long baseA = rowA + blk * 34L, baseB = rowB + blk * 34L;
            var x0 = FloatVector.fromArray(F, x, blk * 32);
            var sa = int8ToFloat(ByteVector.fromMemorySegment(B, w, baseA + 2, LE), 0).mul(x0);
            var sb = int8ToFloat(ByteVector.fromMemorySegment(B, w, baseB + 2, LE), 0).mul(x0);
            for (int j = L; j < 32; j += L) {
                var xv = FloatVector.fromArray(F, x, blk * 32 + j);
                sa = int8ToFloat(ByteVector.fromMemorySegment(B, w, baseA + 2 + j, LE), 0).fma(xv, sa);
                sb = int8ToFloat(ByteVector.fromMemorySegment(B, w, baseB + 2 + j, LE), 0).fma(xv, sb);
            }
            a = sa.fma(FloatVector.broadcast(F, Dequant.f16(w.get(Dequant.I16, baseA))), a);
            b = sb.fma(FloatVector.broadcast(F, Dequant.f16(w.get(Dequant.I16, baseB))), b);
        }
        float da = a.reduceLanes(ADD), db = b.reduceLanes(ADD);
        out[o] = acc ? out[o] + da : da;
        out[o + 1] = acc ? out[o + 1] + db : db;
    }

    /**
     * One F16 row of finite halves against x, one token: {@link VectorCodecs#finiteHalfToFloat} (4 vector
     * operations per L halves where {@link VectorCodecs#halfToFloat} needs 11) and two accumulator chains, which
     * read faster than {@link #dotF16} both from L2 and from memory. Tried and dropped as slower: two rows per x
     * load, four accumulators, and converting chunks of the row with an auto-vectorised
     * {@code Float.float16ToFloat} loop (C2 makes it vcvtph2ps) into a float[] first — the copies and the float[]
     * round trip cost more than the conversion they save. The prefill tile (tileF16) keeps halfToFloat, which was
     * faster there: the 2×4 tile shares each conversion among four tokens.
     */
    private static float dotF16Finite(MemorySegment w, long row, float[] x, int in) {
        var a = FloatVector.zero(F);
        var b = a;
        int end = in - in % (2 * L), i = 0;
        for (; i < end; i += 2 * L) {
            a = finiteHalfToFloat(ShortVector.fromMemorySegment(S, w, row + 2L * i, LE)).fma(FloatVector.fromArray(F, x, i), a);
            b = finiteHalfToFloat(ShortVector.fromMemorySegment(S, w, row + 2L * i + 2L * L, LE)).fma(FloatVector.fromArray(F, x, i + L), b);
        }
        float s = a.add(b).reduceLanes(ADD);
        for (; i < in; i++) s += x[i] * Dequant.f16(w.get(Dequant.I16, row + i * 2L));
        return s;
    }

    // The single-token GEMV, one per weight type: Σ_i x[xo+i]·W_row[i] over the whole row (decode, and the
    // multi-token products of fewer than CpuGemm.MIN_TOKENS tokens). One x row fits L1, so no column blocking is needed.

    static float dotF32(MemorySegment w, long row, float[] x, int xo, int in) {
        int end = in - in % L;
        var a = FloatVector.zero(F);
        for (int i = 0; i < end; i += L) a = FloatVector.fromMemorySegment(F, w, row + i * 4L, LE).fma(FloatVector.fromArray(F, x, xo + i), a);
        float s = a.reduceLanes(ADD);
        for (int i = end; i < in; i++) s += x[xo + i] * w.get(Dequant.F32, row + i * 4L);
        return s;
    }

    static float dotF16(MemorySegment w, long row, float[] x, int xo, int in) {
        int end = in - in % L;
        var a = FloatVector.zero(F);
        for (int i = 0; i < end; i += L) {
            a = halfToFloat(ShortVector.fromMemorySegment(S, w, row + i * 2L, LE)).fma(FloatVector.fromArray(F, x, xo + i), a);
        }
        float s = a.reduceLanes(ADD);
        for (int i = end; i < in; i++) s += x[xo + i] * Dequant.f16(w.get(Dequant.I16, row + i * 2L));
        return s;
    }

    static float dotBf16(MemorySegment w, long row, float[] x, int xo, int in) {
        int end = in - in % L;
        var a = FloatVector.zero(F);
        for (int i = 0; i < end; i += L) {
            a = bf16ToFloat(ShortVector.fromMemorySegment(S, w, row + i * 2L, LE)).fma(FloatVector.fromArray(F, x, xo + i), a);
        }
        float s = a.reduceLanes(ADD);
        for (int i = end; i < in; i++) s += x[xo + i] * Dequant.bf16(w.get(Dequant.I16, row + i * 2L));
        return s;
    }

    /** One token: Σ q·x per block first, then the block sum times d (one multiply per block, not per vector). */
    static float dotQ8_0(MemorySegment w, long row, float[] x, int xo, int in) {
        var a = FloatVector.zero(F);
        for (int blk = 0; blk < in / 32; blk++) {
            long base = row + blk * 34L;
            var s = FloatVector.zero(F);
            for (int j = 0; j < 32; j += B.length()) {
                var q = ByteVector.fromMemorySegment(B, w, base + 2 + j, LE);
                for (int p = 0; p < PARTS; p++) s = int8ToFloat(q, p).fma(FloatVector.fromArray(F, x, xo + blk * 32 + j + p * L), s);
            }
            a = s.fma(FloatVector.broadcast(F, Dequant.f16(w.get(Dequant.I16, base))), a);
        }
        return a.reduceLanes(ADD);
    }

    /**
     * One token against a row of a {@link BlockDecoder} type: each run of the row decoded into {@code run} (L1),
     * then multiplied with x in two accumulator chains.
     */
    static float dotBlocks(GgmlType type, MemorySegment w, long row, float[] x, int xo, int in, float[] run) {
        var a = FloatVector.zero(F);
        var b = a;
        float s = 0;
        for (int v0 = 0; v0 < in; v0 += BlockDecoder.RUN) {
            int n = Math.min(BlockDecoder.RUN, in - v0), i = 0;
            BlockDecoder.decode(type, w, row, v0, n, run);
            for (; i + 2 * L <= n; i += 2 * L) {
                a = FloatVector.fromArray(F, run, i).fma(FloatVector.fromArray(F, x, xo + v0 + i), a);
                b = FloatVector.fromArray(F, run, i + L).fma(FloatVector.fromArray(F, x, xo + v0 + i + L), b);
            }
            for (; i + L <= n; i += L) a = FloatVector.fromArray(F, run, i).fma(FloatVector.fromArray(F, x, xo + v0 + i), a);
            for (; i < n; i++) s += run[i] * x[xo + v0 + i];
        }
        return a.add(b).reduceLanes(ADD) + s;
    }

    /** Σ x over each 32-value block of x[0..in): the −8 of every Q4_0 nibble, applied once per block by {@link #dotQ4_0Decode}. */
    private static float[] blockSums(float[] x, int in) {
        float[] s = new float[in / 32];
        for (int b = 0; b < s.length; b++) {
            var v = FloatVector.fromArray(F, x, b * 32);
            for (int j = L; j < 32; j += L) v = v.add(FloatVector.fromArray(F, x, b * 32 + j));
            s[b] = v.reduceLanes(ADD);
        }
        return s;
    }

    /**
     * One Q4_0 row, one token, for 16-lane floats: Σ_b d_b · (Σ_j q_bj · x_bj − 8 · xsum_b), the nibbles q in 0–15.
     * The 16 bytes of a block are widened to int lanes once (zero-extended), where a nibble is one and or one shift;
     * x86 has no byte shift, and {@link VectorCodecs#nibblesToFloat}'s byte-lane shift, and and subtract cost more
     * than the block's arithmetic. The −8 is taken out of the lanes: one scalar multiply-add per block with xsum (x's
     * block sums, once per GEMV).
     */
    private static float dotQ4_0Decode(MemorySegment w, long row, float[] x, float[] xsum, int in) {
        var a = FloatVector.zero(F);
        float corr = 0f;
        for (int blk = 0; blk < in / 32; blk++) {
            long base = row + blk * 18L;
            var q = (IntVector) ByteVector.fromMemorySegment(B, w, base + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            var lo = (FloatVector) q.and(15).convert(VectorOperators.I2F, 0);
            var hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0);
            var s = hi.fma(FloatVector.fromArray(F, x, blk * 32 + 16), lo.mul(FloatVector.fromArray(F, x, blk * 32)));
            float d = Dequant.f16(w.get(Dequant.I16, base));
            a = s.fma(FloatVector.broadcast(F, d), a);
            corr += d * xsum[blk];
        }
        return a.reduceLanes(ADD) - 8f * corr;
    }

    static float dotQ4_0(MemorySegment w, long row, float[] x, int xo, int in) {
        var a = FloatVector.zero(F);
        for (int blk = 0; blk < in / 32; blk++) {
            long base = row + blk * 18L;
            var s = FloatVector.zero(F);
            for (int j = 0; j < 16; j += B.length()) {
                var q = ByteVector.fromMemorySegment(B, w, base + 2 + j, LE);
                for (int p = 0; p < 2 * PARTS; p++) {
                    s = nibblesToFloat(q, p).fma(FloatVector.fromArray(F, x, xo + blk * 32 + nibbleColumn(j, p)), s);
                }
            }
            a = s.fma(FloatVector.broadcast(F, Dequant.f16(w.get(Dequant.I16, base))), a);
        }
        return a.reduceLanes(ADD);
    }

    // ------------------------------------------------------------------------------------------ INT8 weights

    /** 2·L int8 lanes: one load widens to one short vector of F's width, whose products widen to two int vectors. */
    private static final VectorSpecies<Byte> B2 = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 16));
    /** 2·L int16 lanes in F's width: the int8 × int8 products (|q·x| ≤ 128·128 fits a short). */
    private static final VectorSpecies<Short> S2 = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 32));

    /**
     * Rows at byte offsets rowA and rowA + in of a W8A16 weight whose groups of gs columns are whole multiples of
     * 2·L (per channel: gs = in), one token: out[o], out[o+1] as {@link #dotI8} computes each. The two rows share
     * each x load, and each row sums a group in two product chains that start with a multiply, then adds the
     * group times its scale. dotI8's single chain per row is bound by the FMA latency: per channel that is one
     * chain of in/L dependent FMAs, longer than the out-of-order window can hide.
     */
    private static void dot2I8(MemorySegment w, long rowA, int in, float[] scales, int sA, int groups, int gs, float[] x,
            float[] out, int o, boolean acc) {
        long rowB = rowA + in;
        int sB = sA + groups;
        var a = FloatVector.zero(F);
        var b = a;
        for (int g = 0, g0 = 0; g < groups; g++, g0 += gs) {
            var x0 = FloatVector.fromArray(F, x, g0);
            var x1 = FloatVector.fromArray(F, x, g0 + L);
            var pa0 = int8ToFloat(ByteVector.fromMemorySegment(B, w, rowA + g0, LE), 0).mul(x0);
            var pa1 = int8ToFloat(ByteVector.fromMemorySegment(B, w, rowA + g0 + L, LE), 0).mul(x1);
            var pb0 = int8ToFloat(ByteVector.fromMemorySegment(B, w, rowB + g0, LE), 0).mul(x0);
            var pb1 = int8ToFloat(ByteVector.fromMemorySegment(B, w, rowB + g0 + L, LE), 0).mul(x1);
            for (int j = g0 + 2 * L; j < g0 + gs; j += 2 * L) {
                var y0 = FloatVector.fromArray(F, x, j);
                var y1 = FloatVector.fromArray(F, x, j + L);
                pa0 = int8ToFloat(ByteVector.fromMemorySegment(B, w, rowA + j, LE), 0).fma(y0, pa0);
                pa1 = int8ToFloat(ByteVector.fromMemorySegment(B, w, rowA + j + L, LE), 0).fma(y1, pa1);
                pb0 = int8ToFloat(ByteVector.fromMemorySegment(B, w, rowB + j, LE), 0).fma(y0, pb0);
                pb1 = int8ToFloat(ByteVector.fromMemorySegment(B, w, rowB + j + L, LE), 0).fma(y1, pb1);
            }
            a = pa0.add(pa1).fma(FloatVector.broadcast(F, scales[sA + g]), a);
            b = pb0.add(pb1).fma(FloatVector.broadcast(F, scales[sB + g]), b);
        }
        float da = a.reduceLanes(ADD), db = b.reduceLanes(ADD);
        out[o] = acc ? out[o] + da : da;
        out[o + 1] = acc ? out[o + 1] + db : db;
    }

    /** One token of W8A16: Σ q·x per group in float lanes, times the group's scale (one multiply per group). */
    static float dotI8(MemorySegment w, long row, float[] scales, int s0, int gs, float[] x, int xo, int in) {
        int end = in - in % B.length();
        var a = FloatVector.zero(F);
        for (int g0 = 0; g0 < end; g0 += gs) {
            int g1 = Math.min(g0 + gs, end);
            var s = FloatVector.zero(F);
            for (int j = g0; j < g1; j += B.length()) {
                var q = ByteVector.fromMemorySegment(B, w, row + j, LE);
                for (int p = 0; p < PARTS; p++) s = int8ToFloat(q, p).fma(FloatVector.fromArray(F, x, xo + j + p * L), s);
            }
            a = s.fma(FloatVector.broadcast(F, scales[s0 + g0 / gs]), a);
        }
        float sum = a.reduceLanes(ADD);
        for (int i = end; i < in; i++) sum += x[xo + i] * (w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, row + i) * scales[s0 + i / gs]);
        return sum;
    }

    /** Token t: x' = x / smooth, a_t = max|x'| / 127 (vector max), xq = round-half-away(x' / a_t) clamped (scalar, as the reference). */
    static void quantizeActivations(float[] x, int t, int in, float[] smooth, byte[] xq, float[] tokenScale) {
        int end = in - in % L, r = t * in;
        var m = FloatVector.zero(F);
        for (int j = 0; j < end; j += L) {
            var v = FloatVector.fromArray(F, x, r + j);
            if (smooth != null) v = v.div(FloatVector.fromArray(F, smooth, j));
            m = m.max(v.abs());
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (int j = end; j < in; j++) max = Math.max(max, Math.abs(smooth == null ? x[r + j] : x[r + j] / smooth[j]));
        float at = max / 127f;
        tokenScale[t] = at;
        if (at == 0) {
            Arrays.fill(xq, r, r + in, (byte) 0);
            return;
        }
        for (int j = 0; j < in; j++) xq[r + j] = Reference.roundToInt8((smooth == null ? x[r + j] : x[r + j] / smooth[j]) / at);
    }

    /** Σ q·xq in int32 for one weight row and one quantized token. */
    static int dotW8A8(MemorySegment w, long row, byte[] xq, int xo, int in) {
        int step = B2.length(), end = in - in % step, j = 0;
        var acc = IntVector.zero(I);
        // Two steps' int16 products are added in int16 before one widening to int32: xq is within ±127
        // (quantizeActivations), so |q·xq| ≤ 128·127 and a sum of two stays below 32767. Half the widening
        // operations, and a faster W8A8 decode.
        for (; j + 2 * step <= end; j += 2 * step) {
            var w0 = (ShortVector) ByteVector.fromMemorySegment(B2, w, row + j, LE).convertShape(VectorOperators.B2S, S2, 0);
            var x0 = (ShortVector) ByteVector.fromArray(B2, xq, xo + j).convertShape(VectorOperators.B2S, S2, 0);
            var w1 = (ShortVector) ByteVector.fromMemorySegment(B2, w, row + j + step, LE).convertShape(VectorOperators.B2S, S2, 0);
            var x1 = (ShortVector) ByteVector.fromArray(B2, xq, xo + j + step).convertShape(VectorOperators.B2S, S2, 0);
            var p = w0.mul(x0).add(w1.mul(x1));
            acc = acc.add(p.convertShape(VectorOperators.S2I, I, 0)).add(p.convertShape(VectorOperators.S2I, I, 1));
        }
        for (; j < end; j += step) {
            var wq = (ShortVector) ByteVector.fromMemorySegment(B2, w, row + j, LE).convertShape(VectorOperators.B2S, S2, 0);
            var xv = (ShortVector) ByteVector.fromArray(B2, xq, xo + j).convertShape(VectorOperators.B2S, S2, 0);
            var p = wq.mul(xv);
            acc = acc.add(p.convertShape(VectorOperators.S2I, I, 0)).add(p.convertShape(VectorOperators.S2I, I, 1));
        }
        int sum = acc.reduceLanes(ADD);
        for (j = end; j < in; j++) sum += w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, row + j) * xq[xo + j];
        return sum;
    }
}
