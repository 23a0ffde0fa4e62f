package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.Elementwise;
import dev.infercl.backend.Int8TestData;
import dev.infercl.backend.Int8TestData.Case;
import dev.infercl.backend.Int8Weight;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The INT8 OpenCL kernels against {@link dev.infercl.backend.cpu.Reference}: {@code matmul_i8_f32_gemv},
 * {@code matmul_i8_f32_gemm} (W8A16 per channel and groups of 32/64/128), {@code quantize_f32_i8} +
 * {@code matmul_i8_i8_gemv} / {@code matmul_i8_i8_gemm} (W8A8 with and without smoothing), over in-widths 7, 32,
 * 64, 172, 384, 4128, out-rows 1, 7, 33, tokens 1, 3, 17 with an all-zero activation row; guard rows untouched,
 * no NaN/Inf, NMSE ≤ 5e-4. Also weights split into row ranges and reading an I8 weight back, and the fused
 * one-token kernels ({@code matmul_i8_{f32,i8}_gemvmulti}: Q·K·V in one launch, residual accumulate;
 * {@code _gemvswiglu}: gate·up·SwiGLU) for every scheme, odd widths and heights; and the GEMMs' register tiles:
 * partial tiles of rows and tokens, partial last blocks, odd group sizes, on both x paths (direct and STAGE_X).
 */
class ClInt8ParityTest {
    static final List<String> KERNELS = List.of("matmul_i8_f32_gemv", "matmul_i8_f32_gemm", "quantize_f32_i8",
            "matmul_i8_i8_gemv", "matmul_i8_i8_gemm");
    static final List<String> FUSED = List.of("matmul_i8_f32_gemvmulti", "matmul_i8_f32_gemvswiglu",
            "matmul_i8_i8_gemvmulti", "matmul_i8_i8_gemvswiglu");

    static ClBackend gemv, gemm;
    static ClBackend lanes;   // GEMV with GEMV_LANES (the GPU path), forced on this device
    static Arena arena;
    static final Map<String, Double> worst = new TreeMap<>();

    @BeforeAll
    static void open() {
        gemv = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMV));
        lanes = ClTestSupport.openWithLanes(ClParityTest.LANES, ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMV));
        gemm = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM));
        arena = Arena.ofShared();
    }

    @AfterAll
    static void close() {
        if (gemv != null) gemv.close();
        if (gemm != null) gemm.close();
        if (lanes != null) lanes.close();
        if (arena != null) arena.close();
        worst.forEach((k, v) -> System.out.printf("worst NMSE %-34s %.3e%n", k, v));
    }

    static String kernelName(Case c, ClBackend b) {
        String v = b == gemm ? "gemm" : "gemv";
        String lanesSuffix = b == lanes ? " (lanes)" : "";
        return (c.w8a8() ? "quantize_f32_i8+matmul_i8_i8_" + v + (c.smooth() ? " smooth" : "") : "matmul_i8_f32_" + v + " g" + c.groupSize()) + lanesSuffix;
    }

    @Test
    void everyInt8KernelAgainstTheReference() {
        var r = new Random(51);
        int wide = ClTestSupport.small() ? 160 : 4128;
        for (Case c : Int8TestData.cases(wide)) {
            Int8Weight w = Int8TestData.weight(r, c, arena);
            float[] x = Int8TestData.activations(r, c.n(), c.in(), true);
            float[] want = Int8TestData.reference(w, x, c.n());
            for (ClBackend b : List.of(gemv, gemm, lanes)) {
                Tensor wt = b.upload(w);
                assertEquals(GgmlType.I8, wt.type());
                Tensor xt = ClParityTest.input(b, x, c.n(), c.in());
                float[] got = ClParityTest.guarded(b, c.n(), c.out(), null, out -> b.matmul(out, xt, wt));
                Int8TestData.nmse(kernelName(c, b), worst, got, want, 5e-4);
                if (c.w8a8() && c.n() > 1) {
                    for (int o = 0; o < c.out(); o++) assertEquals(0f, got[c.out() + o], "zero activation row: " + c);
                }
            }
        }
        var used = new TreeSet<String>();
        used.addAll(gemv.kernelsUsed());
        used.addAll(gemm.kernelsUsed());
        assertTrue(used.containsAll(KERNELS), "every INT8 kernel ran: " + used);
    }

    @Test
    void int8WeightsLargerThanMaxAllocAreSplitAndReadBack() {
        var r = new Random(52);
        try (ClBackend small = ClTestSupport.open(ClOptions.defaults().withMaxAlloc(65536))) {
            for (Case c : List.of(new Case(2048, 67, 64, false, false, 3), new Case(2048, 67, 0, true, true, 3))) {
                Int8Weight w = Int8TestData.weight(r, c, arena);
                ClTensor wt = (ClTensor) small.upload(w);
                assertTrue(wt.parts.length > 1, "split into " + wt.parts.length + " parts");
                float[] x = Int8TestData.activations(r, 3, c.in(), false);
                float[] want = Int8TestData.reference(w, x, 3);
                Tensor xt = ClParityTest.input(small, x, 3, c.in());
                for (int n : new int[] {1, 3}) {
                    float[] got = ClParityTest.guarded(small, n, c.out(), null, out -> small.matmul(out, xt.firstRows(n), wt));
                    Int8TestData.nmse(kernelName(c, gemm) + " (split weight)", worst, got, Arrays.copyOf(want, n * c.out()), 5e-4);
                }
                float[] deq = new float[c.in() * c.out()], back = new float[deq.length];
                w.dequantize(deq);
                small.read(wt, back);
                assertTrue(Arrays.equals(deq, back), "I8 weight read back");
            }
        }
    }

    /**
     * The INT8 GEMMs give each work-item a register tile of weight rows × tokens and each group 32 items: heights and
     * token counts around the tile and group sizes (partial tiles both ways, two groups), widths with a partial last
     * block of 32 columns (33, 100) and a group size that is not a multiple of 32 (48 of 96: every column takes the
     * scalar tail), on the direct-x path of CPU devices and on the staged path GPUs take
     * ({@code -Dinfercl.opencl.stageX=true} forces it). W8A16 per channel and groups of 32; W8A8 with and without
     * smoothing.
     */
    @Test
    void gemmTilesAndTailsBothXPaths() {
        System.setProperty("infercl.opencl.stageX", "true");
        ClBackend staged;
        try {
            staged = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM));
        } finally {
            System.clearProperty("infercl.opencl.stageX");
        }
        try {
            var r = new Random(54);
            int[][] schemes = {{0, 0, 0}, {32, 0, 0}, {48, 0, 0}, {0, 1, 0}, {0, 1, 1}}; // group size, w8a8, smooth
            boolean small = ClTestSupport.small(); // under oclgrind: fewer shapes, every path still taken
            for (int in : small ? new int[] {33, 96} : new int[] {33, 96, 100}) {
                for (int[] sc : schemes) {
                    if (sc[0] > 0 && in % sc[0] != 0) continue;
                    for (int outRows : small ? new int[] {4, 100} : new int[] {2, 3, 4, 97, 100}) {
                        for (int n : small ? new int[] {2, 9} : new int[] {2, 8, 9, 23}) {
                            Case c = new Case(in, outRows, sc[0], sc[1] == 1, sc[2] == 1, n);
                            Int8Weight w = Int8TestData.weight(r, c, arena);
                            float[] x = Int8TestData.activations(r, n, in, true);
                            float[] want = Int8TestData.reference(w, x, n);
                            for (ClBackend b : List.of(gemm, staged)) {
                                Tensor wt = b.upload(w);
                                Tensor xt = ClParityTest.input(b, x, n, in);
                                float[] got = ClParityTest.guarded(b, n, outRows, null, out -> b.matmul(out, xt, wt));
                                Int8TestData.nmse(kernelName(c, b) + (b == staged ? " (STAGE_X)" : " (tiles)"), worst, got, want, 5e-4);
                            }
                        }
                    }
                }
            }
        } finally {
            staged.close();
        }
    }

    /**
     * The fused one-token paths against Reference: three weights of different heights sharing one input (Q·K·V), one
     * weight accumulated into its output (wo / ffn_down + residual), and gate·up·SwiGLU; W8A16 per channel and groups
     * of 32/64/128, W8A8 with and without smoothing. Weights with different smoothing vectors cannot share one
     * quantized input: they take the general kernels, which must agree too.
     */
    @Test
    void fusedInt8KernelsAgainstTheReference() {
        for (ClBackend b : List.of(gemv, lanes)) fusedInt8Kernels(b);
    }

    private static void fusedInt8Kernels(ClBackend b) {
        var r = new Random(53);
        int wide = ClTestSupport.small() ? 160 : 4128;
        int[][] schemes = {{0, 0, 0}, {32, 0, 0}, {64, 0, 0}, {128, 0, 0}, {0, 1, 0}, {0, 1, 1}}; // group size, w8a8, smooth
        int[] heights = {1, 7, 33, 96};
        for (int in : new int[] {7, 32, 64, 172, 384, wide}) {
            for (int[] sc : schemes) {
                if (sc[0] > 0 && in % sc[0] != 0) continue;
                float[] x = Int8TestData.activations(r, 1, in, false);
                Tensor xt = ClParityTest.input(b, x, 1, in);
                for (int k = 0; k + 2 < heights.length; k++) {
                    Case[] cs = new Case[3];
                    Int8Weight[] w = new Int8Weight[3];
                    Tensor[] wt = new Tensor[3];
                    float[][] want = new float[3][], base = new float[3][];
                    for (int j = 0; j < 3; j++) {
                        cs[j] = new Case(in, heights[k + j], sc[0], sc[1] == 1, sc[2] == 1, 1);
                        w[j] = Int8TestData.weight(r, cs[j], arena);
                        wt[j] = b.upload(w[j]);
                        want[j] = Int8TestData.reference(w[j], x, 1);
                        base[j] = Int8TestData.activations(r, 1, cs[j].out(), false);
                    }
                    String name = fusedName(cs[0], "gemvmulti") + (b == lanes ? " (lanes)" : "");
                    for (boolean acc : new boolean[] {false, true}) {
                        float[][] got = multi(b, xt, wt, acc ? base : null);
                        for (int j = 0; j < 3; j++) {
                            float[] exp = want[j].clone();
                            if (acc) for (int i = 0; i < exp.length; i++) exp[i] += base[j][i];
                            Int8TestData.nmse(name + (cs[0].smooth() ? " (3 smoothing vectors: general)" : ""), worst, got[j], exp, 5e-4);
                        }
                        // one weight, accumulated: the residual add fused into wo / ffn_down (smoothing included)
                        float[] one = ClParityTest.guarded(b, 1, cs[2].out(), acc ? base[2] : null,
                                out -> b.linear(xt, new Linear(out, wt[2], null, acc)));
                        float[] exp = want[2].clone();
                        if (acc) for (int i = 0; i < exp.length; i++) exp[i] += base[2][i];
                        Int8TestData.nmse(name, worst, one, exp, 5e-4);
                    }
                    // gate · up · SwiGLU: the first two weights' shapes, both as tall as the second
                    Case gc = new Case(in, heights[k + 1], sc[0], sc[1] == 1, false, 1);
                    Int8Weight gw = Int8TestData.weight(r, gc, arena), uw = Int8TestData.weight(r, gc, arena);
                    float[] g = Int8TestData.reference(gw, x, 1), u = Int8TestData.reference(uw, x, 1), exp = new float[gc.out()];
                    dev.infercl.backend.cpu.Reference.map(exp, Elementwise.SILU_MUL, g, u, 1, gc.out());
                    Tensor gt = b.upload(gw), ut = b.upload(uw);
                    float[] got = ClParityTest.guarded(b, 1, gc.out(), null, out -> b.gatedLinear(out, xt, gt, ut, Elementwise.SILU_MUL));
                    Int8TestData.nmse(fusedName(gc, "gemvswiglu") + (b == lanes ? " (lanes)" : ""), worst, got, exp, 5e-4);
                }
            }
        }
        assertTrue(b.kernelsUsed().containsAll(FUSED), "every fused INT8 kernel ran: " + b.kernelsUsed());
    }

    static String fusedName(Case c, String variant) {
        return (c.w8a8() ? "matmul_i8_i8_" + variant + (c.smooth() ? " smooth" : "") : "matmul_i8_f32_" + variant + " g" + c.groupSize());
    }

    /** linear over three weights into guarded outputs (initialised to base when accumulating); returns the outputs. */
    static float[][] multi(ClBackend b, Tensor xt, Tensor[] wt, float[][] base) {
        int m = wt.length;
        Tensor[] full = new Tensor[m];
        Linear[] outs = new Linear[m];
        for (int j = 0; j < m; j++) {
            int h = wt[j].rows();
            full[j] = b.allocate("out" + j, 1 + ClParityTest.GUARD, h);
            float[] init = new float[(1 + ClParityTest.GUARD) * h];
            Arrays.fill(init, ClParityTest.SENTINEL);
            if (base != null) System.arraycopy(base[j], 0, init, 0, h);
            b.write(full[j], init);
            outs[j] = new Linear(full[j].firstRows(1), wt[j], null, base != null);
        }
        b.linear(xt, outs);
        float[][] got = new float[m][];
        for (int j = 0; j < m; j++) {
            int h = wt[j].rows();
            float[] all = new float[(1 + ClParityTest.GUARD) * h];
            b.read(full[j], all);
            for (int i = h; i < all.length; i++) assertEquals(ClParityTest.SENTINEL, all[i], "guard " + i + " of output " + j);
            got[j] = Arrays.copyOf(all, h);
        }
        return got;
    }
}
