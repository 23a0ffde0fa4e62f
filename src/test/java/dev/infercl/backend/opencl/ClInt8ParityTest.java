package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.Int8TestData;
import dev.infercl.backend.Int8TestData.Case;
import dev.infercl.backend.Int8Weight;
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
 * no NaN/Inf, NMSE ≤ 5e-4. Also weights split into row ranges and reading an I8 weight back.
 */
class ClInt8ParityTest {
    static final List<String> KERNELS = List.of("matmul_i8_f32_gemv", "matmul_i8_f32_gemm", "quantize_f32_i8",
            "matmul_i8_i8_gemv", "matmul_i8_i8_gemm");

    static ClBackend gemv, gemm;
    static Arena arena;
    static final Map<String, Double> worst = new TreeMap<>();

    @BeforeAll
    static void open() {
        gemv = ClTestSupport.open(ClBackend.Options.defaults().withMatmul(ClBackend.MatmulKernel.GEMV));
        gemm = ClTestSupport.open(ClBackend.Options.defaults().withMatmul(ClBackend.MatmulKernel.GEMM));
        arena = Arena.ofShared();
    }

    @AfterAll
    static void close() {
        if (gemv != null) gemv.close();
        if (gemm != null) gemm.close();
        if (arena != null) arena.close();
        worst.forEach((k, v) -> System.out.printf("worst NMSE %-34s %.3e%n", k, v));
    }

    static String kernelName(Case c, ClBackend b) {
        String v = b == gemv ? "gemv" : "gemm";
        return c.w8a8() ? "quantize_f32_i8+matmul_i8_i8_" + v + (c.smooth() ? " smooth" : "") : "matmul_i8_f32_" + v + " g" + c.groupSize();
    }

    @Test
    void everyInt8KernelAgainstTheReference() {
        var r = new Random(51);
        int wide = ClTestSupport.small() ? 160 : 4128;
        for (Case c : Int8TestData.cases(wide)) {
            Int8Weight w = Int8TestData.weight(r, c, arena);
            float[] x = Int8TestData.activations(r, c.n(), c.in(), true);
            float[] want = Int8TestData.reference(w, x, c.n());
            for (ClBackend b : List.of(gemv, gemm)) {
                Tensor wt = b.uploadInt8(w);
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
        try (ClBackend small = ClTestSupport.open(ClBackend.Options.defaults().withMaxAlloc(65536))) {
            for (Case c : List.of(new Case(2048, 67, 64, false, false, 3), new Case(2048, 67, 0, true, true, 3))) {
                Int8Weight w = Int8TestData.weight(r, c, arena);
                ClTensor wt = (ClTensor) small.uploadInt8(w);
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
}
