package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.Elementwise;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Tensor;
import dev.infercl.backend.cpu.Reference;
import dev.infercl.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Q8_0 products with Q8_0 activations where AMX is usable ({@link KernelChooser#q8Activations}): a token's result is
 * the same bits whether it is multiplied alone (matmul_q8_0_q8_0_gemv and the fused gemvmulti / gemvswiglu), with a
 * few others (AMX from {@link KernelChooser#AMX_Q8_0_TOKENS}), or in a prompt-sized product; and every one agrees with
 * {@link Reference} on the activations rounded as quantize_f32_q8_0 rounds them (NMSE ≤ 1e-10: float summation
 * order). Widths with whole and partial superblocks, an odd block count (the last superblock's last block read alone),
 * rows around the AMX strip of 16. Skipped where AMX is not usable (the one-token kernel alone is not chosen there).
 */
class ClQ8ActivationsTest {

    static ClBackend open() {
        return ClAmxTest.openWithAmx(ClOptions.defaults());
    }

    @Test
    void aTokenGetsTheSameBitsAloneAndInProductsOfAnySize() {
        var r = new Random(61);
        try (ClBackend b = open()) {
            for (int in : new int[] {32, 96, 512, 544, 800, 2048}) {
                for (int rows : new int[] {1, 17, 37}) {
                    MemorySegment w = ClAmxTest.segment(dev.infercl.tensor.Dequant.quantizeQ8_0(ClAmxTest.random(r, rows * in, 0.5f), 0, rows * in));
                    Tensor wt = b.upload("w", GgmlType.Q8_0, rows, in, w);
                    int n = 40;
                    float[] x = ClAmxTest.random(r, n * in, 1f);
                    for (int i = 0; i < x.length; i += 41) x[i] *= 20;
                    x[3] = 0; // a block of zeros but one, and (in = 32) a block of all zeros below
                    if (in == 32) Arrays.fill(x, 5 * in, 6 * in, 0f);
                    float[] all = product(b, wt, x, 0, n, in, rows);
                    float[] want = new float[n * rows];
                    Reference.matmul(want, Reference.roundQ8_0(x), n, in, w, GgmlType.Q8_0, rows);
                    ClAmxTest.nmse(in + "→" + rows + " × " + n, all, want, 1e-10);
                    for (int count : new int[] {1, 2, 5, 16, 17}) {
                        for (int first = 0; first + count <= n; first += count == 1 ? 7 : count + 3) {
                            float[] some = product(b, wt, x, first, count, in, rows);
                            assertArrayEquals(Arrays.copyOfRange(all, first * rows, (first + count) * rows), some,
                                    in + "→" + rows + ": tokens " + first + " … " + (first + count - 1) + " alone and among " + n);
                        }
                    }
                }
            }
            assertTrue(b.kernelsUsed().containsAll(Set.of("quantize_f32_q8_0", "matmul_q8_0_q8_0_gemv", "quantize_f32_q8_0tiles",
                    "matmul_q8_0_q8_0_amx")), b.kernelsUsed().toString());
        }
    }

    /** The fused one-token kernels: Q, K, V of one input in one launch (also accumulated), and gate·up·SwiGLU. */
    @Test
    void theFusedOneTokenKernelsComputeTheSame() {
        var r = new Random(62);
        int in = 800, rows = 70, n = 3;
        try (ClBackend b = open()) {
            MemorySegment[] w = new MemorySegment[3];
            Tensor[] wt = new Tensor[3];
            for (int j = 0; j < 3; j++) {
                w[j] = ClAmxTest.segment(dev.infercl.tensor.Dequant.quantizeQ8_0(ClAmxTest.random(r, rows * in, 0.5f), 0, rows * in));
                wt[j] = b.upload("w" + j, GgmlType.Q8_0, rows, in, w[j]);
            }
            float[] x = ClAmxTest.random(r, n * in, 1f);
            float[][] many = new float[3][];
            for (int j = 0; j < 3; j++) many[j] = product(b, wt[j], x, 0, n, in, rows);
            for (int t = 0; t < n; t++) {
                Tensor xt = b.allocate("x", 1, in);
                b.write(xt, Arrays.copyOfRange(x, t * in, (t + 1) * in));
                Tensor[] o = new Tensor[3];
                float[] start = ClAmxTest.random(r, rows, 1f);
                for (int j = 0; j < 3; j++) o[j] = b.allocate("o" + j, 1, rows);
                b.linear(xt, new Linear(o[0], wt[0]), new Linear(o[1], wt[1]), new Linear(o[2], wt[2]));
                for (int j = 0; j < 3; j++) {
                    float[] got = new float[rows];
                    b.read(o[j], got);
                    assertArrayEquals(Arrays.copyOfRange(many[j], t * rows, (t + 1) * rows), got, "output " + j + ", token " + t);
                }
                b.write(o[0], start); // accumulated: out += x·wᵀ, the sum as one addition of the same product
                b.write(o[1], start);
                b.linear(xt, new Linear(o[0], wt[0], null, true), new Linear(o[1], wt[1], null, true));
                for (int j = 0; j < 2; j++) {
                    float[] got = new float[rows];
                    b.read(o[j], got);
                    for (int i = 0; i < rows; i++) assertTrue(got[i] == start[i] + many[j][t * rows + i], "accumulated output " + j + ", row " + i);
                }
                b.gatedLinear(o[2], xt, wt[0], wt[1], Elementwise.SILU_MUL);
                float[] got = new float[rows];
                b.read(o[2], got);
                for (int i = 0; i < rows; i++) {
                    float g = many[0][t * rows + i], u = many[1][t * rows + i];
                    float want = (float) (g / (1 + Math.exp(-g)) * u);
                    assertTrue(Math.abs(got[i] - want) <= 1e-5f * Math.max(1f, Math.abs(want)), "SwiGLU row " + i + ": " + got[i] + " against " + want);
                }
                for (Tensor t2 : o) b.free(t2);
                b.free(xt);
            }
            assertTrue(b.kernelsUsed().containsAll(Set.of("matmul_q8_0_q8_0_gemvmulti", "matmul_q8_0_q8_0_gemvswiglu")), b.kernelsUsed().toString());
        }
    }

    /** Tokens first … first + count − 1 of x times wᵀ in one product. */
    private static float[] product(ClBackend b, Tensor wt, float[] x, int first, int count, int in, int rows) {
        Tensor xt = b.allocate("x", count, in), out = b.allocate("out", count, rows);
        b.write(xt, Arrays.copyOfRange(x, first * in, (first + count) * in));
        b.matmul(out, xt, wt);
        float[] got = new float[count * rows];
        b.read(out, got);
        b.free(xt);
        b.free(out);
        return got;
    }
}
