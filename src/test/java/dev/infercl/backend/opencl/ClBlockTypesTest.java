package dev.infercl.backend.opencl;

import static dev.infercl.backend.opencl.ClParityTest.guarded;
import static dev.infercl.backend.opencl.ClParityTest.input;
import static dev.infercl.backend.opencl.ClParityTest.nmse;
import static dev.infercl.backend.opencl.ClParityTest.random;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.Tensor;
import dev.infercl.backend.cpu.Reference;
import dev.infercl.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The GGML block types the OpenCL kernels read as files store them (blocks.h: the K types, Q4_1, Q5_0, Q5_1, IQ4_NL,
 * IQ4_XS) against {@link Reference}: one-token products (GEMV, and the GPU shape with lanes), tiled products (GEMM,
 * with x staged as GPUs do; token counts below, at and past a GEMM run), and the embedding gather, with guard rows and
 * NMSE ≤ 5e-4 (1e-7 for the gather). Q4_K, Q5_K and Q6_K products take int8 activations where the device builds
 * them (both vector widths, GEMV and GEMM) and are also run with the float kernels forced; the int8-activation
 * products are checked against the same arithmetic on llama.cpp's rounding of x
 * ({@link Reference#roundQ8K}), NMSE ≤ 1e-9.
 * The tiled products here are the non-AMX GEMMs (ClAmxTest covers AMX's).
 * Weights are random bytes — every bit pattern of quants and scales is a valid block — with the F16 scale fields
 * set to finite values, so the kernels meet every combination of scales, minimums and high bits.
 */
class ClBlockTypesTest {
    static final boolean SMALL = ClTestSupport.small();
    static ClBackend gemv, gemvFloat, gemvQ8k32, gemm, gemmFloat, gemmQ8k32, lanes, staged;
    static boolean q8kBuilds;
    static Arena arena;

    @BeforeAll
    static void open() {
        gemv = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMV));
        gemvFloat = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMV).withQ8k(0));
        gemvQ8k32 = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMV).withQ8k(32));
        gemm = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM).withAmx(false));
        gemmFloat = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM).withQ8k(0).withAmx(false));
        gemmQ8k32 = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM).withQ8k(32).withAmx(false));
        lanes = ClTestSupport.openWithLanes(ClParityTest.LANES, ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMV));
        staged = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM).withStageX(true).withAmx(false));
        arena = Arena.ofShared();
        q8kBuilds = probeQ8k();
    }

    /**
     * Whether this device builds the int8-activation kernels (x86 with AVX2), found by one small Q4_K product on the
     * "auto" backend: where they build, "auto" uses them for every one-token K-quant product.
     */
    static boolean probeQ8k() {
        MemorySegment seg = weights(new Random(1), GgmlType.Q4_K, 1, 256);
        Tensor w = gemv.upload("probe", GgmlType.Q4_K, 1, 256, seg), x = input(gemv, new float[256], 1, 256);
        guarded(gemv, 1, 1, null, out -> gemv.matmul(out, x, w));
        return gemv.kernelsUsed().contains("matmul_block_q8k_gemv");
    }

    @AfterAll
    static void close() {
        for (ClBackend b : new ClBackend[] {gemv, gemvFloat, gemvQ8k32, gemm, gemmFloat, gemmQ8k32, lanes, staged}) if (b != null) b.close();
        if (arena != null) arena.close();
    }

    /** Byte offsets of the F16 fields (scales, minimums) within one block of each type. */
    static final Map<GgmlType, int[]> HALVES = Map.of(GgmlType.Q4_1, new int[] {0, 2}, GgmlType.Q5_0, new int[] {0},
            GgmlType.Q5_1, new int[] {0, 2}, GgmlType.IQ4_NL, new int[] {0}, GgmlType.Q2_K, new int[] {80, 82},
            GgmlType.Q3_K, new int[] {108}, GgmlType.Q4_K, new int[] {0, 2}, GgmlType.Q5_K, new int[] {0, 2},
            GgmlType.Q6_K, new int[] {208}, GgmlType.IQ4_XS, new int[] {0});

    /** rows × cols weights of {@code type}: random bytes, its F16 fields small finite values (some negative, some 0). */
    static MemorySegment weights(Random r, GgmlType type, int rows, int cols) {
        long bytes = type.byteSize(cols) * rows;
        MemorySegment s = arena.allocate(bytes + 64, 64);
        for (long i = 0; i < bytes; i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt(256));
        for (long blk = 0; blk < bytes / type.typeSize; blk++) {
            for (int off : HALVES.get(type)) {
                float v = r.nextInt(16) == 0 ? 0f : (float) (r.nextGaussian() * 0.02);
                s.set(ValueLayout.JAVA_SHORT_UNALIGNED, blk * type.typeSize + off, Float.floatToFloat16(v));
            }
        }
        return s.asSlice(0, bytes);
    }

    /** Widths the type allows: multiples of 256 for the super-block types; for the others also widths that are not. */
    static int[] widths(GgmlType type) {
        return type.blockSize == 256 ? new int[] {256, SMALL ? 512 : 4096} : new int[] {32, 96, SMALL ? 544 : 4128};
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
    void productsOfEveryShapeEqualTheReference(GgmlType type) {
        var r = new Random(100 + type.id);
        for (int in : widths(type)) {
            for (int outRows : new int[] {1, 7, 33, 97}) {
                MemorySegment seg = weights(r, type, outRows, in);
                for (int n : new int[] {1, 2, 5, 9, 19}) {
                    float[] x = random(r, n * in, 1f), want = new float[n * outRows];
                    Reference.matmul(want, x, n, in, seg, type, outRows);
                    float[] wantQ8k = new float[n * outRows];
                    if (KernelChooser.Q8K_TYPES.contains(type)) Reference.matmul(wantQ8k, Reference.roundQ8K(x, in), n, in, seg, type, outRows);
                    for (ClBackend b : backends(type)) {
                        Tensor w = b.upload("w", type, outRows, in, seg), xt = input(b, x, n, in);
                        float[] got = guarded(b, n, outRows, null, out -> b.matmul(out, xt, w));
                        // the int8 path against its own exact arithmetic: its rounding of x is llama.cpp's, not an error
                        // to bound (with these random minimums it alone reaches NMSE ~1e-3 against float x)
                        if (q8k(b, type)) nmse("matmul " + type + " " + shape(b), got, wantQ8k, want.length, 1e-9);
                        else nmse("matmul " + type + " " + shape(b), got, want, want.length, 5e-4);
                    }
                }
            }
        }
        boolean q8k = KernelChooser.Q8K_TYPES.contains(type);
        for (ClBackend b : q8k ? List.of(gemvFloat, gemmFloat) : List.of(gemv, gemm)) {
            String kernel = b == gemv || b == gemvFloat ? "matmul_block_f32_gemv" : "matmul_block_f32_gemm";
            assertTrue(b.kernelsUsed().contains(kernel), shape(b) + ": " + b.kernelsUsed());
        }
        if (q8k && q8kBuilds) {
            for (ClBackend b : List.of(gemv, gemvQ8k32)) {
                assertTrue(b.kernelsUsed().containsAll(List.of("quantize_f32_q8k", "matmul_block_q8k_gemv")), b.kernelsUsed().toString());
            }
            for (ClBackend b : List.of(gemm, gemmQ8k32)) {
                assertTrue(b.kernelsUsed().contains("matmul_block_q8k_gemm"), b.kernelsUsed().toString());
            }
        }
    }

    /**
     * The int8-activation products give a token the same bits alone (the GEMV) and in a product of any number of tokens
     * (matmul_block_q8k_gemm in runs of min(n, 8)): a batching step or a speculative verification computes each token as
     * one-token decoding does.
     */
    @ParameterizedTest
    @EnumSource(names = {"Q4_K", "Q5_K", "Q6_K"})
    void int8ProductsGiveATokenTheSameBitsInRunsOfAnyLength(GgmlType type) {
        org.junit.jupiter.api.Assumptions.assumeTrue(q8kBuilds, "skipped: the int8-activation kernels do not build on this device");
        var r = new Random(300 + type.id);
        int in = 512, rows = 37;
        MemorySegment seg = weights(r, type, rows, in);
        Tensor wv = gemv.upload("w", type, rows, in, seg), wm = gemm.upload("w", type, rows, in, seg);
        float[] x = random(r, 11 * in, 1f);
        float[] alone = new float[11 * rows];
        for (int t = 0; t < 11; t++) {
            Tensor xt = input(gemv, java.util.Arrays.copyOfRange(x, t * in, (t + 1) * in), 1, in);
            System.arraycopy(guarded(gemv, 1, rows, null, out -> gemv.matmul(out, xt, wv)), 0, alone, t * rows, rows);
        }
        for (int n : new int[] {2, 3, 5, 8, 11}) {
            Tensor xt = input(gemm, java.util.Arrays.copyOf(x, n * in), n, in);
            float[] got = guarded(gemm, n, rows, null, out -> gemm.matmul(out, xt, wm));
            org.junit.jupiter.api.Assertions.assertArrayEquals(java.util.Arrays.copyOf(alone, n * rows), got, type + ": " + n + " tokens in one product");
        }
        assertTrue(gemm.kernelsUsed().contains("matmul_block_q8k_gemm"), gemm.kernelsUsed().toString());
    }

    /**
     * The fused one-token int8-activation kernels compute each output as the one-product GEMV does, to the bit: Q, K
     * and V in one launch (matmul_block_q8k_gemvmulti; also accumulated, and with V of another K type, as a Q4_K_M
     * file's layers have it: the outputs that share a type fused, the other alone), and gate·up·SwiGLU
     * (matmul_block_q8k_gemvswiglu) as silu(g)·u of the GEMV's g and u.
     */
    @ParameterizedTest
    @EnumSource(names = {"Q4_K", "Q5_K", "Q6_K"})
    void fusedInt8ProductsEqualTheOneProductGemv(GgmlType type) {
        org.junit.jupiter.api.Assumptions.assumeTrue(q8kBuilds, "skipped: the int8-activation kernels do not build on this device");
        var r = new Random(400 + type.id);
        int in = 512;
        int[] rows = {70, 33, 33};
        GgmlType other = type == GgmlType.Q6_K ? GgmlType.Q4_K : GgmlType.Q6_K;
        for (GgmlType vType : new GgmlType[] {type, other}) {
            GgmlType[] types = {type, type, vType};
            Tensor[] w = new Tensor[3];
            for (int j = 0; j < 3; j++) w[j] = gemv.upload("w" + j, types[j], rows[j], in, weights(r, types[j], rows[j], in));
            float[] x = random(r, in, 1f);
            Tensor xt = input(gemv, x, 1, in);
            float[][] alone = new float[3][];
            for (int j = 0; j < 3; j++) {
                Tensor wj = w[j];
                alone[j] = guarded(gemv, 1, rows[j], null, out -> gemv.matmul(out, xt, wj));
            }
            Tensor[] o = new Tensor[3];
            for (int j = 0; j < 3; j++) o[j] = gemv.allocate("o" + j, 1, rows[j]);
            gemv.linear(xt, new dev.infercl.backend.Linear(o[0], w[0]), new dev.infercl.backend.Linear(o[1], w[1]),
                    new dev.infercl.backend.Linear(o[2], w[2]));
            for (int j = 0; j < 3; j++) {
                float[] got = new float[rows[j]];
                gemv.read(o[j], got);
                org.junit.jupiter.api.Assertions.assertArrayEquals(alone[j], got, types[j] + " output " + j + " of Q, K, V (V " + vType + ")");
            }
            float[] start = random(r, rows[0], 1f);
            gemv.write(o[0], start);
            gemv.write(o[1], java.util.Arrays.copyOf(start, rows[1]));
            gemv.linear(xt, new dev.infercl.backend.Linear(o[0], w[0], null, true), new dev.infercl.backend.Linear(o[1], w[1], null, true));
            for (int j = 0; j < 2; j++) {
                float[] got = new float[rows[j]];
                gemv.read(o[j], got);
                for (int i = 0; i < rows[j]; i++) assertTrue(got[i] == start[i] + alone[j][i], "accumulated output " + j + ", row " + i);
            }
            Tensor up = gemv.upload("up", type, rows[0], in, weights(r, type, rows[0], in));
            float[] u = guarded(gemv, 1, rows[0], null, out -> gemv.matmul(out, xt, up));
            float[] got = guarded(gemv, 1, rows[0], null, out -> gemv.gatedLinear(out, xt, w[0], up, dev.infercl.backend.Elementwise.SILU_MUL));
            for (int i = 0; i < rows[0]; i++) {
                float g = alone[0][i], want = (float) (g / (1 + Math.exp(-g)) * u[i]);
                assertTrue(Math.abs(got[i] - want) <= 1e-5f * Math.max(1f, Math.abs(want)), "SwiGLU row " + i + ": " + got[i] + " against " + want);
            }
            for (Tensor t : o) gemv.free(t);
        }
        assertTrue(gemv.kernelsUsed().containsAll(List.of("matmul_block_q8k_gemvmulti", "matmul_block_q8k_gemvswiglu")), gemv.kernelsUsed().toString());
    }

    /** Whether a product of {@code type} on {@code b} takes int8 activations. */
    static boolean q8k(ClBackend b, GgmlType type) {
        return KernelChooser.Q8K_TYPES.contains(type) && q8kBuilds && (b == gemv || b == gemvQ8k32 || b == gemm || b == gemmQ8k32);
    }

    /** The backends a product of {@code type} is checked on: the int8-activation ones and the float ones forced only for the types they cover. */
    static List<ClBackend> backends(GgmlType type) {
        var list = new java.util.ArrayList<>(List.of(gemv, lanes, gemm, staged));
        if (KernelChooser.Q8K_TYPES.contains(type)) {
            list.addAll(List.of(gemvFloat, gemmFloat));
            if (q8kBuilds) list.addAll(List.of(gemvQ8k32, gemmQ8k32));
        }
        return list;
    }

    static String shape(ClBackend b) {
        return b == gemv ? "gemv" : b == gemvFloat ? "gemv (float)" : b == gemvQ8k32 ? "gemv (q8k, 32-byte vectors)"
                : b == lanes ? "gemv (lanes)" : b == gemm ? "gemm" : b == gemmFloat ? "gemm (float)"
                : b == gemmQ8k32 ? "gemm (q8k, 32-byte vectors)" : "gemm (STAGE_X)";
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
    void embeddingsAndReadBackEqualTheReference(GgmlType type) {
        var r = new Random(200 + type.id);
        for (int width : widths(type)) {
            int vocab = 37;
            MemorySegment seg = weights(r, type, vocab, width);
            Tensor table = gemv.upload("table", type, vocab, width, seg);
            for (int[] tokens : new int[][] {{36}, {0, 5, 36, 5, 17, 1}}) {
                float[] want = new float[tokens.length * width];
                Reference.embed(want, seg, type, width, tokens);
                float[] got = guarded(gemv, tokens.length, width, null, out -> gemv.embed(out, table, tokens));
                nmse("embed_block_f32 " + type, got, want, want.length, 1e-7);
            }
            float[] all = new float[vocab * width], wantAll = new float[vocab * width];
            gemv.read(table, all);
            dev.infercl.tensor.Dequant.row(type, seg, 0, wantAll, 0, wantAll.length);
            nmse("embed_block_f32 " + type + " (read back)", all, wantAll, all.length, 1e-7);
        }
    }
}
