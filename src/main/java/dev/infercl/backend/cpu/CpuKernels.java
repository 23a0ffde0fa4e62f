package dev.infercl.backend.cpu;

import static jdk.incubator.vector.VectorOperators.ADD;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.RopeSpec;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;
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

    /**
     * The register tile of a prefill: 2 weight rows × TILE tokens, eight accumulators. Each decoded weight
     * vector feeds four multiply-adds and each x vector two, so every weight byte is decoded once per four
     * tokens and the loads per multiply-add are well under one (one row × four tokens needs 1.25).
     */
    private static final int TILE = 4;

    /**
     * Columns per pass of a tile: its four x rows (TILE·K_BLOCK floats, 16 KiB) stay in L1 while they meet every
     * weight row of the chunk. Without it a long row (5632 columns: 88 KiB for four tokens) streams x from L2
     * for every weight row, and that, not the decoding, bounds prefill. A multiple of 32 (the block types).
     */
    private static final int K_BLOCK = 1024;

    // ---------------------------------------------------------------------------------------------- matmul

    /**
     * out[t][o] = Σ_i x[t][i]·W[o][i]. Output rows are split into chunks across the pool. Within a chunk, full
     * tiles of tokens go through the 2×4 register tile, {@link #K_BLOCK} columns at a time, adding partial sums
     * into out; the remaining tokens (all of them in decode) go through a single-token GEMV per row.
     */
    static void matmul(ForkJoinPool pool, float[] out, float[] x, int n, int in, MemorySegment w, GgmlType type, int outRows) {
        long rowBytes = type.byteSize(in);
        // ~8 chunks per thread balance uneven progress; chunks of a few rows at least keep the overhead small.
        int chunk = Math.max(Math.max(2, 4096 / Math.max(1, in * n)), outRows / (pool.getParallelism() * 8));
        int chunks = (outRows + chunk - 1) / chunk;
        parallelFor(pool, chunks, c -> {
            int o0 = c * chunk, o1 = Math.min(outRows, o0 + chunk);
            var tiles = new Tile(out, outRows, x, in);
            int t0 = 0;
            for (; t0 + TILE <= n; t0 += TILE) {
                for (int t = t0; t < t0 + TILE; t++) Arrays.fill(out, t * outRows + o0, t * outRows + o1, 0f);
                for (int k0 = 0; k0 < in; k0 += K_BLOCK) {
                    int k1 = Math.min(in, k0 + K_BLOCK);
                    for (int o = o0; o < o1; o += 2) {
                        // an odd last row is paired with itself; tile methods drop the duplicate (ob == oa)
                        int ob = Math.min(o + 1, o1 - 1);
                        var tile = tiles.at(o, ob, t0, k0, k1);
                        switch (type) {
                            case F32 -> tileF32(w, o * rowBytes, ob * rowBytes, tile);
                            case F16 -> tileF16(w, o * rowBytes, ob * rowBytes, tile);
                            case BF16 -> tileBf16(w, o * rowBytes, ob * rowBytes, tile);
                            case Q8_0 -> tileQ8_0(w, o * rowBytes, ob * rowBytes, tile);
                            case Q4_0 -> tileQ4_0(w, o * rowBytes, ob * rowBytes, tile);
                            default -> throw new IllegalArgumentException("matmul: no kernel for " + type);
                        }
                    }
                }
            }
            for (int t = t0; t < n; t++) {
                for (int o = o0; o < o1; o++) {
                    long row = o * rowBytes;
                    out[t * outRows + o] = switch (type) {
                        case F32 -> dotF32(w, row, x, t * in, in);
                        case F16 -> dotF16(w, row, x, t * in, in);
                        case BF16 -> dotBf16(w, row, x, t * in, in);
                        case Q8_0 -> dotQ8_0(w, row, x, t * in, in);
                        case Q4_0 -> dotQ4_0(w, row, x, t * in, in);
                        default -> throw new IllegalArgumentException("matmul: no kernel for " + type);
                    };
                }
            }
        });
    }

    /**
     * Where a tile's sums go: tokens t0..t0+TILE−1 (x rows of {@code in} floats) against weight rows oa and ob
     * over columns [k0, k1); ob == oa marks an odd last row whose second result is dropped. It only carries
     * arguments and does the bookkeeping outside the loops. One per chunk, re-aimed by {@link #at} for each tile:
     * the tile methods are too large to inline, so a new object per tile escaped to the heap — about 1 GB of
     * garbage per 128-token prefill of the 1b model, which the parallel collector let the young generation grow into.
     */
    private static final class Tile {
        private final float[] out, x;
        private final int outRows, in;
        private int oa, ob, t0, k0, k1;

        Tile(float[] out, int outRows, float[] x, int in) {
            this.out = out;
            this.outRows = outRows;
            this.x = x;
            this.in = in;
        }

        Tile at(int oa, int ob, int t0, int k0, int k1) {
            this.oa = oa;
            this.ob = ob;
            this.t0 = t0;
            this.k0 = k0;
            this.k1 = k1;
            return this;
        }

        float[] x() { return x; }
        int in() { return in; }
        int oa() { return oa; }
        int ob() { return ob; }
        int k0() { return k0; }
        int k1() { return k1; }

        int xRow(int k) { return (t0 + k) * in; }

        /** End of the columns that fill whole vectors; the rest go through {@link #addColumn}. */
        int vecEnd() { return k1 - (k1 - k0) % L; }

        /**
         * Adds the lane sums of the tile's accumulators (row oa: a0..a3, row ob: b0..b3, one per token). Floats,
         * not vectors: a vector passed to a call the JIT does not inline is boxed on the heap, and the tile
         * methods are too large for this to be inlined into them.
         */
        void add(float a0, float a1, float a2, float a3, float b0, float b1, float b2, float b3) {
            add(oa, a0, a1, a2, a3);
            if (ob != oa) add(ob, b0, b1, b2, b3);
        }

        private void add(int o, float s0, float s1, float s2, float s3) {
            out[t0 * outRows + o] += s0;
            out[(t0 + 1) * outRows + o] += s1;
            out[(t0 + 2) * outRows + o] += s2;
            out[(t0 + 3) * outRows + o] += s3;
        }

        /** Column i past the last whole vector, with weights wa (row oa) and wb (row ob), scalar. */
        void addColumn(int i, float wa, float wb) {
            for (int t = t0; t < t0 + TILE; t++) {
                out[t * outRows + oa] += x[t * in + i] * wa;
                if (ob != oa) out[t * outRows + ob] += x[t * in + i] * wb;
            }
        }
    }

    // The tile methods, one per weight type, share one shape: per vector of columns, decode one vector of each
    // weight row, load one vector of each of the four x rows, and do the eight multiply-adds. rowA and rowB are
    // the byte offsets of rows oa and ob.

    private static void tileF32(MemorySegment w, long rowA, long rowB, Tile tl) {
        float[] x = tl.x();
        int x0 = tl.xRow(0), x1 = tl.xRow(1), x2 = tl.xRow(2), x3 = tl.xRow(3), end = tl.vecEnd();
        var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        for (int i = tl.k0(); i < end; i += L) {
            var wa = FloatVector.fromMemorySegment(F, w, rowA + i * 4L, LE);
            var wb = FloatVector.fromMemorySegment(F, w, rowB + i * 4L, LE);
            var v0 = FloatVector.fromArray(F, x, x0 + i); var v1 = FloatVector.fromArray(F, x, x1 + i);
            var v2 = FloatVector.fromArray(F, x, x2 + i); var v3 = FloatVector.fromArray(F, x, x3 + i);
            a0 = wa.fma(v0, a0); a1 = wa.fma(v1, a1); a2 = wa.fma(v2, a2); a3 = wa.fma(v3, a3);
            b0 = wb.fma(v0, b0); b1 = wb.fma(v1, b1); b2 = wb.fma(v2, b2); b3 = wb.fma(v3, b3);
        }
        tl.add(a0.reduceLanes(ADD), a1.reduceLanes(ADD), a2.reduceLanes(ADD), a3.reduceLanes(ADD),
                b0.reduceLanes(ADD), b1.reduceLanes(ADD), b2.reduceLanes(ADD), b3.reduceLanes(ADD));
        for (int i = end; i < tl.k1(); i++) tl.addColumn(i, w.get(Dequant.F32, rowA + i * 4L), w.get(Dequant.F32, rowB + i * 4L));
    }

    private static void tileF16(MemorySegment w, long rowA, long rowB, Tile tl) {
        float[] x = tl.x();
        int x0 = tl.xRow(0), x1 = tl.xRow(1), x2 = tl.xRow(2), x3 = tl.xRow(3), end = tl.vecEnd();
        var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        for (int i = tl.k0(); i < end; i += L) {
            var wa = halfToFloat(ShortVector.fromMemorySegment(S, w, rowA + i * 2L, LE));
            var wb = halfToFloat(ShortVector.fromMemorySegment(S, w, rowB + i * 2L, LE));
            var v0 = FloatVector.fromArray(F, x, x0 + i); var v1 = FloatVector.fromArray(F, x, x1 + i);
            var v2 = FloatVector.fromArray(F, x, x2 + i); var v3 = FloatVector.fromArray(F, x, x3 + i);
            a0 = wa.fma(v0, a0); a1 = wa.fma(v1, a1); a2 = wa.fma(v2, a2); a3 = wa.fma(v3, a3);
            b0 = wb.fma(v0, b0); b1 = wb.fma(v1, b1); b2 = wb.fma(v2, b2); b3 = wb.fma(v3, b3);
        }
        tl.add(a0.reduceLanes(ADD), a1.reduceLanes(ADD), a2.reduceLanes(ADD), a3.reduceLanes(ADD),
                b0.reduceLanes(ADD), b1.reduceLanes(ADD), b2.reduceLanes(ADD), b3.reduceLanes(ADD));
        for (int i = end; i < tl.k1(); i++) {
            tl.addColumn(i, Dequant.f16(w.get(Dequant.I16, rowA + i * 2L)), Dequant.f16(w.get(Dequant.I16, rowB + i * 2L)));
        }
    }

    private static void tileBf16(MemorySegment w, long rowA, long rowB, Tile tl) {
        float[] x = tl.x();
        int x0 = tl.xRow(0), x1 = tl.xRow(1), x2 = tl.xRow(2), x3 = tl.xRow(3), end = tl.vecEnd();
        var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        for (int i = tl.k0(); i < end; i += L) {
            var wa = bf16ToFloat(ShortVector.fromMemorySegment(S, w, rowA + i * 2L, LE));
            var wb = bf16ToFloat(ShortVector.fromMemorySegment(S, w, rowB + i * 2L, LE));
            var v0 = FloatVector.fromArray(F, x, x0 + i); var v1 = FloatVector.fromArray(F, x, x1 + i);
            var v2 = FloatVector.fromArray(F, x, x2 + i); var v3 = FloatVector.fromArray(F, x, x3 + i);
            a0 = wa.fma(v0, a0); a1 = wa.fma(v1, a1); a2 = wa.fma(v2, a2); a3 = wa.fma(v3, a3);
            b0 = wb.fma(v0, b0); b1 = wb.fma(v1, b1); b2 = wb.fma(v2, b2); b3 = wb.fma(v3, b3);
        }
        tl.add(a0.reduceLanes(ADD), a1.reduceLanes(ADD), a2.reduceLanes(ADD), a3.reduceLanes(ADD),
                b0.reduceLanes(ADD), b1.reduceLanes(ADD), b2.reduceLanes(ADD), b3.reduceLanes(ADD));
        for (int i = end; i < tl.k1(); i++) {
            tl.addColumn(i, Dequant.bf16(w.get(Dequant.I16, rowA + i * 2L)), Dequant.bf16(w.get(Dequant.I16, rowB + i * 2L)));
        }
    }

    /**
     * Q8_0: each 34-byte block is an f16 scale d and 32 int8 q. The int8 lanes are widened to floats and scaled
     * by d once (w = q·d, as the reference decodes them), then shared by the four tokens.
     */
    private static void tileQ8_0(MemorySegment w, long rowA, long rowB, Tile tl) {
        float[] x = tl.x();
        int x0 = tl.xRow(0), x1 = tl.xRow(1), x2 = tl.xRow(2), x3 = tl.xRow(3);
        var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        for (int blk = tl.k0() / 32; blk < tl.k1() / 32; blk++) {
            long baseA = rowA + blk * 34L, baseB = rowB + blk * 34L;
            float da = Dequant.f16(w.get(Dequant.I16, baseA)), db = Dequant.f16(w.get(Dequant.I16, baseB));
            for (int j = 0; j < 32; j += B.length()) {
                var qa = ByteVector.fromMemorySegment(B, w, baseA + 2 + j, LE);
                var qb = ByteVector.fromMemorySegment(B, w, baseB + 2 + j, LE);
                for (int p = 0; p < PARTS; p++) {
                    var wa = int8ToFloat(qa, p).mul(da);
                    var wb = int8ToFloat(qb, p).mul(db);
                    int i = blk * 32 + j + p * L;
                    var v0 = FloatVector.fromArray(F, x, x0 + i); var v1 = FloatVector.fromArray(F, x, x1 + i);
                    var v2 = FloatVector.fromArray(F, x, x2 + i); var v3 = FloatVector.fromArray(F, x, x3 + i);
                    a0 = wa.fma(v0, a0); a1 = wa.fma(v1, a1); a2 = wa.fma(v2, a2); a3 = wa.fma(v3, a3);
                    b0 = wb.fma(v0, b0); b1 = wb.fma(v1, b1); b2 = wb.fma(v2, b2); b3 = wb.fma(v3, b3);
                }
            }
        }
        tl.add(a0.reduceLanes(ADD), a1.reduceLanes(ADD), a2.reduceLanes(ADD), a3.reduceLanes(ADD),
                b0.reduceLanes(ADD), b1.reduceLanes(ADD), b2.reduceLanes(ADD), b3.reduceLanes(ADD));
    }

    /**
     * Q4_0: each 18-byte block is an f16 scale d and 16 bytes; byte j holds value j in its low nibble and value
     * j+16 in its high nibble, each (nibble − 8)·d. One byte load yields values of both halves of the block.
     */
    private static void tileQ4_0(MemorySegment w, long rowA, long rowB, Tile tl) {
        float[] x = tl.x();
        int x0 = tl.xRow(0), x1 = tl.xRow(1), x2 = tl.xRow(2), x3 = tl.xRow(3);
        var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        for (int blk = tl.k0() / 32; blk < tl.k1() / 32; blk++) {
            long baseA = rowA + blk * 18L, baseB = rowB + blk * 18L;
            float da = Dequant.f16(w.get(Dequant.I16, baseA)), db = Dequant.f16(w.get(Dequant.I16, baseB));
            for (int j = 0; j < 16; j += B.length()) {
                var qa = ByteVector.fromMemorySegment(B, w, baseA + 2 + j, LE);
                var qb = ByteVector.fromMemorySegment(B, w, baseB + 2 + j, LE);
                for (int p = 0; p < 2 * PARTS; p++) {
                    var wa = nibblesToFloat(qa, p).mul(da);
                    var wb = nibblesToFloat(qb, p).mul(db);
                    int i = blk * 32 + nibbleColumn(j, p);
                    var v0 = FloatVector.fromArray(F, x, x0 + i); var v1 = FloatVector.fromArray(F, x, x1 + i);
                    var v2 = FloatVector.fromArray(F, x, x2 + i); var v3 = FloatVector.fromArray(F, x, x3 + i);
                    a0 = wa.fma(v0, a0); a1 = wa.fma(v1, a1); a2 = wa.fma(v2, a2); a3 = wa.fma(v3, a3);
                    b0 = wb.fma(v0, b0); b1 = wb.fma(v1, b1); b2 = wb.fma(v2, b2); b3 = wb.fma(v3, b3);
                }
            }
        }
        tl.add(a0.reduceLanes(ADD), a1.reduceLanes(ADD), a2.reduceLanes(ADD), a3.reduceLanes(ADD),
                b0.reduceLanes(ADD), b1.reduceLanes(ADD), b2.reduceLanes(ADD), b3.reduceLanes(ADD));
    }

    // The single-token GEMV, one per weight type: Σ_i x[xo+i]·W_row[i] over the whole row (decode, and the
    // tokens of a prefill that do not fill a tile). One x row fits L1, so no column blocking is needed.

    private static float dotF32(MemorySegment w, long row, float[] x, int xo, int in) {
        int end = in - in % L;
        var a = FloatVector.zero(F);
        for (int i = 0; i < end; i += L) a = FloatVector.fromMemorySegment(F, w, row + i * 4L, LE).fma(FloatVector.fromArray(F, x, xo + i), a);
        float s = a.reduceLanes(ADD);
        for (int i = end; i < in; i++) s += x[xo + i] * w.get(Dequant.F32, row + i * 4L);
        return s;
    }

    private static float dotF16(MemorySegment w, long row, float[] x, int xo, int in) {
        int end = in - in % L;
        var a = FloatVector.zero(F);
        for (int i = 0; i < end; i += L) {
            a = halfToFloat(ShortVector.fromMemorySegment(S, w, row + i * 2L, LE)).fma(FloatVector.fromArray(F, x, xo + i), a);
        }
        float s = a.reduceLanes(ADD);
        for (int i = end; i < in; i++) s += x[xo + i] * Dequant.f16(w.get(Dequant.I16, row + i * 2L));
        return s;
    }

    private static float dotBf16(MemorySegment w, long row, float[] x, int xo, int in) {
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
    private static float dotQ8_0(MemorySegment w, long row, float[] x, int xo, int in) {
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
     * x86 has no byte shift, and {@link #nibblesToFloat}'s byte-lane shift, and and subtract cost more than the
     * block's arithmetic. The −8 is taken out of the lanes: one scalar multiply-add per block with xsum (x's block
     * sums, once per GEMV).
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

    private static float dotQ4_0(MemorySegment w, long row, float[] x, int xo, int in) {
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

    // ------------------------------------------------------------------------------------- decode (one token)

    /** A weight's rows against the one activation row of a decode step: out[o] = (accumulate ? out[o] : 0) + W[o]·x. */
    @FunctionalInterface
    interface Rows {
        void run(int o0, int o1, float[] out, boolean accumulate);
    }

    /** Whether {@link #rows} has a fast path for w (every GGUF type the matmul has, and INT8 unless its groups straddle vectors). */
    static boolean hasRows(CpuTensor w) {
        if (w.int8 == null) return w.type == GgmlType.F32 || w.type == GgmlType.F16 || w.type == GgmlType.BF16
                || w.type == GgmlType.Q8_0 || w.type == GgmlType.Q4_0;
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
            // F16 loop of the same shape made 1b F16 decode 3× slower in the one A/B pair measured, and was dropped)
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
     * multiply: written this way (no zero start, no nested part loop) C2 made it about 1.3× faster per CPU-second
     * than the dotQ8_0 shape in a single-thread test over the mapped 1b file (15–17 vs 11–13 GB/s), and 2.5×
     * faster than the same two-row loop in dotQ8_0's shape.
     *
     * <p>Measured against it and dropped (2026-11-29 02:13–02:50, load 2.2–3.3; one thread, GB/s of weights per
     * CPU-second, medians of interleaved passes; "L2": one L2-resident tensor, "memory": all block weights of the
     * mapped 1b Q8_0 file; this kernel: L2 23–25, memory 13–16, a plain streaming vector sum: memory 24–27):
     * x quantized per 32-block to int8 with int16 products and one float conversion per block, as llama.cpp's
     * Q8_0×Q8_0 (one row: L2 12.6–19.5, memory 13.2–14.6; two rows: 7.4–7.5 — without a pmaddwd/vpdpbusd the
     * pair sums cost what the conversions saved); four rows per x load (L2 25.2 against 24.9, memory 10.8 against
     * 15.7: the more concurrent row streams, the slower from memory); two blocks per iteration with four
     * accumulators (memory 7.9); one row (L2 19–22, memory 14.1–14.4 against 14.0–15.0); the block scales
     * converted in a scalar pre-pass into a float[] (L2 18.4 against 25.0) or from a broadcast int with vector
     * shifts (L2 20.5 against 23.3); the row copied to a byte[] first (L2 12.2); a load 0.5–16 KiB ahead as a
     * prefetch (memory 10.7–14.0 against 14.1–14.4). Without the per-block scale (wrong numbers, a bound) it reads
     * 15.7 from memory where this reads 12.3: the scale's load, move, vcvtph2ps and broadcast are about a fifth.
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
     * One F16 row of finite halves against x, one token: {@link #finiteHalfToFloat} (4 vector operations per L
     * halves where {@link #halfToFloat} needs 11) and two accumulator chains. One thread over all block weights of
     * the mapped 1b F16 file, GB/s of weights per CPU-second, medians of 14 interleaved passes (2026-11-29 02:34,
     * load 2.2–2.5): one L2-resident tensor 17.0 → 29.1, the whole file from memory 13.6 → 16.2. Measured and
     * dropped: two rows per x load (from memory 11.8 against 17.4 for one row), four accumulators (L2 23.3 against
     * 26.9 for two), and converting chunks of the row with an auto-vectorised {@code Float.float16ToFloat} loop
     * (C2 makes it vcvtph2ps: 0.025 ns per half alone) into a float[] first: 9.4 from memory, 11.5 in L2 — the
     * copies and the float[] round trip cost more than the conversion they save. The prefill tile (tileF16) keeps
     * halfToFloat: with finiteHalfToFloat there, 1b F16 bench pp64 read 25.7/25.5 against 26.8/28.5 tokens/s
     * (interleaved, 02:40–02:42, load 1.6–3.7) — the 2×4 tile shares each conversion among four tokens.
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

    /** 2·L halves per load for {@link #allHalvesFinite}. */
    private static final VectorSpecies<Short> S2F = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 32));

    /** Whether no half among the first {@code count} of w has the all-ones exponent (Inf or NaN). Reads them all. */
    static boolean allHalvesFinite(MemorySegment w, long count) {
        long end = count - count % S2F.length();
        var max = ShortVector.zero(S2F);
        for (long i = 0; i < end; i += S2F.length()) {
            max = max.max(ShortVector.fromMemorySegment(S2F, w, i * 2, LE).and((short) 0x7fff));
        }
        int m = max.reduceLanes(VectorOperators.MAX);
        for (long i = end; i < count; i++) m = Math.max(m, w.get(Dequant.I16, i * 2) & 0x7fff);
        return m < 0x7c00;
    }

    // ------------------------------------------------------------------------------------------ INT8 weights

    /** 2·L int8 lanes: one load widens to one short vector of F's width, whose products widen to two int vectors. */
    private static final VectorSpecies<Byte> B2 = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 16));
    /** 2·L int16 lanes in F's width: the int8 × int8 products (|q·x| ≤ 128·128 fits a short). */
    private static final VectorSpecies<Short> S2 = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 32));

    /**
     * W8A16, as {@link Reference#matmulW8A16}: int8 weights widened to floats in registers and scaled per group
     * (w = q·scale, once per vector, shared by the tile's tokens), activations float. Output rows are chunked
     * across the pool; full tiles of {@link #TILE} tokens go through the 2-row register tile {@link #K_BLOCK}
     * columns at a time, the remaining tokens through a single-token dot per row.
     */
    static void matmulW8A16(ForkJoinPool pool, float[] out, float[] x, int n, int in, MemorySegment q, float[] scales, int groupSize, int outRows) {
        int gs = groupSize == 0 ? in : groupSize, groups = in / gs;
        if (groups > 1 && gs % B.length() != 0) { // a vector would straddle two groups: no such scheme exists
            Reference.matmulW8A16(out, x, n, in, q, scales, groupSize, outRows);
            return;
        }
        int chunk = Math.max(Math.max(2, 4096 / Math.max(1, in * n)), outRows / (pool.getParallelism() * 8));
        int chunks = (outRows + chunk - 1) / chunk;
        parallelFor(pool, chunks, c -> {
            int o0 = c * chunk, o1 = Math.min(outRows, o0 + chunk);
            var tiles = new Tile(out, outRows, x, in);
            int t0 = 0;
            for (; t0 + TILE <= n; t0 += TILE) {
                for (int t = t0; t < t0 + TILE; t++) Arrays.fill(out, t * outRows + o0, t * outRows + o1, 0f);
                for (int k0 = 0; k0 < in; k0 += K_BLOCK) {
                    int k1 = Math.min(in, k0 + K_BLOCK);
                    for (int o = o0; o < o1; o += 2) {
                        int ob = Math.min(o + 1, o1 - 1);
                        tileI8(q, scales, gs, groups, tiles.at(o, ob, t0, k0, k1));
                    }
                }
            }
            for (int t = t0; t < n; t++) {
                for (int o = o0; o < o1; o++) out[t * outRows + o] = dotI8(q, (long) o * in, scales, o * groups, gs, x, t * in, in);
            }
        });
    }

    /** The W8A16 register tile: per B.length() columns (never straddling a group), decode both rows once, scale, 8 fmas per part. */
    private static void tileI8(MemorySegment w, float[] scales, int gs, int groups, Tile tl) {
        float[] x = tl.x();
        int in = tl.in();
        long rowA = (long) tl.oa() * in, rowB = (long) tl.ob() * in;
        int sa = tl.oa() * groups, sb = tl.ob() * groups;
        int x0 = tl.xRow(0), x1 = tl.xRow(1), x2 = tl.xRow(2), x3 = tl.xRow(3);
        int end = tl.k1() - (tl.k1() - tl.k0()) % B.length();
        var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        for (int j = tl.k0(); j < end; j += B.length()) {
            float da = scales[sa + j / gs], db = scales[sb + j / gs];
            var qa = ByteVector.fromMemorySegment(B, w, rowA + j, LE);
            var qb = ByteVector.fromMemorySegment(B, w, rowB + j, LE);
            for (int p = 0; p < PARTS; p++) {
                var wa = int8ToFloat(qa, p).mul(da);
                var wb = int8ToFloat(qb, p).mul(db);
                int i = j + p * L;
                var v0 = FloatVector.fromArray(F, x, x0 + i); var v1 = FloatVector.fromArray(F, x, x1 + i);
                var v2 = FloatVector.fromArray(F, x, x2 + i); var v3 = FloatVector.fromArray(F, x, x3 + i);
                a0 = wa.fma(v0, a0); a1 = wa.fma(v1, a1); a2 = wa.fma(v2, a2); a3 = wa.fma(v3, a3);
                b0 = wb.fma(v0, b0); b1 = wb.fma(v1, b1); b2 = wb.fma(v2, b2); b3 = wb.fma(v3, b3);
            }
        }
        tl.add(a0.reduceLanes(ADD), a1.reduceLanes(ADD), a2.reduceLanes(ADD), a3.reduceLanes(ADD),
                b0.reduceLanes(ADD), b1.reduceLanes(ADD), b2.reduceLanes(ADD), b3.reduceLanes(ADD));
        for (int i = end; i < tl.k1(); i++) {
            tl.addColumn(i, w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, rowA + i) * scales[sa + i / gs],
                    w.get(java.lang.foreign.ValueLayout.JAVA_BYTE, rowB + i) * scales[sb + i / gs]);
        }
    }

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
    private static float dotI8(MemorySegment w, long row, float[] scales, int s0, int gs, float[] x, int xo, int in) {
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

    /**
     * W8A8, as {@link Reference#matmulW8A8}: the activation rows are quantized once per call, one token per task
     * across the pool (absmax in float lanes, the rounding exactly as the reference's), then int8·int8 products are
     * widened to int16 and added into int32 lanes; out = (a_t · scale[o]) · sum. Output rows are chunked across the
     * pool; within a chunk each weight row meets every token while it sits in L1. (A 2-row × 4-token register tile
     * like the float types' ran about 60× slower here: C2 did not keep its twelve int vectors in registers.)
     */
    static void matmulW8A8(ForkJoinPool pool, float[] out, float[] x, int n, int in, MemorySegment q, float[] scales, float[] smooth, int outRows) {
        byte[] xq = new byte[n * in];
        float[] a = new float[n];
        parallelFor(pool, n, t -> quantizeActivations(x, t, in, smooth, xq, a));
        int chunk = Math.max(Math.max(2, 4096 / Math.max(1, in * n)), outRows / (pool.getParallelism() * 8));
        int chunks = (outRows + chunk - 1) / chunk;
        parallelFor(pool, chunks, c -> {
            int o0 = c * chunk, o1 = Math.min(outRows, o0 + chunk);
            for (int o = o0; o < o1; o++) {
                for (int t = 0; t < n; t++) out[t * outRows + o] = a[t] * scales[o] * dotW8A8(q, (long) o * in, xq, t * in, in);
            }
        });
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
    private static int dotW8A8(MemorySegment w, long row, byte[] xq, int xo, int in) {
        int step = B2.length(), end = in - in % step, j = 0;
        var acc = IntVector.zero(I);
        // Two steps' int16 products are added in int16 before one widening to int32: xq is within ±127
        // (quantizeActivations), so |q·xq| ≤ 128·127 and a sum of two stays below 32767. Half the widening
        // operations: 1b W8A8 CPU decode 75 → 64 CPU-ms per token (medians of six alternating bench pairs).
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

    // ------------------------------------------------------------------------------------ in-register decoding

    /** Part p (L lanes) of a vector of int8 values, as floats. */
    private static FloatVector int8ToFloat(ByteVector q, int p) {
        return (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
    }

    /**
     * Part p of 2·PARTS of a vector of Q4_0 bytes as floats (nibble − 8): parts below PARTS are low nibbles,
     * the rest high nibbles. The shift selects the nibble, so no vector is chosen by a branch (that would box it).
     */
    private static FloatVector nibblesToFloat(ByteVector q, int p) {
        int high = p / PARTS;
        var v = (IntVector) q.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p % PARTS);
        return (FloatVector) v.lanewise(VectorOperators.LSHR, 4 * high).and(15).sub(8).convert(VectorOperators.I2F, 0);
    }

    /** Column within its block of the first value of {@link #nibblesToFloat}(bytes from j, p). */
    private static int nibbleColumn(int j, int p) {
        return j + 16 * (p / PARTS) + (p % PARTS) * L;
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

    /**
     * {@link #halfToFloat} for finite halves only: the sign-extending widening put copies of the sign in bits
     * 15..31, so shifting left by 13 leaves the sign in bit 31, exponent and mantissa in bits 13..27, and three
     * more sign copies in 28..30 that the mask clears; times 2^112 rebiases the exponent, and the multiply keeps
     * the sign. Exact for normals, subnormals and ±0 (as in halfToFloat). An Inf or NaN half would come out as
     * a finite value ≥ 65536, so callers use it only on weights {@link #allHalvesFinite} has checked.
     */
    static FloatVector finiteHalfToFloat(ShortVector h) {
        var bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, 13).and(0x8fffe000).reinterpretAsFloats().mul(0x1p112f);
    }

    /** BF16 is the upper half of a float32: widen and shift into place. */
    private static FloatVector bf16ToFloat(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    // ------------------------------------------------------------------------------------------- attention

    /**
     * Same semantics as {@link Reference#attention} — store k[t], v[t] in the paged cache, then per (token, query
     * head) a causal softmax over positions first..positions[t] of q·K·scale, weighting V — in this backend's own
     * cache layout. Each layer's arrays are KV-head-major, (kvHeads, numBlocks, blockSize·headDim), so a sequence's
     * blocks of one head (allocated in order) form one sequential stream the prefetchers follow; and K is stored
     * <em>transposed</em> within each block, (headDim, blockSize), so a block of L positions scores as one
     * vector, Σ_i q[i]·K[i][p..p+L), with no horizontal sum per position. V rows stay (blockSize, headDim). A
     * task is (token, KV head, share of its query heads): the group's heads score the same K tile while it is in
     * L1, and the outputs of two heads at a time accumulate in registers across the whole context, each V vector
     * loaded once for the two.
     *
     * <p>Why: the per-query-head form (a dot product and a reduceLanes per position, an axpy through memory per
     * position, a scalar Math.max chain) took 29–34 CPU-ms per token for the 22 layers of the 1b shape at 2048
     * positions; this form 22 (single-thread harness over random caches, 2026-11-29; 23–30 with one head per V
     * pass, 14 with four — see {@link #weightedValues2} for why not four).
     */
    static void attention(ForkJoinPool pool, float[] out, float[] q, float[] k, float[] v, float[] kCache, float[] vCache,
                          KvLayout layout, BlockTable table, int[] positions, int heads, AttentionSpec spec) {
        int hd = layout.headDim(), kvHeads = layout.kvHeads(), bs = layout.blockSize();
        int n = positions.length;
        int maxLen = 0;
        for (int t = 0; t < n; t++) {
            int slot = table.slot(positions[t]), within = slot % bs;
            for (int g = 0; g < kvHeads; g++) {
                int block = blockBase(layout, slot / bs, g), src = (t * kvHeads + g) * hd;
                for (int i = 0; i < hd; i++) kCache[block + i * bs + within] = k[src + i];
                System.arraycopy(v, src, vCache, block + within * hd, hd);
            }
            maxLen = Math.max(maxLen, positions[t] + 1);
        }
        int group = heads / kvHeads;
        // enough tasks for every thread: split a KV head's query heads only when tokens × KV heads are too few
        int parts = Math.min(group, Math.max(1, (2 * pool.getParallelism() + n * kvHeads - 1) / (n * kvHeads)));
        int perPart = (group + parts - 1) / parts;
        int tasks = n * kvHeads * parts, scoreLen = (maxLen + bs - 1) / bs * bs;
        int chunk = Math.max(1, tasks / (pool.getParallelism() * 4));
        int chunks = (tasks + chunk - 1) / chunk;
        parallelFor(pool, chunks, c -> {
            float[][] scores = scoreRows(perPart, scoreLen);
            float[] inv = new float[perPart];
            for (int task = c * chunk; task < Math.min(tasks, (c + 1) * chunk); task++) {
                int t = task / (kvHeads * parts), g = task / parts % kvHeads, h0 = g * group + task % parts * perPart;
                int count = Math.min(perPart, (g + 1) * group - h0);
                int first = spec.firstVisible(positions[t]), len = positions[t] + 1;
                keyScores(kCache, layout, table, g, q, (t * heads + h0) * hd, count, spec.scale(), first, len, scores);
                for (int j = 0; j < count; j++) {
                    float[] w = scores[j];
                    if (spec.softcap() > 0) {
                        for (int p = first; p < len; p++) w[p] = (float) (spec.softcap() * Math.tanh(w[p] / spec.softcap()));
                    }
                    inv[j] = 1f / expInPlace(w, first, len - first, max(w, first, len));
                }
                int j = 0;
                if (hd % (4 * L) == 0) {
                    for (; j + 2 <= count; j += 2) weightedValues2(vCache, layout, table, g, scores, j, first, len, inv, out, (t * heads + h0 + j) * hd);
                }
                for (; j < count; j++) weightedValues(vCache, layout, table, g, scores[j], first, len, inv[j], out, (t * heads + h0 + j) * hd);
            }
        });
    }

    /**
     * {@link #weightedValues} for the two heads j0, j0+1 (weights scores[j0 + j], outputs at oo + j·headDim), 4·L
     * dimensions at a time in 8 register accumulators: each V vector is loaded once for both heads. Needs
     * headDim % (4·L) == 0. (Four heads in 16 accumulators read V half as often and ran a 2048-position decode in
     * 14 CPU-ms instead of 22, but C2 left some of its vector operations un-intrinsified when it compiled the method
     * during a 1b prefill — ~1.5 GB of garbage per run, peak host 1.6 → 3.1 GiB.)
     */
    private static void weightedValues2(float[] vCache, KvLayout layout, BlockTable table, int g, float[][] scores, int j0,
                                        int first, int len, float[] inv, float[] out, int oo) {
        int hd = layout.headDim(), bs = layout.blockSize();
        float[] w0 = scores[j0], w1 = scores[j0 + 1];
        for (int c = 0; c < hd; c += 4 * L) {
            var a0 = FloatVector.zero(F);
            var a1 = a0;
            var a2 = a0;
            var a3 = a0;
            var b0 = a0;
            var b1 = a0;
            var b2 = a0;
            var b3 = a0;
            for (int b = first / bs; b * bs < len; b++) {
                int rows = blockBase(layout, table.block(b), g) + c - b * bs * hd;
                for (int p = Math.max(first, b * bs), end = Math.min(len, b * bs + bs); p < end; p++) {
                    int vo = rows + p * hd;
                    var v0 = FloatVector.fromArray(F, vCache, vo);
                    var v1 = FloatVector.fromArray(F, vCache, vo + L);
                    var v2 = FloatVector.fromArray(F, vCache, vo + 2 * L);
                    var v3 = FloatVector.fromArray(F, vCache, vo + 3 * L);
                    var x = FloatVector.broadcast(F, w0[p]);
                    a0 = v0.fma(x, a0);
                    a1 = v1.fma(x, a1);
                    a2 = v2.fma(x, a2);
                    a3 = v3.fma(x, a3);
                    x = FloatVector.broadcast(F, w1[p]);
                    b0 = v0.fma(x, b0);
                    b1 = v1.fma(x, b1);
                    b2 = v2.fma(x, b2);
                    b3 = v3.fma(x, b3);
                }
            }
            float s0 = inv[j0], s1 = inv[j0 + 1];
            a0.mul(s0).intoArray(out, oo + c);
            a1.mul(s0).intoArray(out, oo + c + L);
            a2.mul(s0).intoArray(out, oo + c + 2 * L);
            a3.mul(s0).intoArray(out, oo + c + 3 * L);
            b0.mul(s1).intoArray(out, oo + hd + c);
            b1.mul(s1).intoArray(out, oo + hd + c + L);
            b2.mul(s1).intoArray(out, oo + hd + c + 2 * L);
            b3.mul(s1).intoArray(out, oo + hd + c + 3 * L);
        }
    }

    /** Per-thread score rows, reused across layers and tokens (a decode step at 2048 positions would otherwise allocate ~6 MB on the 1b shape). */
    private static final ThreadLocal<float[][]> SCORE_ROWS = ThreadLocal.withInitial(() -> new float[0][0]);

    /** At least {@code rows} score rows of at least {@code len} floats each, for the calling thread. */
    private static float[][] scoreRows(int rows, int len) {
        float[][] s = SCORE_ROWS.get();
        if (s.length < rows || s[0].length < len) {
            s = new float[Math.max(rows, s.length)][Math.max(len, s.length == 0 ? 0 : s[0].length)];
            SCORE_ROWS.set(s);
        }
        return s;
    }

    /** First value of physical block {@code block} of KV head g in one layer's K or V array of the FAST layout. */
    private static int blockBase(KvLayout layout, int block, int g) {
        return (g * layout.numBlocks() + block) * layout.blockSize() * layout.headDim();
    }

    /**
     * scores[j][p] = scale · q_j·K[p] for the count query heads whose q rows start at qo (one after another), for
     * every p of [first, len) (and the rest of those positions' L-tiles, which the caller ignores); K of KV head
     * g transposed per block. A tile of L positions is loaded once per head from L1.
     */
    private static void keyScores(float[] kCache, KvLayout layout, BlockTable table, int g, float[] q, int qo, int count,
                                  float scale, int first, int len, float[][] scores) {
        int hd = layout.headDim(), bs = layout.blockSize();
        for (int b = first / bs; b * bs < len; b++) {
            int kb = blockBase(layout, table.block(b), g);   // the block's (headDim, blockSize) keys
            if (bs % L == 0) {
                for (int s = 0; s < bs && b * bs + s < len; s += L) {
                    for (int j = 0; j < count; j++) scoreTile(kCache, kb + s, bs, q, qo + j * hd, hd, scale, scores[j], b * bs + s);
                }
            } else { // a block narrower than a vector (tests use such layouts; the model's blocks are 16)
                for (int p = Math.max(first, b * bs), end = Math.min(len, b * bs + bs); p < end; p++) {
                    for (int j = 0; j < count; j++) {
                        float acc = 0;
                        for (int i = 0; i < hd; i++) acc += q[qo + j * hd + i] * kCache[kb + i * bs + p - b * bs];
                        scores[j][p] = acc * scale;
                    }
                }
            }
        }
    }

    /** dst[d..d+L) = scale · Σ_i q[qo+i] · kt[kb + i·bs ..+L): four independent accumulator chains over i. */
    private static void scoreTile(float[] kt, int kb, int bs, float[] q, int qo, int hd, float scale, float[] dst, int d) {
        var a0 = FloatVector.zero(F);
        var a1 = a0;
        var a2 = a0;
        var a3 = a0;
        int i = 0;
        for (; i + 4 <= hd; i += 4) {
            a0 = FloatVector.fromArray(F, kt, kb + i * bs).fma(FloatVector.broadcast(F, q[qo + i]), a0);
            a1 = FloatVector.fromArray(F, kt, kb + (i + 1) * bs).fma(FloatVector.broadcast(F, q[qo + i + 1]), a1);
            a2 = FloatVector.fromArray(F, kt, kb + (i + 2) * bs).fma(FloatVector.broadcast(F, q[qo + i + 2]), a2);
            a3 = FloatVector.fromArray(F, kt, kb + (i + 3) * bs).fma(FloatVector.broadcast(F, q[qo + i + 3]), a3);
        }
        for (; i < hd; i++) a0 = FloatVector.fromArray(F, kt, kb + i * bs).fma(FloatVector.broadcast(F, q[qo + i]), a0);
        a0.add(a1).add(a2.add(a3)).mul(scale).intoArray(dst, d);
    }

    /**
     * out[oo + i] = inv · Σ_{first ≤ p < len} w[p] · V[p][i] for i < headDim, V of KV head g: 4·L dimensions at a
     * time in four register accumulators across the whole context (one broadcast per position), then L, then one.
     */
    private static void weightedValues(float[] vCache, KvLayout layout, BlockTable table, int g, float[] w, int first, int len,
                                       float inv, float[] out, int oo) {
        int hd = layout.headDim(), bs = layout.blockSize();
        int c = 0;
        for (; c + 4 * L <= hd; c += 4 * L) {
            var o0 = FloatVector.zero(F);
            var o1 = o0;
            var o2 = o0;
            var o3 = o0;
            for (int p = first; p < len; p++) {
                int vo = blockBase(layout, table.block(p / bs), g) + (p % bs) * hd + c;
                var wp = FloatVector.broadcast(F, w[p]);
                o0 = FloatVector.fromArray(F, vCache, vo).fma(wp, o0);
                o1 = FloatVector.fromArray(F, vCache, vo + L).fma(wp, o1);
                o2 = FloatVector.fromArray(F, vCache, vo + 2 * L).fma(wp, o2);
                o3 = FloatVector.fromArray(F, vCache, vo + 3 * L).fma(wp, o3);
            }
            o0.mul(inv).intoArray(out, oo + c);
            o1.mul(inv).intoArray(out, oo + c + L);
            o2.mul(inv).intoArray(out, oo + c + 2 * L);
            o3.mul(inv).intoArray(out, oo + c + 3 * L);
        }
        for (; c + L <= hd; c += L) {
            var o = FloatVector.zero(F);
            for (int p = first; p < len; p++) {
                o = FloatVector.fromArray(F, vCache, blockBase(layout, table.block(p / bs), g) + (p % bs) * hd + c).fma(FloatVector.broadcast(F, w[p]), o);
            }
            o.mul(inv).intoArray(out, oo + c);
        }
        for (; c < hd; c++) {
            float o = 0;
            for (int p = first; p < len; p++) o += w[p] * vCache[blockBase(layout, table.block(p / bs), g) + (p % bs) * hd + c];
            out[oo + c] = o * inv;
        }
    }

    /** The largest of s[from..to). */
    private static float max(float[] s, int from, int to) {
        var m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = from;
        for (; i + L <= to; i += L) m = m.max(FloatVector.fromArray(F, s, i));
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < to; i++) r = Math.max(r, s[i]);
        return r;
    }

    /** s[off + i] = e^(s[off + i] − max) for i < len; returns their sum. */
    private static float expInPlace(float[] s, int off, int len, float max) {
        int vecEnd = len - len % L;
        var sum = FloatVector.zero(F);
        for (int i = 0; i < vecEnd; i += L) {
            var e = FloatVector.fromArray(F, s, off + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(s, off + i);
            sum = sum.add(e);
        }
        float total = sum.reduceLanes(ADD);
        for (int i = vecEnd; i < len; i++) {
            s[off + i] = (float) Math.exp(s[off + i] - max);
            total += s[off + i];
        }
        return total;
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
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < half; i++) {
                double theta = positions[t] * spec.theta(i);
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

    /**
     * Runs body(0..tasks−1) on the pool and returns when all have run (inline when there is one task or one
     * thread). The calling thread works too: it and parallelism − 1 pool workers claim task indices from one
     * counter, so a thread that gets descheduled (the cores are shared) holds up at most its current task instead
     * of a fixed share. A decode token runs about 150 of these regions, so the hand-off is kept to one queued job
     * per helper (no stream spliterator, no task tree). A helper that starts after every index is claimed finds
     * nothing to do and is not waited for: completion is counted in tasks, not in helpers.
     */
    static void parallelFor(ForkJoinPool pool, int tasks, IntConsumer body) {
        int helpers = Math.min(pool.getParallelism(), tasks) - 1;
        if (helpers <= 0) {
            for (int i = 0; i < tasks; i++) body.accept(i);
            return;
        }
        var job = new Region(tasks, body, Thread.currentThread());
        for (int h = 0; h < helpers; h++) pool.execute(job);
        job.run();
        job.await();
    }

    /** One parallelFor call: the next unclaimed index, the number finished, and the first failure. */
    private static final class Region implements Runnable {
        /** How long the caller spins for the last tasks before parking (most regions end within microseconds). */
        private static final long SPIN_NANOS = 50_000;
        private final int tasks;
        private final IntConsumer body;
        private final Thread caller;
        private final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        private volatile Throwable failure;

        Region(int tasks, IntConsumer body, Thread caller) {
            this.tasks = tasks;
            this.body = body;
            this.caller = caller;
        }

        @Override
        public void run() {
            for (int i; (i = next.getAndIncrement()) < tasks; ) {
                try {
                    body.accept(i);
                } catch (Throwable e) {
                    if (failure == null) failure = e;
                }
                if (done.incrementAndGet() == tasks) LockSupport.unpark(caller);
            }
        }

        void await() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (done.get() < tasks) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            Throwable f = failure;
            if (f instanceof RuntimeException r) throw r;
            if (f instanceof Error e) throw e;
            if (f != null) throw new IllegalStateException(f);
        }
    }

    // ------------------------------------------------------------------------------------------- bandwidth probe

    /** Σ of the floats in seg[base, base + len), len a multiple of 4·L bytes: the probe's streaming read. */
    private static float sumSlice(MemorySegment seg, long base, long len) {
        var acc = FloatVector.zero(F);
        for (long off = 0; off < len; off += L * 4L) {
            acc = acc.add(FloatVector.fromMemorySegment(F, seg, base + off, java.nio.ByteOrder.LITTLE_ENDIAN));
        }
        return acc.reduceLanes(ADD);
    }

    /** Bytes per {@link #sumSlice} call of the probe: small enough that a pass picks up C2's code as soon as it exists. */
    private static final long PROBE_CALL_BYTES = 1 << 20;

    /**
     * Streaming read bandwidth: a {@code bytes}-long off-heap buffer (larger than any cache) summed with vector
     * loads by every pool thread over its own slice; best of 7 passes, in bytes per second.
     *
     * <p>Uncompiled Vector API code boxes every vector and reads a few GB/s, and C2 compiles in the background:
     * a pass timed before its code is installed would read low. So the warm-up runs for at least 200 ms as well as
     * 2000 calls, and each pass sums its slice in 1 MiB calls, so a pass that starts in slower code switches to
     * C2's as soon as it is installed. (Readings of 24–28 GB/s where others read 45–90 are this machine's
     * bandwidth at that moment, not the JIT: standalone runs read the same with and without these guards.)
     */
    static double probeReadBandwidth(ForkJoinPool pool, long bytes) {
        try (var arena = java.lang.foreign.Arena.ofShared()) {
            var seg = arena.allocate(bytes, 64);
            seg.fill((byte) 1);
            int parts = pool.getParallelism();
            long slice = bytes / parts / PROBE_CALL_BYTES * PROBE_CALL_BYTES;
            double best = 0;
            float[] sink = new float[parts];
            long warm = Math.min(slice, 16384), warmUntil = System.nanoTime() + 200_000_000L;
            for (int i = 0; i < 2000 || System.nanoTime() < warmUntil; i++) sink[0] += sumSlice(seg, 0, warm);
            for (int pass = 0; pass < 7; pass++) {
                long t0 = System.nanoTime();
                parallelFor(pool, parts, part -> {
                    float s = 0;
                    for (long off = 0; off < slice; off += PROBE_CALL_BYTES) s += sumSlice(seg, part * slice + off, PROBE_CALL_BYTES);
                    sink[part] = s;
                });
                best = Math.max(best, slice * parts / ((System.nanoTime() - t0) / 1e9));
            }
            if (Float.isNaN(sink[0])) throw new AssertionError("unreachable: keeps the loads alive");
            return best;
        }
    }
}
