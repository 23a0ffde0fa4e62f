package dev.infercl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Elementwise;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Norm;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * CpuBackend FAST against REFERENCE through the public Backend API: seeded random inputs, odd shapes, normalized
 * MSE thresholds (matmul, attention ≤ 5e-4; elementwise ≤ 1e-7), no NaN/Inf, and guard rows past every output
 * that must keep their sentinel.
 */
class CpuParityTest {
    static final float SENTINEL = -1234.5f;
    static final int GUARD_ROWS = 2;
    static final double MATMUL_NMSE = 5e-4, ELEMENTWISE_NMSE = 1e-7;

    static final CpuBackend FAST = new CpuBackend(CpuBackend.Mode.FAST, 3);
    static final CpuBackend REF = new CpuBackend(CpuBackend.Mode.REFERENCE, 1);

    /** Worst normalized MSE per op, printed after the run with -Dinfercl.printNmse=true (for reports). */
    static final Map<String, Double> WORST = new ConcurrentHashMap<>();

    @AfterAll
    static void close() {
        FAST.close();
        REF.close();
        if (Boolean.getBoolean("infercl.printNmse")) System.out.println("worst NMSE: " + new TreeMap<>(WORST));
    }

    // ------------------------------------------------------------------------------------------- matmul

    static Stream<Arguments> matmulShapes() {
        int[][] plain = {{1, 1}, {7, 7}, {31, 33}, {32, 32}, {33, 31}, {4100, 7}, {7, 4100}, {4100, 33}, {48, 1}};
        int[][] quant = {{32, 1}, {32, 7}, {64, 31}, {64, 32}, {32, 33}, {4128, 7}, {64, 4100}, {4128, 33}};
        // super-blocks of 256: one, two, and rows longer than a prefill column block (1024) and not a multiple of it
        int[][] superBlocks = {{256, 1}, {256, 7}, {512, 31}, {256, 33}, {4352, 7}, {768, 33}, {1280, 2}};
        var args = Stream.<Arguments>builder();
        for (int n : new int[] {1, 3, 5, 17, 37}) {   // one-token dots; a one-vector token tile; two vectors; two tiles, the last one vector
            for (GgmlType type : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16}) {
                for (int[] s : plain) args.add(Arguments.of(type, n, s[0], s[1]));
            }
            for (GgmlType type : BLOCK_32) {
                for (int[] s : quant) args.add(Arguments.of(type, n, s[0], s[1]));
            }
            for (GgmlType type : BLOCK_256) {
                for (int[] s : superBlocks) args.add(Arguments.of(type, n, s[0], s[1]));
            }
        }
        return args.build();
    }

    static final GgmlType[] BLOCK_32 = {GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.IQ4_NL};
    static final GgmlType[] BLOCK_256 = {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_XS};

    @ParameterizedTest(name = "{0} n={1} in={2} out={3}")
    @MethodSource("matmulShapes")
    void matmul(GgmlType type, int n, int in, int out) {
        var rnd = new Random(31L * in + 7L * out + n + type.ordinal());
        MemorySegment w = weight(type, randomWeights(rnd, out * in), out, in);
        float[] x = gaussian(rnd, n * in, 1f);
        float[][] results = new float[2][];
        for (int b = 0; b < 2; b++) {
            Backend be = b == 0 ? REF : FAST;
            Tensor wt = be.upload("w", type, out, in, w);
            Tensor xt = be.allocate("x", n, in);
            be.write(xt, x);
            Tensor ot = guarded(be, n, out);
            be.matmul(ot.firstRows(n), xt, wt);
            results[b] = readChecked(be, ot, n, out);
        }
        assertClose(results[1], results[0], MATMUL_NMSE, type + " matmul");
    }

    static Stream<Arguments> fusedShapes() {
        var args = Stream.<Arguments>builder();
        var types = Stream.concat(Stream.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16), Stream.concat(Arrays.stream(BLOCK_32), Arrays.stream(BLOCK_256)));
        for (GgmlType type : types.toList()) {
            for (int n : new int[] {1, 3}) {
                // odd row counts leave a last row outside the two-row kernels; 4128 columns span many blocks
                int[] widths = type.blockSize == 256 ? new int[] {256, 768, 4352} : type.blockSize == 32 ? new int[] {32, 96, 4128} : new int[] {7, 33, 4100};
                for (int in : widths) args.add(Arguments.of(type, n, in));
            }
        }
        return args.build();
    }

    /**
     * The fused ops (one parallel region when decoding, the interface's composition otherwise) against the
     * reference's composition: Q·K·V with three row counts, a projection accumulated into a residual, and
     * gate·up·SwiGLU; guard rows untouched.
     */
    @ParameterizedTest(name = "{0} n={1} in={2}")
    @MethodSource("fusedShapes")
    void fusedMatmuls(GgmlType type, int n, int in) {
        var rnd = new Random(17L * in + n + type.ordinal());
        int[] rows = {67, 33, 1};
        MemorySegment[] ws = new MemorySegment[3];
        for (int j = 0; j < 3; j++) ws[j] = weight(type, randomWeights(rnd, rows[j] * in), rows[j], in);
        MemorySegment up = weight(type, randomWeights(rnd, rows[0] * in), rows[0], in);
        float[] x = gaussian(rnd, n * in, 1f), residual = gaussian(rnd, n * rows[0], 1f);
        float[][][] results = new float[2][5][];
        for (int b = 0; b < 2; b++) {
            Backend be = b == 0 ? REF : FAST;
            Tensor xt = tensor(be, n, in, x);
            Tensor[] w = new Tensor[3], outs = new Tensor[3], views = new Tensor[3];
            for (int j = 0; j < 3; j++) {
                w[j] = be.upload("w" + j, type, rows[j], in, ws[j]);
                outs[j] = guarded(be, n, rows[j]);
                views[j] = outs[j].firstRows(n);
            }
            be.linear(xt, new Linear(views[0], w[0]), new Linear(views[1], w[1]), new Linear(views[2], w[2]));
            for (int j = 0; j < 3; j++) results[b][j] = readChecked(be, outs[j], n, rows[j]);

            Tensor acc = guarded(be, n, rows[0]);
            float[] init = new float[(n + GUARD_ROWS) * rows[0]];
            Arrays.fill(init, SENTINEL);
            System.arraycopy(residual, 0, init, 0, residual.length);
            be.write(acc, init);
            be.linear(xt, Linear.accumulate(acc.firstRows(n), w[0], null));
            results[b][3] = readChecked(be, acc, n, rows[0]);

            Tensor sw = guarded(be, n, rows[0]);
            be.gatedLinear(sw.firstRows(n), xt, w[0], be.upload("up", type, rows[0], in, up), Elementwise.SILU_MUL);
            results[b][4] = readChecked(be, sw, n, rows[0]);
        }
        String[] names = {"q", "k", "v", "accumulated", "swiglu"};
        for (int j = 0; j < 5; j++) assertClose(results[1][j], results[0][j], MATMUL_NMSE, type + " fused " + names[j]);
    }

    static Stream<Arguments> embedTypes() {
        var types = Stream.concat(Stream.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16), Stream.concat(Arrays.stream(BLOCK_32), Arrays.stream(BLOCK_256)));
        return types.map(t -> Arguments.of(t, t.blockSize == 256 ? 512 : t.blockSize == 32 ? 96 : 33));
    }

    /** Embedding rows of every type, on both backends against the reference decode of those rows; guard rows untouched. */
    @ParameterizedTest(name = "{0} width={1}")
    @MethodSource("embedTypes")
    void embed(GgmlType type, int width) {
        int vocab = 37;
        var rnd = new Random(width * 29L + type.ordinal());
        MemorySegment table = weight(type, randomWeights(rnd, vocab * width), vocab, width);
        int[] tokens = {36, 0, 5, 5, 17};
        float[] want = new float[tokens.length * width];
        for (int t = 0; t < tokens.length; t++) Dequant.row(type, table, (long) tokens[t] * width, want, t * width, width);
        for (Backend be : new Backend[] {REF, FAST}) {
            Tensor ot = guarded(be, tokens.length, width);
            be.embed(ot.firstRows(tokens.length), be.upload("embd", type, vocab, width, table), tokens);
            float[] got = readChecked(be, ot, tokens.length, width);
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 0f, be.name() + " " + type + " value " + i);
        }
    }

    /**
     * Every finite F16 bit pattern (normals, subnormals, ±0), decoded by the vector path: with one-hot x rows the
     * product is the weight value itself, so FAST must equal REFERENCE exactly.
     */
    @Test
    void f16MatmulDecodesEveryFiniteHalfExactly() {
        int cols = 64, rows = 0x7c00 * 2 / cols;                  // 0x0000..0x7bff and 0x8000..0xfbff
        short[] halves = new short[rows * cols];
        for (int i = 0; i < halves.length; i++) halves[i] = (short) (i < 0x7c00 ? i : 0x8000 + i - 0x7c00);
        byte[] bytes = new byte[halves.length * 2];
        for (int i = 0; i < halves.length; i++) {
            bytes[2 * i] = (byte) halves[i];
            bytes[2 * i + 1] = (byte) (halves[i] >> 8);
        }
        float[] x = new float[cols * cols];
        for (int t = 0; t < cols; t++) x[t * cols + t] = 1f;
        float[][] results = new float[2][];
        for (int b = 0; b < 2; b++) {
            Backend be = b == 0 ? REF : FAST;
            Tensor wt = be.upload("w", GgmlType.F16, rows, cols, MemorySegment.ofArray(bytes));
            Tensor xt = be.allocate("x", cols, cols);
            be.write(xt, x);
            Tensor ot = guarded(be, cols, rows);
            be.matmul(ot.firstRows(cols), xt, wt);
            results[b] = readChecked(be, ot, cols, rows);
        }
        for (int i = 0; i < results[0].length; i++) {
            if (Float.floatToIntBits(results[0][i]) != Float.floatToIntBits(results[1][i])) {
                fail("F16 value " + i + ": fast " + results[1][i] + " vs reference " + results[0][i]);
            }
        }
    }

    /**
     * The decode GEMV (one activation row) over every finite F16 bit pattern: a weight whose halves are all finite
     * goes through finiteHalfToFloat. With x = e_t the product is the half in column t, so FAST must equal
     * REFERENCE exactly; 65 columns leave a tail past the last whole vector.
     */
    @Test
    void f16DecodeDecodesEveryFiniteHalfExactly() {
        int cols = 65, rows = (0x7c00 * 2 + cols - 1) / cols;
        byte[] bytes = new byte[rows * cols * 2];
        for (int i = 0; i < rows * cols; i++) {
            int j = i % (0x7c00 * 2);
            short h = (short) (j < 0x7c00 ? j : 0x8000 + j - 0x7c00);   // 0x0000..0x7bff, 0x8000..0xfbff
            bytes[2 * i] = (byte) h;
            bytes[2 * i + 1] = (byte) (h >> 8);
        }
        float[][] wt = new float[2][];
        for (int t = 0; t < cols; t++) {
            float[] x = new float[cols];
            x[t] = 1f;
            for (int b = 0; b < 2; b++) {
                Backend be = b == 0 ? REF : FAST;
                Tensor w = be.upload("w", GgmlType.F16, rows, cols, MemorySegment.ofArray(bytes));
                Tensor ot = guarded(be, 1, rows);
                be.matmul(ot.firstRows(1), tensor(be, 1, cols, x), w);
                wt[b] = readChecked(be, ot, 1, rows);
            }
            for (int o = 0; o < rows; o++) {
                if (Float.floatToIntBits(wt[0][o]) != Float.floatToIntBits(wt[1][o])) {
                    fail("F16 decode row " + o + " column " + t + ": fast " + wt[1][o] + " vs reference " + wt[0][o]);
                }
            }
        }
    }

    /**
     * A weight with one Inf or NaN half keeps the exact conversion, in the decode GEMV (n = 1) and in the prefill
     * tiles and their remainder tokens (n = 5): the rows holding it come out non-finite as in the reference (a
     * finite-only conversion would turn Inf into 65536), the others match.
     */
    @ParameterizedTest(name = "n={0}")
    @ValueSource(ints = {1, 5})
    void f16WithInfOrNanWeightsMatchesReference(int n) {
        int rows = 9, cols = 100;
        var rnd = new Random(5 + n);
        for (short special : new short[] {0x7c00, (short) 0xfc00, 0x7e00}) {
            MemorySegment w = weight(GgmlType.F16, randomWeights(rnd, rows * cols), rows, cols);
            w.set(Dequant.I16, 2L * (4 * cols + 37), special);                    // row 4, column 37
            float[] x = gaussian(rnd, n * cols, 1f);
            float[][] out = new float[2][n * rows];
            for (int b = 0; b < 2; b++) {
                Backend be = b == 0 ? REF : FAST;
                Tensor ot = be.allocate("out", n, rows);
                be.matmul(ot, tensor(be, n, cols, x), be.upload("w", GgmlType.F16, rows, cols, w));
                be.read(ot, out[b]);
            }
            for (int i = 0; i < n * rows; i++) {
                if (i % rows == 4) {
                    assertFalse(Float.isFinite(out[1][i]), "row with 0x" + Integer.toHexString(special & 0xffff) + ": " + out[1][i]);
                    assertEquals(Float.isNaN(out[0][i]), Float.isNaN(out[1][i]), "NaN vs Inf: " + out[1][i] + " vs " + out[0][i]);
                } else {
                    assertEquals(out[0][i], out[1][i], 1e-4f * (1 + Math.abs(out[0][i])), "output " + i);
                }
            }
        }
    }

    /** finiteHalfToFloat against Float.float16ToFloat for the edge cases of its bit manipulation. */
    @Test
    void finiteHalfToFloatIsExact() {
        VectorSpecies<Short> species = VectorSpecies.of(short.class, VectorShape.forBitSize(FloatVector.SPECIES_PREFERRED.length() * 16));
        short[] cases = {0x7bff, (short) 0xfbff, 0x0001, (short) 0x8001, 0x03ff, (short) 0x83ff, 0x0400, (short) 0x8400, 0,
                (short) 0x8000, 0x3c00, (short) 0xbc00, 0x3555, (short) 0xc000};
        for (int start = 0; start < cases.length; start++) {
            short[] lanes = new short[species.length()];
            for (int i = 0; i < lanes.length; i++) lanes[i] = cases[(start + i) % cases.length];
            float[] got = VectorCodecs.finiteHalfToFloat(ShortVector.fromArray(species, lanes, 0)).toArray();
            for (int i = 0; i < lanes.length; i++) {
                assertEquals(Float.floatToIntBits(Float.float16ToFloat(lanes[i])), Float.floatToIntBits(got[i]),
                        "half 0x" + Integer.toHexString(lanes[i] & 0xffff) + ": " + got[i]);
            }
        }
    }

    /** Infinities and NaNs cannot go through a matmul (0·Inf), so the in-register conversion is checked directly. */
    @Test
    void halfToFloatKeepsSpecialValues() {
        VectorSpecies<Short> species = VectorSpecies.of(short.class, VectorShape.forBitSize(FloatVector.SPECIES_PREFERRED.length() * 16));
        short[] specials = {0x7c00, (short) 0xfc00, 0x7e00, (short) 0xfe01, 0x7c01, 0x7bff, (short) 0xfbff, 0x0001,
                (short) 0x8001, 0x03ff, 0x0400, 0, (short) 0x8000, 0x3c00, (short) 0xbc00};
        for (int start = 0; start < specials.length; start++) {
            short[] lanes = new short[species.length()];
            for (int i = 0; i < lanes.length; i++) lanes[i] = specials[(start + i) % specials.length];
            float[] got = VectorCodecs.halfToFloat(ShortVector.fromArray(species, lanes, 0)).toArray();
            for (int i = 0; i < lanes.length; i++) {
                float want = Float.float16ToFloat(lanes[i]);
                assertTrue(Float.isNaN(want) ? Float.isNaN(got[i]) : Float.floatToIntBits(want) == Float.floatToIntBits(got[i]),
                        "half 0x" + Integer.toHexString(lanes[i] & 0xffff) + ": " + got[i] + " vs " + want);
            }
        }
    }

    // ---------------------------------------------------------------------------------------- attention

    static Stream<Arguments> attentionShapes() {
        // heads, kvHeads, headDim, blockSize, sliding window (0: none), soft-cap (0: none). Query heads per KV head
        // (the group one task serves) 1, 2, 4 and 8; the single-token steps past 512 positions are split over the
        // context (3 pool threads, fewer than 4 (token, KV head) pairs per thread), and a window of 100 leaves
        // whole splits empty.
        return Stream.of(Arguments.of(4, 4, 8, 16, 0, 0f), Arguments.of(4, 2, 32, 16, 0, 0f), Arguments.of(8, 2, 64, 32, 0, 0f),
                Arguments.of(8, 4, 128, 16, 0, 0f), Arguments.of(2, 1, 33, 8, 0, 0f), Arguments.of(4, 2, 32, 16, 100, 0f),
                Arguments.of(4, 2, 64, 16, 0, 50f), Arguments.of(8, 2, 32, 8, 37, 30f), Arguments.of(8, 1, 64, 16, 0, 0f),
                Arguments.of(16, 2, 128, 16, 100, 0f), Arguments.of(6, 3, 33, 16, 0, 0f),
                Arguments.of(2, 2, 64, 16, 0, 0f), Arguments.of(16, 2, 64, 16, 37, 30f));
    }

    /** Prefill, single-token decode steps and a second prefill appended to one cache, to ≥ 600 positions. */
    @ParameterizedTest(name = "heads={0} kvHeads={1} headDim={2} block={3} window={4} softcap={5}")
    @MethodSource("attentionShapes")
    void attention(int heads, int kvHeads, int headDim, int blockSize, int window, float softcap) {
        int[] batches = {37, 1, 1, 1, 553, 1, 1, 5, 1};
        int total = Arrays.stream(batches).sum();
        var layout = new KvLayout(2, kvHeads, headDim, blockSize, 2 * (total / blockSize + 2) + 4);
        KvCache[] caches = {REF.createKvCache(layout), FAST.createKvCache(layout)};
        BlockTable[] tables = new BlockTable[2];
        for (int b = 0; b < 2; b++) {
            // another sequence takes every other block, so this sequence's physical blocks are not contiguous
            var other = new BlockTable(caches[b].pool(), blockSize);
            tables[b] = new BlockTable(caches[b].pool(), blockSize);
            for (int blocks = 1; (blocks - 1) * blockSize < total; blocks++) {
                other.reserve(blocks * blockSize);
                tables[b].reserve(blocks * blockSize);
            }
        }
        var rnd = new Random(heads * 1000L + kvHeads * 100L + headDim);
        var spec = new AttentionSpec((float) (1 / Math.sqrt(headDim)), softcap, window);
        int start = 0;
        for (int n : batches) {
            int[] positions = new int[n];
            for (int t = 0; t < n; t++) positions[t] = start + t;
            float[] q = gaussian(rnd, n * heads * headDim, 1.5f);
            float[] k = gaussian(rnd, n * kvHeads * headDim, 1.5f);
            float[] v = gaussian(rnd, n * kvHeads * headDim, 1f);
            float[][] results = new float[2][];
            for (int b = 0; b < 2; b++) {
                Backend be = b == 0 ? REF : FAST;
                tables[b].reserve(start + n);
                Tensor qt = tensor(be, n, heads * headDim, q), kt = tensor(be, n, kvHeads * headDim, k);
                Tensor vt = tensor(be, n, kvHeads * headDim, v);
                Tensor ot = guarded(be, n, heads * headDim);
                be.attention(ot.firstRows(n), qt, kt, vt, caches[b], 1, new Batch(positions, tables[b]), spec);
                tables[b].setLength(start + n);
                results[b] = readChecked(be, ot, n, heads * headDim);
            }
            assertClose(results[1], results[0], MATMUL_NMSE, "attention at positions " + start + ".." + (start + n - 1));
            start += n;
        }
        assertTrue(start >= 600);
    }

    // ------------------------------------------------------------------------------------- elementwise

    static Stream<Arguments> widths() {
        return Stream.of(1, 7, 31, 32, 33, 4100).flatMap(w -> Stream.of(1, 3, 17).map(n -> Arguments.of(n, w)));
    }

    @ParameterizedTest(name = "n={0} width={1}")
    @MethodSource("widths")
    void rmsNorm(int n, int width) {
        var rnd = new Random(width * 17L + n);
        float[] x = gaussian(rnd, n * width, 3f);
        byte[] wBytes = new byte[width * 4];
        MemorySegment w = MemorySegment.ofArray(wBytes);
        for (int i = 0; i < width; i++) w.set(Dequant.F32, i * 4L, 1 + (float) rnd.nextGaussian() * 0.2f);
        float[][] r = new float[2][];
        for (int b = 0; b < 2; b++) {
            Backend be = b == 0 ? REF : FAST;
            Tensor ot = guarded(be, n, width);
            be.norm(ot.firstRows(n), tensor(be, n, width, x), Norm.rms(be.upload("norm", GgmlType.F32, 1, width, w), 1e-5f));
            r[b] = readChecked(be, ot, n, width);
        }
        assertClose(r[1], r[0], ELEMENTWISE_NMSE, "rmsNorm");
    }

    @ParameterizedTest(name = "n={0} width={1}")
    @MethodSource("widths")
    void swiglu(int n, int width) {
        var rnd = new Random(width * 19L + n);
        float[] gate = gaussian(rnd, n * width, 4f), up = gaussian(rnd, n * width, 1f);
        gate[0] = -100f;  // e^100 overflows float: silu must still be −0, not NaN
        float[][] r = new float[2][];
        for (int b = 0; b < 2; b++) {
            Backend be = b == 0 ? REF : FAST;
            Tensor ot = guarded(be, n, width);
            be.map(ot.firstRows(n), Elementwise.SILU_MUL, tensor(be, n, width, gate), tensor(be, n, width, up));
            r[b] = readChecked(be, ot, n, width);
        }
        assertClose(r[1], r[0], ELEMENTWISE_NMSE, "swiglu");
    }

    @ParameterizedTest(name = "n={0} width={1}")
    @MethodSource("widths")
    void add(int n, int width) {
        var rnd = new Random(width * 23L + n);
        float[] x = gaussian(rnd, n * width, 1f), y = gaussian(rnd, n * width, 1f);
        float[][] r = new float[2][];
        for (int b = 0; b < 2; b++) {
            Backend be = b == 0 ? REF : FAST;
            Tensor xt = guarded(be, n, width);
            be.write(xt, x);
            be.map(xt.firstRows(n), Elementwise.ADD, xt.firstRows(n), tensor(be, n, width, y));
            r[b] = readChecked(be, xt, n, width);
        }
        assertClose(r[1], r[0], ELEMENTWISE_NMSE, "add");
    }

    static Stream<Arguments> ropeShapes() {
        // n, heads, headDim, ropeDims, neox
        return Stream.of(Arguments.of(1, 1, 8, 8, false), Arguments.of(3, 4, 32, 32, true), Arguments.of(17, 3, 64, 32, false),
                Arguments.of(17, 2, 128, 128, true), Arguments.of(3, 5, 6, 2, false));
    }

    @ParameterizedTest(name = "n={0} heads={1} headDim={2} ropeDims={3} neox={4}")
    @MethodSource("ropeShapes")
    void rope(int n, int heads, int headDim, int ropeDims, boolean neox) {
        var rnd = new Random(n * 7L + heads * 3L + headDim);
        int width = heads * headDim;
        float[] x = gaussian(rnd, n * width, 1f);
        int[] positions = new int[n];
        for (int t = 0; t < n; t++) positions[t] = 500 + 37 * t;
        var spec = new RopeSpec(headDim, ropeDims, 10000f, neox);
        float[] want = x.clone(), got = x.clone();
        Reference.rope(want, n, width, positions, spec);
        CpuOps.rope(got, n, width, positions, spec);
        assertClose(got, want, ELEMENTWISE_NMSE, "rope");
    }

    // ------------------------------------------------------------------------------------------ helpers

    /** Weight values with the cases real files have: zeros, negatives, tiny values (F16 subnormals), outliers. */
    static float[] randomWeights(Random rnd, int count) {
        float[] w = new float[count];
        for (int i = 0; i < count; i++) {
            w[i] = switch (rnd.nextInt(16)) {
                case 0 -> 0f;
                case 1 -> (float) rnd.nextGaussian() * 1e-6f;   // |w| < 2^−14: subnormal as F16
                case 2 -> (float) rnd.nextGaussian() * 3f;
                default -> (float) rnd.nextGaussian() * 0.05f;
            };
        }
        return w;
    }

    /** {@code rows × cols} floats encoded row by row in {@code type}, in a heap segment. */
    static MemorySegment weight(GgmlType type, float[] values, int rows, int cols) {
        int rowBytes = (int) type.byteSize(cols);
        byte[] bytes = new byte[rows * rowBytes];
        var seg = MemorySegment.ofArray(bytes);
        for (int r = 0; r < rows; r++) {
            long base = (long) r * rowBytes;
            switch (type) {
                case F32 -> { for (int i = 0; i < cols; i++) seg.set(Dequant.F32, base + 4L * i, values[r * cols + i]); }
                case F16 -> { for (int i = 0; i < cols; i++) seg.set(Dequant.I16, base + 2L * i, Float.floatToFloat16(values[r * cols + i])); }
                case BF16 -> { for (int i = 0; i < cols; i++) seg.set(Dequant.I16, base + 2L * i, Dequant.toBf16(values[r * cols + i])); }
                default -> System.arraycopy(Dequant.quantize(type, values, r * cols, cols), 0, bytes, (int) base, rowBytes);
            }
        }
        return seg;
    }

    static float[] gaussian(Random rnd, int count, float sigma) {
        float[] a = new float[count];
        for (int i = 0; i < count; i++) a[i] = (float) rnd.nextGaussian() * sigma;
        return a;
    }

    static Tensor tensor(Backend be, int rows, int cols, float[] values) {
        Tensor t = be.allocate("in", rows, cols);
        be.write(t, values);
        return t;
    }

    /** A tensor of rows + GUARD_ROWS rows, all holding the sentinel; ops write to its firstRows(rows) view. */
    static Tensor guarded(Backend be, int rows, int cols) {
        Tensor t = be.allocate("out", rows + GUARD_ROWS, cols);
        float[] fill = new float[(rows + GUARD_ROWS) * cols];
        Arrays.fill(fill, SENTINEL);
        be.write(t, fill);
        return t;
    }

    /** The first rows × cols values, after checking they are finite and the guard rows kept the sentinel. */
    static float[] readChecked(Backend be, Tensor t, int rows, int cols) {
        float[] all = new float[(rows + GUARD_ROWS) * cols];
        be.read(t, all);
        for (int i = rows * cols; i < all.length; i++) {
            if (all[i] != SENTINEL) fail(be.name() + ": guard value " + (i - rows * cols) + " overwritten with " + all[i]);
        }
        float[] values = Arrays.copyOf(all, rows * cols);
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) fail(be.name() + ": value " + i + " is " + values[i]);
        }
        return values;
    }

    /** Normalized MSE Σ(a−b)²/Σb² ≤ limit (exact equality also passes when b is all zeros). */
    static void assertClose(float[] actual, float[] expected, double limit, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double err = 0, norm = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = (double) actual[i] - expected[i];
            err += d * d;
            norm += (double) expected[i] * expected[i];
        }
        double nmse = norm == 0 ? (err == 0 ? 0 : Double.POSITIVE_INFINITY) : err / norm;
        WORST.merge(what.split(" ")[0], nmse, Math::max);
        assertTrue(nmse <= limit, what + ": normalized MSE " + nmse + " > " + limit);
    }
}
