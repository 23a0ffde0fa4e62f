package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.Linear;
import dev.infercl.backend.Tensor;
import dev.infercl.backend.cpu.Reference;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * matmul_q8_0_q8_0_amx (Q8_0 weights times Q8_0 activations on the AMX tile unit, products of at least
 * {@link KernelChooser#AMX_MIN_TOKENS} tokens) against {@link Reference}: with the
 * activations rounded as quantize_f32_q8_0tiles rounds them ({@link Reference#roundQ8_0}) the products agree to float
 * summation order (NMSE ≤ 1e-10); against the unrounded activations they differ by the activations' rounding (a step
 * of a block's largest magnitude / 127; NMSE ≤ 2e-3 with outliers in the blocks). Shapes around the kernel's strip of 16 rows, its groups of 16 tokens and its 4 groups per
 * work-item, row widths with a partial superblock of scales, a weight split into parts, and several outputs of one
 * input quantized once. Q4_0 weights (unpacked to int8 with F32 scales, then matmul_i8_q8_0_amx) and Q4_K, Q5_K
 * and Q6_K weights (matmul_block_q8_0_amx, unpacking as it goes) the same way against the file's exact weights, random valid blocks for the K types.
 * Skipped where the CPU has no AMX (the kernel cannot run there).
 */
class ClAmxTest {
    static final Set<String> Q8_0 = Set.of("matmul_q8_0_q8_0_amx", "quantize_f32_q8_0tiles");
    /** Every kernel file that runs only where AMX is usable (with it, Q8_0's one-token products in its arithmetic). */
    static final Set<String> KERNELS = Set.of("matmul_q8_0_q8_0_amx", "quantize_f32_q8_0tiles", "matmul_i8_q8_0_amx",
            "matmul_block_q8_0_amx", "unpack_q4_0_i8", "computeprobe_i8_i8_amx", "quantize_f32_q8_0", "matmul_q8_0_q8_0_gemv",
            "matmul_q8_0_q8_0_gemvmulti", "matmul_q8_0_q8_0_gemvswiglu");

    static ClBackend open(ClOptions options) {
        return openWithAmx(options.withMatmul(KernelChooser.Matmul.GEMM));
    }

    /** A backend with AMX required; the test is skipped where AMX or a CPU device is missing. */
    static ClBackend openWithAmx(ClOptions options) {
        Assumptions.assumeTrue(Amx.usable(), () -> "skipped: AMX is not usable here: " + Amx.reason());
        try {
            return ClTestSupport.open(options.withAmx(true));
        } catch (IllegalArgumentException e) { // AMX is there, but the OpenCL device is not the CPU
            Assumptions.abort("skipped: " + e.getMessage());
            throw e;
        }
    }

    @Test
    void productsMatchTheReferenceOnRoundedActivations() {
        var r = new Random(31);
        try (ClBackend b = open(ClOptions.defaults())) {
            for (int in : new int[] {32, 96, 544}) {
                for (int rows : new int[] {1, 15, 16, 17, 37}) {
                    MemorySegment w = segment(Dequant.quantizeQ8_0(random(r, rows * in, 0.5f), 0, rows * in));
                    Tensor wt = b.upload("w", GgmlType.Q8_0, rows, in, w);
                    for (int n : new int[] {KernelChooser.AMX_MIN_TOKENS, 33, 47, 64, 65, 70}) { // whole and partial groups of 16, 4 groups per item
                        float[] x = random(r, n * in, 1f);
                        for (int i = 0; i < x.length; i += 41) x[i] *= 20; // outliers set their blocks' scales
                        check(b, wt, w, x, n, in, rows, in + "→" + rows + " × " + n + " tokens");
                    }
                }
            }
            assertTrue(b.kernelsUsed().containsAll(Q8_0), b.kernelsUsed().toString());
        }
    }

    @Test
    void aWeightSplitIntoPartsAndSeveralOutputsOfOneInput() {
        var r = new Random(32);
        int in = 2048, rows = 300, n = KernelChooser.AMX_MIN_TOKENS;
        // parts of at most 130 rows (and room for x): each launch writes its rows at its own offset in the output
        try (ClBackend b = open(ClOptions.defaults().withMaxAlloc(130L * (in + 32 * ((in / 32 + 15) / 16))))) {
            MemorySegment w1 = segment(Dequant.quantizeQ8_0(random(r, rows * in, 0.5f), 0, rows * in));
            MemorySegment w2 = segment(Dequant.quantizeQ8_0(random(r, 48 * in, 0.5f), 0, 48 * in));
            Tensor t1 = b.upload("w1", GgmlType.Q8_0, rows, in, w1), t2 = b.upload("w2", GgmlType.Q8_0, 48, in, w2);
            Tensor xt = b.allocate("x", n, in), o1 = b.allocate("o1", n, rows), o2 = b.allocate("o2", n, 48);
            for (int round = 0; round < 2; round++) { // the second round's new x must be quantized again
                float[] x = random(r, n * in, 1f);
                b.write(xt, x);
                b.linear(xt, new Linear(o1, t1), new Linear(o2, t2));
                float[] got1 = new float[n * rows], got2 = new float[n * 48];
                b.read(o1, got1);
                b.read(o2, got2);
                float[] xr = Reference.roundQ8_0(x), want1 = new float[n * rows], want2 = new float[n * 48];
                Reference.matmul(want1, xr, n, in, w1, GgmlType.Q8_0, rows);
                Reference.matmul(want2, xr, n, in, w2, GgmlType.Q8_0, 48);
                nmse("split weight, round " + round, got1, want1, 1e-10);
                nmse("second output, round " + round, got2, want2, 1e-10);
            }
            assertTrue(b.kernelsUsed().containsAll(Q8_0), b.kernelsUsed().toString());
        }
    }

    /** The AMX probe (what bench's prefill roofline takes for Q8_0 here) measures far more than float FMA's rate. */
    @Test
    void theComputeProbeMeasuresTheTileUnit() {
        try (ClBackend b = open(ClOptions.defaults())) {
            double amx = b.probeMultiplyAddRate(GgmlType.Q8_0), fma = b.probeMultiplyAddRate(GgmlType.F32);
            assertTrue(b.kernelsUsed().containsAll(List.of("computeprobe_i8_i8_amx", "computeprobe_f32_f32")), b.kernelsUsed().toString());
            // a tile product is 16384 multiply-adds; AVX-512 FMA does 16 per instruction
            assertTrue(amx > 4 * fma, "AMX " + amx / 1e9 + " G/s against FMA " + fma / 1e9 + " G/s");
            System.out.printf("compute probes: AMX int8 %.1f G multiply-adds/s, F32 FMA %.1f G/s%n", amx / 1e9, fma / 1e9);
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(names = {"Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    void unpackedTypesMatchTheReferenceOnRoundedActivations(GgmlType type) {
        var r = new Random(40 + type.id);
        int[] widths = type == GgmlType.Q4_0 ? new int[] {32, 96, 256, 512} : new int[] {256, 512};
        try (ClBackend b = open(ClOptions.defaults())) {
            for (int in : widths) {
                for (int rows : new int[] {1, 15, 16, 17, 37}) {
                    MemorySegment w = weights(r, type, rows, in);
                    Tensor wt = b.upload("w", type, rows, in, w);
                    int least = KernelChooser.AMX_MIN_TOKENS;
                    for (int n : new int[] {least, least + 1, 70, 97, 260}) { // 260: the K types' 16 groups per item and more
                        float[] x = random(r, n * in, 1f);
                        for (int i = 0; i < x.length; i += 41) x[i] *= 20;
                        Tensor xt = b.allocate("x", n, in), out = b.allocate("out", n, rows);
                        b.write(xt, x);
                        b.matmul(out, xt, wt);
                        float[] got = new float[n * rows], want = new float[n * rows];
                        b.read(out, got);
                        b.free(xt);
                        b.free(out);
                        Reference.matmul(want, Reference.roundQ8_0(x), n, in, w, type, rows);
                        nmse(type + " " + in + "→" + rows + " × " + n + " tokens", got, want, 1e-10);
                    }
                }
            }
            Set<String> kernels = type == GgmlType.Q4_0 ? Set.of("quantize_f32_q8_0tiles", "unpack_q4_0_i8", "matmul_i8_q8_0_amx")
                    : Set.of("quantize_f32_q8_0tiles", "matmul_block_q8_0_amx");
            assertTrue(b.kernelsUsed().containsAll(kernels), b.kernelsUsed().toString());
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(names = {"Q4_0", "Q4_K", "Q6_K"})
    void anUnpackedWeightSplitIntoPartsAndFewTokensElsewhere(GgmlType type) {
        var r = new Random(50 + type.id);
        int in = 1024, rows = 1000, n = 70;
        // parts of at most 390–568 rows (room for x); Q4_0 unpacked in chunks of 320 rows (the int8 copy kept within maxAlloc)
        try (ClBackend b = open(ClOptions.defaults().withMaxAlloc(320L * in))) {
            MemorySegment w = weights(r, type, rows, in);
            Tensor wt = b.upload("w", type, rows, in, w);
            for (int tokens : new int[] {n, KernelChooser.AMX_MIN_TOKENS - 1}) {
                float[] x = random(r, tokens * in, 1f);
                Tensor xt = b.allocate("x", tokens, in), out = b.allocate("out", tokens, rows);
                b.write(xt, x);
                b.matmul(out, xt, wt);
                float[] got = new float[tokens * rows], want = new float[tokens * rows];
                b.read(out, got);
                boolean amx = tokens >= KernelChooser.AMX_MIN_TOKENS;
                Reference.matmul(want, amx ? Reference.roundQ8_0(x) : x, tokens, in, w, type, rows);
                // fewer tokens take the other GEMMs (float, or the K types' own int8 rounding of x)
                nmse(type + " split weight, " + tokens + " tokens", got, want, amx ? 1e-10 : 2e-3);
                if (amx) assertTrue(b.kernelsUsed().contains(type == GgmlType.Q4_0 ? "matmul_i8_q8_0_amx" : "matmul_block_q8_0_amx"), b.kernelsUsed().toString());
                else assertTrue(b.kernelsUsed().stream().anyMatch(k -> k.endsWith("_gemm") && !k.contains("amx")), b.kernelsUsed().toString());
            }
        }
    }

    /** rows × cols weights of {@code type}: Q4_0 quantized from random values; K types random bytes with finite F16 fields. */
    static MemorySegment weights(Random r, GgmlType type, int rows, int cols) {
        if (type == GgmlType.Q4_0) return segment(Dequant.quantizeQ4_0(random(r, rows * cols, 0.5f), 0, rows * cols));
        int bytes = (int) (type.byteSize(cols) * rows);
        byte[] a = new byte[bytes];
        r.nextBytes(a);
        MemorySegment s = segment(a);
        for (long blk = 0; blk < bytes / type.typeSize; blk++) {
            for (int off : ClBlockTypesTest.HALVES.get(type)) {
                float v = r.nextInt(16) == 0 ? 0f : (float) (r.nextGaussian() * 0.02);
                s.set(ValueLayout.JAVA_SHORT_UNALIGNED, blk * type.typeSize + off, Float.floatToFloat16(v));
            }
        }
        return s;
    }

    private static void check(ClBackend b, Tensor wt, MemorySegment w, float[] x, int n, int in, int rows, String what) {
        Tensor xt = b.allocate("x", n, in), out = b.allocate("out", n, rows);
        b.write(xt, x);
        b.matmul(out, xt, wt);
        float[] got = new float[n * rows];
        b.read(out, got);
        b.free(xt);
        b.free(out);
        float[] rounded = new float[n * rows], exact = new float[n * rows];
        Reference.matmul(rounded, Reference.roundQ8_0(x), n, in, w, GgmlType.Q8_0, rows);
        Reference.matmul(exact, x, n, in, w, GgmlType.Q8_0, rows);
        nmse(what + " (rounded activations)", got, rounded, 1e-10);
        if (rows * n >= 512) nmse(what + " (float activations)", got, exact, 2e-3); // fewer sums are too few to average the rounding
    }

    static void nmse(String what, float[] got, float[] want, double limit) {
        double err = 0, ref = 0;
        for (int i = 0; i < want.length; i++) {
            assertTrue(Float.isFinite(got[i]), what + ": value " + i + " is " + got[i]);
            double d = got[i] - want[i];
            err += d * d;
            ref += (double) want[i] * want[i];
        }
        double e = ref == 0 ? err : err / ref;
        assertTrue(e <= limit, what + ": normalized MSE " + e + " > " + limit);
    }

    static float[] random(Random r, int n, float scale) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) r.nextGaussian() * scale;
        return f;
    }

    static MemorySegment segment(byte[] bytes) {
        MemorySegment s = Arena.ofAuto().allocate(bytes.length, 128);
        MemorySegment.copy(bytes, 0, s, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return s;
    }

}
