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
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;

/**
 * The multi-token matmul of a prefill, out[t][o] = Σ_i x[t][i]·W[o][i], for every GGML weight type and for INT8
 * weights (W8A16 and W8A8). One path serves every float-decoded type: x is packed once per call token-interleaved,
 * and each task (a chunk of output rows) decodes a panel of its weight rows, {@link #PANEL_K} columns at a time,
 * into floats (w = q·d, as the reference decodes them), then runs a {@link #ROWS} × {@link #TOKENS} register tile
 * over every token of the call. Lanes run over tokens and each weight is broadcast, so the sums build up in vectors
 * that need no horizontal reduction, and every weight is decoded once per call, whatever the number of tokens.
 * Fewer than L tokens multiply the panel with lanes over columns instead (four tokens per panel vector), where
 * padding them to a token tile would cost L multiply-adds per L weights. W8A8 keeps its integer dot products. Fewer
 * than {@link #MIN_TOKENS} tokens go through {@link CpuGemv}'s single-token dot products.
 */
final class CpuGemm {
    private CpuGemm() {}

    /** Weight rows per register tile: each broadcast weight feeds TOKENS / L multiply-adds. */
    static final int ROWS = 12;

    /**
     * Tokens per register tile, two vectors: ROWS × 2 = 24 accumulators, plus the two x vectors and one broadcast,
     * fit AVX-512's 32 registers; per column 2 loads and 12 broadcasts feed 24 multiply-adds.
     */
    static final int TOKENS = 2 * L;

    /**
     * Columns per register-tile pass: the packed x of one token tile (K_BLOCK × TOKENS floats) and the tile's
     * panel rows (ROWS × K_BLOCK) stay in L1 while the tile runs; the tile's sums are loaded and stored once per pass.
     */
    static final int K_BLOCK = 256;

    /**
     * Columns decoded per pass over a chunk's rows: a multiple of K_BLOCK and of {@link BlockDecoder#RUN}, so every
     * block type decodes whole (super-)blocks. The decoder reads one run of this many columns from each row in turn;
     * long runs are what the hardware prefetcher follows, so the decoding waits less on memory.
     */
    static final int PANEL_K = 2048;

    /** Floats from one panel row to the next: one cache line more than PANEL_K, so a tile's rows fall in different L1 sets. */
    private static final int PANEL_STRIDE = PANEL_K + 16;

    /** Register tiles per chunk at most: a chunk's panel (rows × PANEL_STRIDE floats) and its sums stay in L2. */
    private static final int MAX_GROUPS = 6;

    /** Below this many tokens, padding them to a whole token tile costs more than one dot product per token and row. */
    static final int MIN_TOKENS = 4;

    /** Output rows per task of those dot products: enough to keep the claiming of tasks off the profile. */
    private static final int DOT_ROWS = 64;

    /** Decodes columns [k0, k0 + len) of weight row o as floats into dst[off..off + len); run is scratch of {@link BlockDecoder#SCRATCH}. */
    @FunctionalInterface
    private interface RowDecoder {
        void decode(int o, int k0, int len, float[] dst, int off, float[] run);
    }

    /** A thread's scratch, kept between calls so a prefill allocates no per-task arrays. */
    private static final class Scratch {
        float[] panel = new float[0], acc = new float[0], packed = new float[0];
        final float[] run = new float[BlockDecoder.SCRATCH];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** out[t][o] = Σ_i x[t][i]·W[o][i] for a GGML weight type. */
    static void matmul(ForkJoinPool pool, float[] out, float[] x, int n, int in, MemorySegment w, GgmlType type, int outRows) {
        long rowBytes = type.byteSize(in);
        if (n < MIN_TOKENS) {
            parallelFor(pool, ceil(outRows, DOT_ROWS), c -> {
                float[] run = SCRATCH.get().run;
                for (int o = c * DOT_ROWS; o < Math.min(outRows, (c + 1) * DOT_ROWS); o++) {
                    long row = o * rowBytes;
                    for (int t = 0; t < n; t++) {
                        out[t * outRows + o] = switch (type) {
                            case F32 -> dotF32(w, row, x, t * in, in);
                            case F16 -> dotF16(w, row, x, t * in, in);
                            case BF16 -> dotBf16(w, row, x, t * in, in);
                            case Q8_0 -> dotQ8_0(w, row, x, t * in, in);
                            case Q4_0 -> dotQ4_0(w, row, x, t * in, in);
                            case Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS -> dotBlocks(type, w, row, x, t * in, in, run);
                            default -> throw new IllegalArgumentException("matmul: no kernel for " + type);
                        };
                    }
                }
            });
            return;
        }
        RowDecoder decoder = switch (type) {
            case F32 -> (o, k0, len, dst, off, run) -> MemorySegment.copy(w, Dequant.F32, o * rowBytes + k0 * 4L, dst, off, len);
            case F16 -> (o, k0, len, dst, off, run) -> decodeF16(w, o * rowBytes, k0, len, dst, off);
            case BF16 -> (o, k0, len, dst, off, run) -> decodeBf16(w, o * rowBytes, k0, len, dst, off);
            case Q8_0 -> (o, k0, len, dst, off, run) -> decodeQ8_0(w, o * rowBytes, k0, len, dst, off);
            case Q4_0 -> (o, k0, len, dst, off, run) -> decodeQ4_0(w, o * rowBytes, k0, len, dst, off);
            case Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS -> (o, k0, len, dst, off, run) -> {
                for (int k = 0; k < len; k += BlockDecoder.RUN) {
                    int m = Math.min(BlockDecoder.RUN, len - k);
                    BlockDecoder.decode(type, w, o * rowBytes, k0 + k, m, run);
                    System.arraycopy(run, 0, dst, off + k, m);
                }
            };
            default -> throw new IllegalArgumentException("matmul: no kernel for " + type);
        };
        gemm(pool, out, x, n, in, outRows, decoder);
    }

    /**
     * W8A16, as {@link Reference#matmulW8A16}: int8 weights scaled per group (w = q·scale) into the panel,
     * activations float.
     */
    static void matmulW8A16(ForkJoinPool pool, float[] out, float[] x, int n, int in, MemorySegment q, float[] scales, int groupSize, int outRows) {
        int gs = groupSize == 0 ? in : groupSize, groups = in / gs;
        if (groups > 1 && gs % B.length() != 0) { // a vector would straddle two groups: no such scheme exists
            Reference.matmulW8A16(out, x, n, in, q, scales, groupSize, outRows);
            return;
        }
        if (n < MIN_TOKENS) {
            parallelFor(pool, ceil(outRows, DOT_ROWS), c -> {
                for (int o = c * DOT_ROWS; o < Math.min(outRows, (c + 1) * DOT_ROWS); o++) {
                    for (int t = 0; t < n; t++) out[t * outRows + o] = dotI8(q, (long) o * in, scales, o * groups, gs, x, t * in, in);
                }
            });
            return;
        }
        gemm(pool, out, x, n, in, outRows, (o, k0, len, dst, off, run) -> decodeI8(q, (long) o * in, scales, o * groups, gs, k0, len, dst, off));
    }

    /**
     * The panel GEMM. x is packed into token tiles, [tile][column][TOKENS] (the last one L wide where at most L tokens
     * are left) with the tokens past n zero, so a tile
     * reads its columns sequentially. Output rows are split into chunks of whole register tiles, a multiple of the
     * thread count of them. A chunk decodes {@link #PANEL_K} columns of its rows at a time, then runs the register tiles
     * over them {@link #K_BLOCK} columns at a time; its sums stay in a (rows × padded tokens) array across the
     * columns and go into out once.
     */
    private static void gemm(ForkJoinPool pool, float[] out, float[] x, int n, int in, int outRows, RowDecoder decoder) {
        boolean few = n < L;   // lanes over columns (dotTile): n multiply-adds per L weights, not L
        int tiles = ceil(n, TOKENS), last = lastWidth(n, tiles), padded = few ? n : (tiles - 1) * TOKENS + last;
        float[] packed = few ? null : pack(pool, x, n, in, tiles, last);
        int threads = pool.getParallelism(), groups = ceil(outRows, ROWS);
        int chunks = ceil(ceil(groups, MAX_GROUPS), threads) * threads;
        int chunk = ceil(groups, chunks) * ROWS;
        parallelFor(pool, ceil(outRows, chunk), c -> {
            int o0 = c * chunk, rows = Math.min(outRows, o0 + chunk) - o0, used = ceil(rows, ROWS);
            var s = SCRATCH.get();
            if (s.panel.length < chunk * PANEL_STRIDE) s.panel = new float[chunk * PANEL_STRIDE];
            if (s.acc.length < chunk * padded) s.acc = new float[chunk * padded];
            float[] panel = s.panel, acc = s.acc;
            Arrays.fill(acc, 0, used * ROWS * padded, 0f);
            // rows past the last one of a partial tile multiply as zeros, and their sums are never read
            Arrays.fill(panel, rows * PANEL_STRIDE, used * ROWS * PANEL_STRIDE, 0f);
            for (int kp = 0; kp < in; kp += PANEL_K) {
                int plen = Math.min(PANEL_K, in - kp);
                for (int r = 0; r < rows; r++) decoder.decode(o0 + r, kp, plen, panel, r * PANEL_STRIDE, s.run);
                if (few) {
                    for (int r = 0; r < rows; r += 2) {
                        int t = 0;
                        for (; t + 4 <= n; t += 4) dotTile(panel, r * PANEL_STRIDE, x, t * in + kp, in, plen, acc, r * padded + t, padded);
                        for (; t < n; t++) dotTile1(panel, r * PANEL_STRIDE, x, t * in + kp, plen, acc, r * padded + t, padded);
                    }
                    continue;
                }
                for (int ks = 0; ks < plen; ks += K_BLOCK) {
                    int len = Math.min(K_BLOCK, plen - ks);
                    for (int tile = 0; tile < tiles; tile++) {
                        boolean narrow = tile == tiles - 1 && last == L;
                        int xo = tile * in * TOKENS + (kp + ks) * (narrow ? L : TOKENS);
                        for (int g = 0; g < used; g++) {
                            int p0 = g * ROWS * PANEL_STRIDE + ks, a0 = g * ROWS * padded + tile * TOKENS;
                            if (narrow) narrowTile(panel, p0, packed, xo, len, acc, a0, padded);
                            else tile(panel, p0, packed, xo, len, acc, a0, padded);
                        }
                    }
                }
            }
            transpose(acc, padded, rows, n, out, outRows, o0);
        });
    }

    /**
     * out[t][o0 + r] = acc[r][t]: L rows of a token at a time, gathered from acc (padded floats apart) and stored
     * as one vector into the token's row of out. (Value by value, each store goes to another cache line.)
     */
    private static void transpose(float[] acc, int padded, int rows, int n, float[] out, int outRows, int o0) {
        int[] lanes = new int[L];
        for (int i = 0; i < L; i++) lanes[i] = i * padded;
        int vecRows = rows - rows % L;
        for (int r0 = 0; r0 < vecRows; r0 += L) {
            for (int t = 0; t < n; t++) FloatVector.fromArray(F, acc, r0 * padded + t, lanes, 0).intoArray(out, t * outRows + o0 + r0);
        }
        for (int r = vecRows; r < rows; r++) {
            for (int t = 0; t < n; t++) out[t * outRows + o0 + r] = acc[r * padded + t];
        }
    }

    private static int ceil(int a, int b) {
        return (a + b - 1) / b;
    }

    /**
     * The last token tile's width: one vector (L tokens) where that many are left, else two. A verification forward of
     * a few tokens, or a batch of a few sequences, then pays one multiply-add per weight, not two.
     */
    private static int lastWidth(int n, int tiles) {
        return n - (tiles - 1) * TOKENS <= L ? L : TOKENS;
    }

    /**
     * x (n × in) as token tiles [tile][column][width] (width TOKENS, the last {@code last}), zero past token n; the
     * caller's thread-local array.
     */
    private static float[] pack(ForkJoinPool pool, float[] x, int n, int in, int tiles, int last) {
        var s = SCRATCH.get();
        if (s.packed.length < tiles * in * TOKENS) s.packed = new float[tiles * in * TOKENS];
        float[] packed = s.packed;
        int spans = ceil(in, K_BLOCK);
        parallelFor(pool, tiles * spans, task -> {
            int tile = task / spans, k0 = task % spans * K_BLOCK, k1 = Math.min(in, k0 + K_BLOCK);
            int base = tile * in * TOKENS, width = tile == tiles - 1 ? last : TOKENS, tokens = Math.min(width, n - tile * TOKENS);
            for (int k = k0; k < k1; k += 16) {
                int kEnd = Math.min(k1, k + 16);
                for (int j = 0; j < tokens; j++) {
                    int src = (tile * TOKENS + j) * in;
                    for (int i = k; i < kEnd; i++) packed[base + i * width + j] = x[src + i];
                }
                for (int j = tokens; j < width; j++) {
                    for (int i = k; i < kEnd; i++) packed[base + i * width + j] = 0f;
                }
            }
        });
        return packed;
    }

    /**
     * The register tile: acc[r][t] += Σ_k p[r][k]·x[k][t] for ROWS panel rows (p from p0, rows PANEL_STRIDE apart) and
     * the TOKENS packed tokens (x from x0, columns TOKENS apart), over len columns; acc rows are stride apart.
     */
    private static void tile(float[] p, int p0, float[] x, int x0, int len, float[] acc, int a0, int stride) {
        final int R = PANEL_STRIDE;
        var c00 = FloatVector.fromArray(F, acc, a0);                 var c01 = FloatVector.fromArray(F, acc, a0 + L);
        var c10 = FloatVector.fromArray(F, acc, a0 + stride);        var c11 = FloatVector.fromArray(F, acc, a0 + stride + L);
        var c20 = FloatVector.fromArray(F, acc, a0 + 2 * stride);    var c21 = FloatVector.fromArray(F, acc, a0 + 2 * stride + L);
        var c30 = FloatVector.fromArray(F, acc, a0 + 3 * stride);    var c31 = FloatVector.fromArray(F, acc, a0 + 3 * stride + L);
        var c40 = FloatVector.fromArray(F, acc, a0 + 4 * stride);    var c41 = FloatVector.fromArray(F, acc, a0 + 4 * stride + L);
        var c50 = FloatVector.fromArray(F, acc, a0 + 5 * stride);    var c51 = FloatVector.fromArray(F, acc, a0 + 5 * stride + L);
        var c60 = FloatVector.fromArray(F, acc, a0 + 6 * stride);    var c61 = FloatVector.fromArray(F, acc, a0 + 6 * stride + L);
        var c70 = FloatVector.fromArray(F, acc, a0 + 7 * stride);    var c71 = FloatVector.fromArray(F, acc, a0 + 7 * stride + L);
        var c80 = FloatVector.fromArray(F, acc, a0 + 8 * stride);    var c81 = FloatVector.fromArray(F, acc, a0 + 8 * stride + L);
        var c90 = FloatVector.fromArray(F, acc, a0 + 9 * stride);    var c91 = FloatVector.fromArray(F, acc, a0 + 9 * stride + L);
        var ca0 = FloatVector.fromArray(F, acc, a0 + 10 * stride);   var ca1 = FloatVector.fromArray(F, acc, a0 + 10 * stride + L);
        var cb0 = FloatVector.fromArray(F, acc, a0 + 11 * stride);   var cb1 = FloatVector.fromArray(F, acc, a0 + 11 * stride + L);
        for (int k = 0; k < len; k++) {
            int xi = x0 + k * TOKENS, pi = p0 + k;
            var x0v = FloatVector.fromArray(F, x, xi);
            var x1v = FloatVector.fromArray(F, x, xi + L);
            var w = FloatVector.broadcast(F, p[pi]);          c00 = w.fma(x0v, c00); c01 = w.fma(x1v, c01);
            w = FloatVector.broadcast(F, p[pi + R]);          c10 = w.fma(x0v, c10); c11 = w.fma(x1v, c11);
            w = FloatVector.broadcast(F, p[pi + 2 * R]);      c20 = w.fma(x0v, c20); c21 = w.fma(x1v, c21);
            w = FloatVector.broadcast(F, p[pi + 3 * R]);      c30 = w.fma(x0v, c30); c31 = w.fma(x1v, c31);
            w = FloatVector.broadcast(F, p[pi + 4 * R]);      c40 = w.fma(x0v, c40); c41 = w.fma(x1v, c41);
            w = FloatVector.broadcast(F, p[pi + 5 * R]);      c50 = w.fma(x0v, c50); c51 = w.fma(x1v, c51);
            w = FloatVector.broadcast(F, p[pi + 6 * R]);      c60 = w.fma(x0v, c60); c61 = w.fma(x1v, c61);
            w = FloatVector.broadcast(F, p[pi + 7 * R]);      c70 = w.fma(x0v, c70); c71 = w.fma(x1v, c71);
            w = FloatVector.broadcast(F, p[pi + 8 * R]);      c80 = w.fma(x0v, c80); c81 = w.fma(x1v, c81);
            w = FloatVector.broadcast(F, p[pi + 9 * R]);      c90 = w.fma(x0v, c90); c91 = w.fma(x1v, c91);
            w = FloatVector.broadcast(F, p[pi + 10 * R]);     ca0 = w.fma(x0v, ca0); ca1 = w.fma(x1v, ca1);
            w = FloatVector.broadcast(F, p[pi + 11 * R]);     cb0 = w.fma(x0v, cb0); cb1 = w.fma(x1v, cb1);
        }
        c00.intoArray(acc, a0);                 c01.intoArray(acc, a0 + L);
        c10.intoArray(acc, a0 + stride);        c11.intoArray(acc, a0 + stride + L);
        c20.intoArray(acc, a0 + 2 * stride);    c21.intoArray(acc, a0 + 2 * stride + L);
        c30.intoArray(acc, a0 + 3 * stride);    c31.intoArray(acc, a0 + 3 * stride + L);
        c40.intoArray(acc, a0 + 4 * stride);    c41.intoArray(acc, a0 + 4 * stride + L);
        c50.intoArray(acc, a0 + 5 * stride);    c51.intoArray(acc, a0 + 5 * stride + L);
        c60.intoArray(acc, a0 + 6 * stride);    c61.intoArray(acc, a0 + 6 * stride + L);
        c70.intoArray(acc, a0 + 7 * stride);    c71.intoArray(acc, a0 + 7 * stride + L);
        c80.intoArray(acc, a0 + 8 * stride);    c81.intoArray(acc, a0 + 8 * stride + L);
        c90.intoArray(acc, a0 + 9 * stride);    c91.intoArray(acc, a0 + 9 * stride + L);
        ca0.intoArray(acc, a0 + 10 * stride);   ca1.intoArray(acc, a0 + 10 * stride + L);
        cb0.intoArray(acc, a0 + 11 * stride);   cb1.intoArray(acc, a0 + 11 * stride + L);
    }

    /** {@link #tile} for a one-vector token tile (L tokens, columns L apart): one multiply-add per weight. */
    private static void narrowTile(float[] p, int p0, float[] x, int x0, int len, float[] acc, int a0, int stride) {
        final int R = PANEL_STRIDE;
        var c0 = FloatVector.fromArray(F, acc, a0);                 var c1 = FloatVector.fromArray(F, acc, a0 + stride);
        var c2 = FloatVector.fromArray(F, acc, a0 + 2 * stride);    var c3 = FloatVector.fromArray(F, acc, a0 + 3 * stride);
        var c4 = FloatVector.fromArray(F, acc, a0 + 4 * stride);    var c5 = FloatVector.fromArray(F, acc, a0 + 5 * stride);
        var c6 = FloatVector.fromArray(F, acc, a0 + 6 * stride);    var c7 = FloatVector.fromArray(F, acc, a0 + 7 * stride);
        var c8 = FloatVector.fromArray(F, acc, a0 + 8 * stride);    var c9 = FloatVector.fromArray(F, acc, a0 + 9 * stride);
        var ca = FloatVector.fromArray(F, acc, a0 + 10 * stride);   var cb = FloatVector.fromArray(F, acc, a0 + 11 * stride);
        for (int k = 0; k < len; k++) {
            int pi = p0 + k;
            var xv = FloatVector.fromArray(F, x, x0 + k * L);
            c0 = FloatVector.broadcast(F, p[pi]).fma(xv, c0);              c1 = FloatVector.broadcast(F, p[pi + R]).fma(xv, c1);
            c2 = FloatVector.broadcast(F, p[pi + 2 * R]).fma(xv, c2);      c3 = FloatVector.broadcast(F, p[pi + 3 * R]).fma(xv, c3);
            c4 = FloatVector.broadcast(F, p[pi + 4 * R]).fma(xv, c4);      c5 = FloatVector.broadcast(F, p[pi + 5 * R]).fma(xv, c5);
            c6 = FloatVector.broadcast(F, p[pi + 6 * R]).fma(xv, c6);      c7 = FloatVector.broadcast(F, p[pi + 7 * R]).fma(xv, c7);
            c8 = FloatVector.broadcast(F, p[pi + 8 * R]).fma(xv, c8);      c9 = FloatVector.broadcast(F, p[pi + 9 * R]).fma(xv, c9);
            ca = FloatVector.broadcast(F, p[pi + 10 * R]).fma(xv, ca);     cb = FloatVector.broadcast(F, p[pi + 11 * R]).fma(xv, cb);
        }
        c0.intoArray(acc, a0);                 c1.intoArray(acc, a0 + stride);
        c2.intoArray(acc, a0 + 2 * stride);    c3.intoArray(acc, a0 + 3 * stride);
        c4.intoArray(acc, a0 + 4 * stride);    c5.intoArray(acc, a0 + 5 * stride);
        c6.intoArray(acc, a0 + 6 * stride);    c7.intoArray(acc, a0 + 7 * stride);
        c8.intoArray(acc, a0 + 8 * stride);    c9.intoArray(acc, a0 + 9 * stride);
        ca.intoArray(acc, a0 + 10 * stride);   cb.intoArray(acc, a0 + 11 * stride);
    }

    /**
     * A few tokens: acc[r][t] += Σ_k p[r][k]·x[t][k] for panel rows r, r + 1 (from p0, PANEL_STRIDE apart) and four
     * tokens (x rows from x0, in apart), lanes over the len columns, each panel vector shared by four tokens and each
     * x vector by two rows; acc rows are stride apart.
     */
    private static void dotTile(float[] p, int p0, float[] x, int x0, int in, int len, float[] acc, int a0, int stride) {
        int p1 = p0 + PANEL_STRIDE, end = len - len % L;
        var a00 = FloatVector.zero(F); var a01 = a00; var a02 = a00; var a03 = a00;
        var a10 = a00; var a11 = a00; var a12 = a00; var a13 = a00;
        for (int k = 0; k < end; k += L) {
            FloatVector w0 = FloatVector.fromArray(F, p, p0 + k), w1 = FloatVector.fromArray(F, p, p1 + k);
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + k), v1 = FloatVector.fromArray(F, x, x0 + in + k);
            FloatVector v2 = FloatVector.fromArray(F, x, x0 + 2 * in + k), v3 = FloatVector.fromArray(F, x, x0 + 3 * in + k);
            a00 = w0.fma(v0, a00); a01 = w0.fma(v1, a01); a02 = w0.fma(v2, a02); a03 = w0.fma(v3, a03);
            a10 = w1.fma(v0, a10); a11 = w1.fma(v1, a11); a12 = w1.fma(v2, a12); a13 = w1.fma(v3, a13);
        }
        float s00 = a00.reduceLanes(ADD), s01 = a01.reduceLanes(ADD), s02 = a02.reduceLanes(ADD), s03 = a03.reduceLanes(ADD);
        float s10 = a10.reduceLanes(ADD), s11 = a11.reduceLanes(ADD), s12 = a12.reduceLanes(ADD), s13 = a13.reduceLanes(ADD);
        for (int k = end; k < len; k++) {
            float w0 = p[p0 + k], w1 = p[p1 + k];
            s00 += w0 * x[x0 + k]; s01 += w0 * x[x0 + in + k]; s02 += w0 * x[x0 + 2 * in + k]; s03 += w0 * x[x0 + 3 * in + k];
            s10 += w1 * x[x0 + k]; s11 += w1 * x[x0 + in + k]; s12 += w1 * x[x0 + 2 * in + k]; s13 += w1 * x[x0 + 3 * in + k];
        }
        acc[a0] += s00; acc[a0 + 1] += s01; acc[a0 + 2] += s02; acc[a0 + 3] += s03;
        acc[a0 + stride] += s10; acc[a0 + stride + 1] += s11; acc[a0 + stride + 2] += s12; acc[a0 + stride + 3] += s13;
    }

    /** {@link #dotTile} for one token. */
    private static void dotTile1(float[] p, int p0, float[] x, int x0, int len, float[] acc, int a0, int stride) {
        int p1 = p0 + PANEL_STRIDE, end = len - len % L;
        var a0v = FloatVector.zero(F);
        var a1v = a0v;
        for (int k = 0; k < end; k += L) {
            var v = FloatVector.fromArray(F, x, x0 + k);
            a0v = FloatVector.fromArray(F, p, p0 + k).fma(v, a0v);
            a1v = FloatVector.fromArray(F, p, p1 + k).fma(v, a1v);
        }
        float s0 = a0v.reduceLanes(ADD), s1 = a1v.reduceLanes(ADD);
        for (int k = end; k < len; k++) {
            s0 += p[p0 + k] * x[x0 + k];
            s1 += p[p1 + k] * x[x0 + k];
        }
        acc[a0] += s0;
        acc[a0 + stride] += s1;
    }

    // The panel decoders: columns [k0, k0 + len) of the row at byte offset row, as floats into dst from off; values
    // exactly as Dequant decodes them (k0 and len are multiples of the block size for the block types).

    private static void decodeF16(MemorySegment w, long row, int k0, int len, float[] dst, int off) {
        int end = len - len % L;
        for (int i = 0; i < end; i += L) halfToFloat(ShortVector.fromMemorySegment(S, w, row + (k0 + i) * 2L, LE)).intoArray(dst, off + i);
        for (int i = end; i < len; i++) dst[off + i] = Dequant.f16(w.get(Dequant.I16, row + (k0 + i) * 2L));
    }

    private static void decodeBf16(MemorySegment w, long row, int k0, int len, float[] dst, int off) {
        int end = len - len % L;
        for (int i = 0; i < end; i += L) bf16ToFloat(ShortVector.fromMemorySegment(S, w, row + (k0 + i) * 2L, LE)).intoArray(dst, off + i);
        for (int i = end; i < len; i++) dst[off + i] = Dequant.bf16(w.get(Dequant.I16, row + (k0 + i) * 2L));
    }

    /** Q8_0: each 34-byte block is an f16 scale d and 32 int8 q; w = q·d. */
    private static void decodeQ8_0(MemorySegment w, long row, int k0, int len, float[] dst, int off) {
        for (int b = 0; b < len / 32; b++) {
            long base = row + (k0 / 32 + b) * 34L;
            float d = Dequant.f16(w.get(Dequant.I16, base));
            for (int j = 0; j < 32; j += B.length()) {
                var q = ByteVector.fromMemorySegment(B, w, base + 2 + j, LE);
                for (int p = 0; p < PARTS; p++) int8ToFloat(q, p).mul(d).intoArray(dst, off + b * 32 + j + p * L);
            }
        }
    }

    /** Q4_0: each 18-byte block is an f16 scale d and 16 bytes; byte j holds value j (low nibble) and j+16 (high), each (nibble − 8)·d. */
    private static void decodeQ4_0(MemorySegment w, long row, int k0, int len, float[] dst, int off) {
        for (int b = 0; b < len / 32; b++) {
            long base = row + (k0 / 32 + b) * 18L;
            float d = Dequant.f16(w.get(Dequant.I16, base));
            for (int j = 0; j < 16; j += B.length()) {
                var q = ByteVector.fromMemorySegment(B, w, base + 2 + j, LE);
                for (int p = 0; p < 2 * PARTS; p++) nibblesToFloat(q, p).mul(d).intoArray(dst, off + b * 32 + nibbleColumn(j, p));
            }
        }
    }

    /** INT8 with a scale per group of gs columns (vectors never straddle two groups); w = q·scale. */
    private static void decodeI8(MemorySegment q, long row, float[] scales, int s0, int gs, int k0, int len, float[] dst, int off) {
        int end = len - len % B.length();
        for (int i = 0; i < end; i += B.length()) {
            float d = scales[s0 + (k0 + i) / gs];
            var v = ByteVector.fromMemorySegment(B, q, row + k0 + i, LE);
            for (int p = 0; p < PARTS; p++) int8ToFloat(v, p).mul(d).intoArray(dst, off + i + p * L);
        }
        for (int i = end; i < len; i++) dst[off + i] = q.get(ValueLayout.JAVA_BYTE, row + k0 + i) * scales[s0 + (k0 + i) / gs];
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
