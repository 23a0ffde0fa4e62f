package dev.infercl.backend.cpu;

import static dev.infercl.backend.cpu.CpuGemv.dotBf16;
import static dev.infercl.backend.cpu.CpuGemv.dotBlocks;
import static dev.infercl.backend.cpu.CpuGemv.dotF16;
import static dev.infercl.backend.cpu.CpuGemv.dotF32;
import static dev.infercl.backend.cpu.CpuGemv.dotI8;
import static dev.infercl.backend.cpu.CpuGemv.dotQ4_0;
import static dev.infercl.backend.cpu.CpuGemv.dotQ8_0;
import static dev.infercl.backend.cpu.CpuGemv.dotW8A8;
import static dev.infercl.backend.cpu.CpuGemv.quantizeActivations;
import static dev.infercl.backend.cpu.CpuParallel.parallelFor;
import static dev.infercl.backend.cpu.VectorCodecs.B;
import static dev.infercl.backend.cpu.VectorCodecs.F;
import static dev.infercl.backend.cpu.VectorCodecs.L;
import static dev.infercl.backend.cpu.VectorCodecs.LE;
import static dev.infercl.backend.cpu.VectorCodecs.PARTS;
import static dev.infercl.backend.cpu.VectorCodecs.S;
import static dev.infercl.backend.cpu.VectorCodecs.bf16ToFloat;
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
import jdk.incubator.vector.ShortVector;

/**
 * The multi-token matmul of a prefill, out[t][o] = Σ_i x[t][i]·W[o][i], for every GGML weight type and for INT8
 * weights (W8A16 and W8A8): output rows chunked across the pool, tokens four at a time through a 2-row register
 * tile. The tokens left over (all of them in decode) go through {@link CpuGemv}'s single-token dot products.
 */
final class CpuGemm {
    private CpuGemm() {}

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
                            case Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS -> tileBlocks(type, w, o * rowBytes, ob * rowBytes, tile);
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
                        case Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS -> dotBlocks(type, w, row, x, t * in, in, tiles.runA());
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
     * the tile methods are too large to inline, so a new object per tile escaped to the heap, enough garbage in a
     * prefill for the parallel collector to let the young generation grow into it.
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

        private float[] runA, runB;

        /** The decoded runs of rows oa and ob for {@link #tileBlocks} (allocated on first use, one pair per chunk). */
        float[] runA() {
            if (runA == null) runA = new float[BlockDecoder.SCRATCH];
            return runA;
        }

        float[] runB() {
            if (runB == null) runB = new float[BlockDecoder.SCRATCH];
            return runB;
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

    /**
     * The {@link BlockDecoder} types: per run of the tile's columns, both rows decoded into L1 arrays (values as the
     * reference decodes them), then the tile's eight multiply-adds per vector read them back; the decoding is
     * shared by the four tokens.
     */
    private static void tileBlocks(GgmlType type, MemorySegment w, long rowA, long rowB, Tile tl) {
        float[] x = tl.x(), ra = tl.runA(), rb = tl.runB();
        int x0 = tl.xRow(0), x1 = tl.xRow(1), x2 = tl.xRow(2), x3 = tl.xRow(3);
        var a0 = FloatVector.zero(F); var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        for (int k = tl.k0(); k < tl.k1(); k += BlockDecoder.RUN) {
            int n = Math.min(BlockDecoder.RUN, tl.k1() - k), end = n - n % L;
            BlockDecoder.decode(type, w, rowA, k, n, ra);
            BlockDecoder.decode(type, w, rowB, k, n, rb);
            for (int j = 0; j < end; j += L) {
                var wa = FloatVector.fromArray(F, ra, j);
                var wb = FloatVector.fromArray(F, rb, j);
                int i = k + j;
                var v0 = FloatVector.fromArray(F, x, x0 + i); var v1 = FloatVector.fromArray(F, x, x1 + i);
                var v2 = FloatVector.fromArray(F, x, x2 + i); var v3 = FloatVector.fromArray(F, x, x3 + i);
                a0 = wa.fma(v0, a0); a1 = wa.fma(v1, a1); a2 = wa.fma(v2, a2); a3 = wa.fma(v3, a3);
                b0 = wb.fma(v0, b0); b1 = wb.fma(v1, b1); b2 = wb.fma(v2, b2); b3 = wb.fma(v3, b3);
            }
            for (int j = end; j < n; j++) tl.addColumn(k + j, ra[j], rb[j]);
        }
        tl.add(a0.reduceLanes(ADD), a1.reduceLanes(ADD), a2.reduceLanes(ADD), a3.reduceLanes(ADD),
                b0.reduceLanes(ADD), b1.reduceLanes(ADD), b2.reduceLanes(ADD), b3.reduceLanes(ADD));
    }

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
     * W8A8, as {@link Reference#matmulW8A8}: the activation rows are quantized once per call, one token per task
     * across the pool (absmax in float lanes, the rounding exactly as the reference's), then int8·int8 products are
     * widened to int16 and added into int32 lanes; out = (a_t · scale[o]) · sum. Output rows are chunked across the
     * pool; within a chunk each weight row meets every token while it sits in L1. (A 2-row × 4-token register tile
     * like the float types' ran far slower here: C2 did not keep its twelve int vectors in registers.)
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
}
