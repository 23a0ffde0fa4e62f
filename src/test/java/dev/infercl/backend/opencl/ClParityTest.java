package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.DeviceOutOfMemoryException;
import dev.infercl.backend.Elementwise;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.KvType;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Norm;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;
import dev.infercl.backend.cpu.Reference;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Every OpenCL kernel × weight type against {@link Reference}: seeded random inputs, widths 1, 7, 31, 32, 33 and
 * several thousand, one and several tokens, guard rows after every output that must keep their sentinel, no
 * NaN/Inf, normalized MSE ≤ 1e-7 element-wise and ≤ 5e-4 for matmul and attention. With
 * {@code -Dinfercl.test.small=true} (oclgrind) the widest shapes and longest contexts shrink.
 */
class ClParityTest {

    static final float SENTINEL = -12345.5f;
    static final int GUARD = 3;
    static final boolean SMALL = ClTestSupport.small();
    static final int WIDE = SMALL ? 160 : 4100;            // the "several thousand" width
    static final int WIDE_Q = SMALL ? 544 : 4128;          // the same for block types (a multiple of 32; 17 blocks at least, so the
                                                           // GEMVs' sixteen-block scale loads and their one-block tail both run)
    static final int[] WIDTHS = {1, 7, 31, 32, 33, WIDE};
    static final int[] WIDTHS_Q = {32, 64, WIDE_Q};
    static final GgmlType[] TYPES = {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0};

    static ClBackend gemv, gemm;                           // GEMV + fused attention; GEMM + split attention
    static ClBackend lanes;                                // the GPU shapes (GEMV_LANES, lanes attention), forced on this device
    static final int LANES = 8;                            // fewer than a GPU's 32: rows of 32–64 values still take several steps per lane,
                                                           // and contexts of 20–40 positions several attention tiles
    static Arena arena;
    static final Map<String, Double> worst = new TreeMap<>(); // kernel group → worst NMSE seen

    @BeforeAll
    static void open() {
        gemv = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMV).withAttention(KernelChooser.Attention.FUSED));
        // gemm keeps an F32 cache (the others take the FP16 default), so the attention tests cover both element types
        // (and the float GEMMs, which a CPU with AMX would leave for matmul_q8_0_q8_0_amx on Q8_0: ClAmxTest covers that)
        gemm = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM).withAttention(KernelChooser.Attention.SPLIT)
                .withKvType(KvType.F32).withAmx(false));
        lanes = ClTestSupport.openWithLanes(LANES, ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMV));
        assertEquals(KernelChooser.Attention.LANES, lanes.chooser().attention(1, 4, 100));
        // the name (bench's "backend") says what the measurement ran: the cache type, and the lanes when there are any
        // (on a GPU-type device, oclgrind's included, gemv and gemm run lanes kernels too)
        assertTrue(gemv.name().contains(", f16 KV cache"), gemv.name());
        assertTrue(gemm.name().contains(", f32 KV cache"), gemm.name());
        assertTrue(lanes.name().endsWith(", f16 KV cache, " + LANES + "-lane kernels"), lanes.name());
        arena = Arena.ofShared();
    }

    @AfterAll
    static void close() {
        if (gemv != null) gemv.close();
        if (gemm != null) gemm.close();
        if (lanes != null) lanes.close();
        if (arena != null) arena.close();
        // the worst normalized MSE per kernel group, for the record (surefire keeps stdout in its report)
        worst.forEach((k, v) -> System.out.printf("worst NMSE %-28s %.3e%n", k, v));
    }

    // ---------------------------------------------------------------- helpers

    static float[] random(Random r, int n, float scale) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) r.nextGaussian() * scale;
        return f;
    }

    /** The bytes of {@code values} (rows × cols) in {@code type}, as a GGUF file holds them. */
    static byte[] encode(GgmlType type, float[] values) {
        return switch (type) {
            case F32 -> {
                var b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : values) b.putFloat(v);
                yield b.array();
            }
            case F16, BF16 -> {
                var b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                for (float v : values) b.putShort(type == GgmlType.F16 ? Float.floatToFloat16(v) : Dequant.toBf16(v));
                yield b.array();
            }
            case Q8_0 -> Dequant.quantizeQ8_0(values, 0, values.length);
            case Q4_0 -> Dequant.quantizeQ4_0(values, 0, values.length);
            default -> throw new IllegalArgumentException(type.toString());
        };
    }

    /** Native memory holding {@code bytes}, 128-byte aligned or deliberately misaligned by 32 (the copy path). */
    static MemorySegment segment(byte[] bytes, boolean misaligned) {
        MemorySegment s = arena.allocate(bytes.length + 160L, 128).asSlice(misaligned ? 32 : 0, bytes.length);
        MemorySegment.copy(bytes, 0, s, ValueLayout.JAVA_BYTE, 0, bytes.length);
        return s;
    }

    static double nmse(String kernel, float[] got, float[] want, int count, double limit) {
        double err = 0, ref = 0;
        for (int i = 0; i < count; i++) {
            if (!Float.isFinite(got[i])) fail(kernel + ": value " + i + " is " + got[i]);
            double d = got[i] - want[i];
            err += d * d;
            ref += (double) want[i] * want[i];
        }
        double e = ref == 0 ? err : err / ref;
        worst.merge(kernel, e, Math::max);
        assertTrue(e <= limit, kernel + ": normalized MSE " + e + " > " + limit);
        return e;
    }

    /**
     * Runs {@code op} on the first {@code rows} rows of a tensor with GUARD extra rows, after writing
     * {@code initial} (may be null) and the sentinel everywhere else; checks the guard rows and returns the first rows.
     */
    static float[] guarded(ClBackend b, int rows, int cols, float[] initial, Consumer<Tensor> op) {
        Tensor t = b.allocate("out", rows + GUARD, cols);
        float[] all = new float[(rows + GUARD) * cols];
        Arrays.fill(all, SENTINEL);
        if (initial != null) System.arraycopy(initial, 0, all, 0, rows * cols);
        b.write(t, all);
        op.accept(t.firstRows(rows));
        b.read(t, all);
        for (int i = rows * cols; i < all.length; i++) {
            if (all[i] != SENTINEL) fail("guard value " + (i - rows * cols) + " after " + rows + "×" + cols + " output was overwritten: " + all[i]);
        }
        return Arrays.copyOf(all, rows * cols);
    }

    /** " (lanes)" for the backend with the GPU kernel shapes, so its worst NMSE is recorded apart. */
    static String lanesSuffix(ClBackend b) {
        return b == lanes ? " (lanes)" : "";
    }

    static Tensor input(ClBackend b, float[] values, int rows, int cols) {
        Tensor t = b.allocate("in", rows, cols);
        b.write(t, values);
        return t;
    }

    // ---------------------------------------------------------------- element-wise ops

    @Test
    void embedEveryTableType() {
        var r = new Random(1);
        for (GgmlType type : TYPES) {
            boolean quant = type == GgmlType.Q8_0 || type == GgmlType.Q4_0;
            for (int width : quant ? WIDTHS_Q : WIDTHS) {
                int vocab = 37;
                byte[] bytes = encode(type, random(r, vocab * width, 1f));
                MemorySegment seg = segment(bytes, width % 2 == 1);
                Tensor table = gemv.upload("table", type, vocab, width, seg);
                for (int[] tokens : new int[][] {{36}, {0, 5, 36, 5, 17, 1}}) {
                    float[] want = new float[tokens.length * width];
                    Reference.embed(want, seg, type, width, tokens);
                    float[] got = guarded(gemv, tokens.length, width, null, out -> gemv.embed(out, table, tokens));
                    nmse("embed_" + ElementwiseLauncher.typeName(type) + "_f32", got, want, want.length, 1e-7);
                }
            }
        }
        assertTrue(gemv.kernelsUsed().containsAll(List.of("embed_f32_f32", "embed_f16_f32", "embed_bf16_f32", "embed_q8_0_f32",
                "embed_q4_0_f32")), "each table type has its lookup kernel: " + gemv.kernelsUsed());
    }

    @Test
    void rmsNorm() {
        var r = new Random(2);
        for (int width : WIDTHS) {
            for (int n : new int[] {1, 5}) {
                for (GgmlType wType : new GgmlType[] {GgmlType.F32, GgmlType.F16}) {
                    float[] x = random(r, n * width, 2f), w = random(r, width, 1f);
                    byte[] wb = encode(wType, w);
                    MemorySegment ws = segment(wb, false);
                    Tensor weight = gemv.upload("norm", wType, 1, width, ws);
                    float[] wf = new float[width];
                    Dequant.row(wType, ws, 0, wf, 0, width);
                    float[] want = new float[n * width];
                    Reference.rmsNorm(want, x, wf, n, width, 1e-5f);
                    Tensor in = input(gemv, x, n, width);
                    float[] got = guarded(gemv, n, width, null, out -> gemv.norm(out, in, Norm.rms(weight, 1e-5f)));
                    nmse("rmsnorm_f32_f32", got, want, want.length, 1e-7);
                    // in place, as the classifier uses it
                    float[] inPlace = guarded(gemv, n, width, x, out -> gemv.norm(out, out, Norm.rms(weight, 1e-5f)));
                    nmse("rmsnorm_f32_f32", inPlace, want, want.length, 1e-7);
                }
            }
        }
    }

    @Test
    void swigluAndAdd() {
        var r = new Random(4);
        for (int width : WIDTHS) {
            for (int n : new int[] {1, 5}) {
                float[] g = random(r, n * width, 3f), u = random(r, n * width, 1f);
                float[] want = new float[n * width];
                Reference.map(want, Elementwise.SILU_MUL, g, u, n, width);
                Tensor gt = input(gemv, g, n, width), ut = input(gemv, u, n, width);
                float[] got = guarded(gemv, n, width, null, out -> gemv.map(out, Elementwise.SILU_MUL, gt, ut));
                nmse("elementwise_f32_f32 silu_mul", got, want, want.length, 1e-7);
                float[] aliased = guarded(gemv, n, width, g, out -> gemv.map(out, Elementwise.SILU_MUL, out, ut)); // out = gate, as the model does
                nmse("elementwise_f32_f32 silu_mul", aliased, want, want.length, 1e-7);

                float[] sum = new float[n * width];
                Reference.map(sum, Elementwise.ADD, g, u, n, width);
                float[] added = guarded(gemv, n, width, g, x -> gemv.map(x, Elementwise.ADD, x, ut));
                nmse("elementwise_f32_f32 add", added, sum, sum.length, 1e-7);
                float[] addedToB = guarded(gemv, n, width, u, x -> gemv.map(x, Elementwise.ADD, gt, x)); // out = b
                nmse("elementwise_f32_f32 add", addedToB, sum, sum.length, 1e-7);
            }
        }
    }

    @Test
    void copyRows() {
        var r = new Random(5);
        float[] src = random(r, 9 * 33, 1f);
        Tensor s = input(gemv, src, 9, 33);
        float[] got = guarded(gemv, 4, 33, null, d -> gemv.copy(d, s, 3, 0));
        assertTrue(Arrays.equals(got, Arrays.copyOfRange(src, 3 * 33, 7 * 33)), "rows 3..6 copied");
    }

    /** A one-row weight of {@code values} in {@code type} on {@code b}, and its values as the GGUF holds them. */
    static Tensor vector(ClBackend b, GgmlType type, float[] values, float[] dequantized) {
        MemorySegment seg = segment(encode(type, values), false);
        Dequant.row(type, seg, 0, dequantized, 0, values.length);
        return b.upload("vector", type, 1, values.length, seg);
    }

    @Test
    void rmsNormPerGroup() {
        var r = new Random(12);
        // (width, group): per-head norms as qwen3 uses them, incl. groups of 1 and a 4100 = 41 × 100 row
        int[][] shapes = {{7, 1}, {31, 31}, {32, 8}, {33, 11}, {4 * 128, 128}, {WIDE, SMALL ? 40 : 100}};
        for (int[] s : shapes) {
            int width = s[0], group = s[1];
            for (int n : new int[] {1, 3, 17}) {
                for (GgmlType wType : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16}) {
                    float[] x = random(r, n * width, 2f), wf = new float[group];
                    Tensor weight = vector(gemv, wType, random(r, group, 1f), wf);
                    float[] want = new float[n * width];
                    Reference.rmsNorm(want, x, wf, n, width, 1e-6f);
                    float[] inPlace = guarded(gemv, n, width, x, out -> gemv.norm(out, out, Norm.rms(weight, 1e-6f)));
                    nmse("rmsnorm_f32_f32 (per group)", inPlace, want, want.length, 1e-7);
                }
            }
        }
    }

    @Test
    void layerNorm() {
        var r = new Random(13);
        for (int width : WIDTHS) {
            for (int n : new int[] {1, 5, 17}) {
                for (GgmlType wType : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16}) {
                    float[] x = random(r, n * width, 2f), wf = new float[width], bf = new float[width];
                    for (int i = 0; i < x.length; i++) x[i] += 3f; // a common offset the mean must remove
                    Tensor weight = vector(gemv, wType, random(r, width, 1f), wf), bias = vector(gemv, wType, random(r, width, 0.5f), bf);
                    float[] want = new float[n * width];
                    Reference.layerNorm(want, x, wf, bf, n, width, 1e-5f);
                    Tensor in = input(gemv, x, n, width);
                    float[] got = guarded(gemv, n, width, null, out -> gemv.norm(out, in, Norm.layer(weight, bias, 1e-5f)));
                    nmse("layernorm_f32_f32", got, want, want.length, 1e-7);
                    float[] inPlace = guarded(gemv, n, width, x, out -> gemv.norm(out, out, Norm.layer(weight, bias, 1e-5f)));
                    nmse("layernorm_f32_f32", inPlace, want, want.length, 1e-7);
                }
            }
        }
    }

    @Test
    void addBias() {
        var r = new Random(14);
        for (int width : WIDTHS) {
            for (int n : new int[] {1, 5, 17}) {
                for (GgmlType bType : new GgmlType[] {GgmlType.F32, GgmlType.F16, GgmlType.BF16}) {
                    float[] x = random(r, n * width, 1f), bf = new float[width];
                    Tensor bias = vector(gemv, bType, random(r, width, 1f), bf);
                    float[] want = new float[n * width];
                    Reference.map(want, Elementwise.ADD_ROW, x, bf, n, width);
                    float[] got = guarded(gemv, n, width, x, t -> gemv.map(t, Elementwise.ADD_ROW, t, bias));
                    nmse("elementwise_f32_f32 add_row", got, want, want.length, 1e-7);
                }
            }
        }
    }

    @Test
    void geluGegluScaleSoftcap() {
        var r = new Random(15);
        for (int width : WIDTHS) {
            for (int n : new int[] {1, 5, 17}) {
                int count = n * width;
                float[] g = random(r, count, 3f), u = random(r, count, 1f);
                Tensor gt = input(gemv, g, n, width), ut = input(gemv, u, n, width);

                float[] want = new float[count];
                Reference.map(want, Elementwise.GELU, g, null, n, width);
                nmse("elementwise_f32_f32 gelu", guarded(gemv, n, width, null, out -> gemv.map(out, Elementwise.GELU, gt, null)), want, count, 1e-7);
                nmse("elementwise_f32_f32 gelu", guarded(gemv, n, width, g, out -> gemv.map(out, Elementwise.GELU, out, null)), want, count, 1e-7);

                Reference.map(want, Elementwise.GELU_MUL, g, u, n, width);
                nmse("elementwise_f32_f32 gelu_mul", guarded(gemv, n, width, null, out -> gemv.map(out, Elementwise.GELU_MUL, gt, ut)), want, count, 1e-7);
                nmse("elementwise_f32_f32 gelu_mul", guarded(gemv, n, width, g, out -> gemv.map(out, Elementwise.GELU_MUL, out, ut)), want, count, 1e-7); // out = gate

                Elementwise scale = Elementwise.scale(0.37f);
                Reference.map(want, scale, g, null, n, width);
                nmse("elementwise_f32_f32 scale", guarded(gemv, n, width, g, x -> gemv.map(x, scale, x, null)), want, count, 1e-7);

                for (float cap : new float[] {30f, 2.5f}) {
                    Elementwise softcap = Elementwise.softcap(cap);
                    Reference.map(want, softcap, g, null, n, width);
                    nmse("elementwise_f32_f32 softcap", guarded(gemv, n, width, g, x -> gemv.map(x, softcap, x, null)), want, count, 1e-7);
                }
            }
        }
    }

    @Test
    void copyBlocks() {
        var r = new Random(16);
        for (int width : WIDTHS) {
            int srcCols = 2 * width + 5;
            for (int n : new int[] {1, 5, 17}) {
                float[] src = random(r, (n + 2) * srcCols, 1f); // more rows than dst: only dst's rows are copied
                Tensor s = input(gemv, src, n + 2, srcCols);
                for (int row : new int[] {0, 2}) {
                    for (int from : new int[] {0, width, srcCols - width}) {
                        float[] want = new float[n * width];
                        Reference.copy(want, n, width, src, srcCols, row, from);
                        float[] got = guarded(gemv, n, width, null, d -> gemv.copy(d, s, row, from));
                        assertTrue(Arrays.equals(got, want), "rows " + row + "…, columns " + from + ".." + (from + width) + " of " + n + " rows");
                        nmse("copy_f32_f32", got, want, want.length, 0);
                    }
                }
            }
        }
    }

    @Test
    void ropeWithFrequencyFactorsPartialAndNeox() {
        var r = new Random(17);
        // (headDim, ropeDims, heads): full, partial (phi3-like: 96 of 128 → here 24 of 32), widths 1·2 … 100·41
        int[][] shapes = {{2, 2, 1}, {32, 24, 3}, {64, 64, 2}, {SMALL ? 20 : 100, SMALL ? 12 : 60, 41}};
        for (int[] s : shapes) {
            float[] factors = new float[s[1] / 2];
            for (int i = 0; i < factors.length; i++) factors[i] = 1f + 7f * r.nextFloat();
            for (boolean neox : new boolean[] {false, true}) {
                var spec = new RopeSpec(s[0], s[1], 500000f, neox, factors);
                int width = s[0] * s[2];
                for (int n : new int[] {1, 5, 17}) {
                    float[] x = random(r, n * width, 1f);
                    int[] pos = new int[n];
                    for (int t = 0; t < n; t++) pos[t] = r.nextInt(4000);
                    float[] want = x.clone();
                    Reference.rope(want, n, width, pos, spec);
                    Tensor kt = input(gemv, random(r, n * s[0], 1f), n, s[0]);
                    float[] got = guarded(gemv, n, width, x, t -> gemv.rope(t, kt, pos, spec));
                    nmse("rope_f32_f32 (freq factors)", got, want, want.length, 1e-7);
                }
                // the factor table is uploaded once per factors array, not per call
                Tensor t = input(gemv, random(r, width, 1f), 1, width), k = input(gemv, random(r, s[0], 1f), 1, s[0]);
                long bytes = gemv.allocatedBytes();
                float[] back = new float[width];
                gemv.rope(t, k, new int[] {7}, spec);
                gemv.read(t, back);
                gemv.rope(t, k, new int[] {8}, new RopeSpec(s[0], s[1], 500000f, !neox, factors));
                gemv.read(t, back);
                assertEquals(bytes, gemv.allocatedBytes(), "no new rope table for a known factors array");
            }
        }
    }

    /**
     * The compute probes: float FMA for F32 (and for everything on the float-GEMM backend), pmaddubsw's int8 products
     * for a K-quant where that backend takes blocks_q8k.h's kernels; each rate is positive and its buffers released.
     */
    @Test
    void computeProbesMeasureAndReleaseTheirBuffers() {
        Assumptions.assumeFalse(SMALL, "skipped under oclgrind: the probes run for tens of milliseconds of device time");
        long before = gemm.allocatedBytes();
        double f32 = gemm.probeMultiplyAddRate(GgmlType.F32);
        double q4k = gemm.probeMultiplyAddRate(GgmlType.Q4_K);
        assertTrue(Double.isFinite(f32) && f32 > 0 && Double.isFinite(q4k) && q4k > 0, f32 + ", " + q4k);
        assertEquals(before, gemm.allocatedBytes(), "the probes release their buffers");
        assertTrue(gemm.kernelsUsed().contains("computeprobe_f32_f32"), gemm.kernelsUsed().toString());
        boolean int8 = gemm.kernelsUsed().contains("computeprobe_i8_i8");
        System.out.printf("compute probes on %s: F32 FMA %.1f G multiply-adds/s, Q4_K %s %.1f G/s%n", gemm.device().name(), f32 / 1e9,
                int8 ? "int8 (pmaddubsw)" : "float", q4k / 1e9);
    }

    @Test
    void bandwidthProbeMeasuresAndReleasesItsBuffer() {
        long before = gemv.allocatedBytes();
        double small = gemv.probeReadBandwidth(SMALL ? 1L << 16 : 16L << 20);
        assertTrue(Double.isFinite(small) && small > 0, "bandwidth " + small);
        assertEquals(before, gemv.allocatedBytes(), "the probe releases its buffers");
        if (SMALL) return; // oclgrind: no 256 MiB sweeps
        double full = gemv.probeReadBandwidth();
        assertTrue(Double.isFinite(full) && full > 0, "bandwidth " + full);
        assertEquals(before, gemv.allocatedBytes(), "the probe releases its buffers");
        assertTrue(gemv.kernelsUsed().contains("bwprobe_f32_f32"));
        System.out.printf("bwprobe_f32_f32 on %s: %.2f GB/s (256 MiB), %.2f GB/s (16 MiB)%n", gemv.device().name(), full / 1e9, small / 1e9);
    }

    // ---------------------------------------------------------------- matmul

    @Test
    void matmulEveryTypeBothKernels() {
        var r = new Random(6);
        for (GgmlType type : TYPES) {
            boolean quant = type == GgmlType.Q8_0 || type == GgmlType.Q4_0;
            for (int in : quant ? WIDTHS_Q : WIDTHS) {
                for (int outRows : new int[] {1, 37}) {
                    float[] wv = random(r, outRows * in, 0.5f);
                    MemorySegment seg = segment(encode(type, wv), in % 2 == 1);
                    for (int n : new int[] {1, 2, 3, 5, 17}) {   // the GEMM with tiles of 1, 2, 3, 5 and 8 tokens
                        float[] x = random(r, n * in, 1f);
                        float[] want = new float[n * outRows];
                        Reference.matmul(want, x, n, in, seg, type, outRows);
                        for (ClBackend b : List.of(gemv, gemm, lanes)) {
                            Tensor w = b.upload("w", type, outRows, in, seg);
                            Tensor xt = input(b, x, n, in);
                            float[] got = guarded(b, n, outRows, null, out -> b.matmul(out, xt, w));
                            String kernel = "matmul_" + ElementwiseLauncher.typeName(type) + "_f32_" + (b == gemm ? "gemm" : "gemv") + lanesSuffix(b);
                            nmse(kernel, got, want, want.length, 5e-4);
                        }
                    }
                }
            }
        }
        // each type's own kernel ran, not a general fallback
        assertTrue(gemv.kernelsUsed().containsAll(List.of("matmul_f32_f32_gemv", "matmul_f16_f32_gemv", "matmul_bf16_f32_gemv",
                "matmul_q8_0_f32_gemv", "matmul_q4_0_f32_gemv")), gemv.kernelsUsed().toString());
        assertTrue(gemm.kernelsUsed().containsAll(List.of("matmul_f32_f32_gemm", "matmul_f16_f32_gemm", "matmul_bf16_f32_gemm",
                "matmul_q8_0_f32_gemm", "matmul_q4_0_f32_gemm")), gemm.kernelsUsed().toString());
    }

    /**
     * The GEMMs give each work-item a register tile of weight rows × tokens and each group 32 items:
     * heights and token counts around the tile and group sizes (partial tiles both ways, two groups), on the
     * direct-x path of CPU devices and on the staged path GPUs take ({@code -Dinfercl.opencl.stageX=true} forces it).
     */
    @Test
    void gemmTilesAndTailsBothXPaths() {
        System.setProperty("infercl.opencl.stageX", "true");
        ClBackend staged;
        try {
            staged = ClTestSupport.open(ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM).withAmx(false));
        } finally {
            System.clearProperty("infercl.opencl.stageX");
        }
        try {
            var r = new Random(26);
            for (GgmlType type : TYPES) {
                boolean quant = type == GgmlType.Q8_0 || type == GgmlType.Q4_0;
                for (int in : quant ? new int[] {32, 96} : new int[] {7, 33, 96}) {
                    for (int outRows : new int[] {2, 3, 4, 97, 100}) {
                        MemorySegment seg = segment(encode(type, random(r, outRows * in, 0.5f)), false);
                        for (int n : new int[] {2, 8, 9, 23}) {
                            float[] x = random(r, n * in, 1f);
                            float[] want = new float[n * outRows];
                            Reference.matmul(want, x, n, in, seg, type, outRows);
                            for (ClBackend b : List.of(gemm, staged)) {
                                Tensor w = b.upload("w", type, outRows, in, seg);
                                Tensor xt = input(b, x, n, in);
                                float[] got = guarded(b, n, outRows, null, out -> b.matmul(out, xt, w));
                                nmse("matmul_" + ElementwiseLauncher.typeName(type) + "_f32_gemm" + (b == staged ? " (STAGE_X)" : ""), got, want, want.length, 5e-4);
                            }
                        }
                    }
                }
            }
        } finally {
            staged.close();
        }
    }

    /** The fused one-token kernels (Q·K·V in one launch, residual accumulate, gate·up·SwiGLU) against Reference. */
    @Test
    void fusedGemvKernels() {
        for (ClBackend b : List.of(gemv, lanes)) fusedGemvKernels(b);
    }

    private static void fusedGemvKernels(ClBackend b) {
        var r = new Random(16);
        for (GgmlType type : new GgmlType[] {GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0}) {
            boolean quant = type != GgmlType.F16;
            for (int in : quant ? WIDTHS_Q : WIDTHS) {
                int[] rows = {1, 7, 31, 32, 33, quant ? 96 : WIDE};
                // three weights of different heights sharing one input, with and without accumulation
                for (int k = 0; k + 2 < rows.length; k++) {
                    int[] h = {rows[k], rows[k + 1], rows[k + 2]};
                    float[] x = random(r, in, 1f);
                    MemorySegment[] segs = new MemorySegment[3];
                    Tensor[] ws = new Tensor[3];
                    float[][] want = new float[3][];
                    for (int j = 0; j < 3; j++) {
                        segs[j] = segment(encode(type, random(r, h[j] * in, 0.5f)), in % 2 == 1);
                        ws[j] = b.upload("w" + j, type, h[j], in, segs[j]);
                        want[j] = new float[h[j]];
                        Reference.matmul(want[j], x, 1, in, segs[j], type, h[j]);
                    }
                    Tensor xt = input(b, x, 1, in);
                    float[][] base = {random(r, h[0], 1f), random(r, h[1], 1f), random(r, h[2], 1f)};
                    for (boolean acc : new boolean[] {false, true}) {
                        Tensor[] outs = new Tensor[3];
                        Tensor[] full = new Tensor[3];
                        for (int j = 0; j < 3; j++) {
                            full[j] = b.allocate("out" + j, 1 + GUARD, h[j]);
                            float[] init = new float[(1 + GUARD) * h[j]];
                            Arrays.fill(init, SENTINEL);
                            System.arraycopy(base[j], 0, init, 0, h[j]);
                            b.write(full[j], init);
                            outs[j] = full[j].firstRows(1);
                        }
                        Linear[] products = new Linear[3];
                        for (int j = 0; j < 3; j++) products[j] = new Linear(outs[j], ws[j], null, acc);
                        b.linear(xt, products);
                        for (int j = 0; j < 3; j++) {
                            float[] all = new float[(1 + GUARD) * h[j]];
                            b.read(full[j], all);
                            for (int i = h[j]; i < all.length; i++) if (all[i] != SENTINEL) fail("gemvmulti guard " + i + " overwritten");
                            float[] exp = want[j].clone();
                            if (acc) for (int i = 0; i < h[j]; i++) exp[i] += base[j][i];
                            nmse("matmul_" + ElementwiseLauncher.typeName(type) + "_f32_gemvmulti" + lanesSuffix(b), Arrays.copyOf(all, h[j]), exp, h[j], 5e-4);
                        }
                    }
                    // gate · up · SwiGLU in one launch
                    for (int hr : h) {
                        byte[] gb = encode(type, random(r, hr * in, 0.5f)), ub = encode(type, random(r, hr * in, 0.5f));
                        MemorySegment gs = segment(gb, false), us = segment(ub, false);
                        float[] g = new float[hr], u = new float[hr], exp = new float[hr];
                        Reference.matmul(g, x, 1, in, gs, type, hr);
                        Reference.matmul(u, x, 1, in, us, type, hr);
                        Reference.map(exp, Elementwise.SILU_MUL, g, u, 1, hr);
                        Tensor gw = b.upload("gate", type, hr, in, gs), uw = b.upload("up", type, hr, in, us);
                        float[] got = guarded(b, 1, hr, null, out -> b.gatedLinear(out, xt, gw, uw, Elementwise.SILU_MUL));
                        nmse("matmul_" + ElementwiseLauncher.typeName(type) + "_f32_gemvswiglu" + lanesSuffix(b), got, exp, hr, 5e-4);
                    }
                }
            }
        }
        assertTrue(b.kernelsUsed().containsAll(List.of("matmul_f16_f32_gemvmulti", "matmul_q8_0_f32_gemvmulti", "matmul_q4_0_f32_gemvmulti",
                "matmul_f16_f32_gemvswiglu", "matmul_q8_0_f32_gemvswiglu", "matmul_q4_0_f32_gemvswiglu")), b.kernelsUsed().toString());
    }

    /**
     * rope(q, k) fused with the KV-cache write (kvwrite_f16_f32_rope), F32 and FP16 caches: q and k rotated in place as
     * Reference.rope does, and attention over the cache it wrote equal to Reference's rope then attention.
     */
    @Test
    void ropeFusedWithTheCacheWrite() {
        var r = new Random(19);
        // (headDim, ropeDims, heads, kvHeads, context length)
        int[][] shapes = {{8, 8, 4, 2, 20}, {16, 8, 6, 3, SMALL ? 20 : 40}, {64, 64, 4, 4, SMALL ? 18 : 70}};
        for (KvType kv : new KvType[] {KvType.F32, KvType.F16}) {
            try (ClBackend b = ClTestSupport.open(ClOptions.defaults().withKvType(kv))) {
                int k = 0;
                for (int[] s : shapes) {
                    for (boolean neox : new boolean[] {false, true}) {
                        // each shape with plain RoPE and, in turn, one of the scalings (their angles and magnitude)
                        ropeAttentionScenario(b, r, s, neox, RopeSpec.Scaling.NONE, false);
                        var scalings = scalings(s[1]);
                        ropeAttentionScenario(b, r, s, neox, scalings[k % scalings.length], k % scalings.length == scalings.length - 1);
                        k++;
                    }
                }
                assertTrue(b.kernelsUsed().contains("kvwrite_f16_f32_rope"));
            }
        }
    }

    /**
     * The scalings a model file can declare, as RopeSpecs carry them: linear, YaRN (its ramp falls inside the pairs of
     * these rope widths for an original context of 64 and betas 32/4; magnitude 1 + 0.1·ln 8), and LongRoPE's
     * magnitude (its factors are {@link #longFactors}).
     */
    static RopeSpec.Scaling[] scalings(int ropeDims) {
        return new RopeSpec.Scaling[] {RopeSpec.Scaling.linear(4), RopeSpec.Scaling.yarn(8, 64, ropeDims, 10000, 32, 4),
                RopeSpec.Scaling.NONE.withMagnitude(1.19)};
    }

    /** Phi-3-like long factors, growing from 1 for the fastest pair to 40 for the slowest. */
    static float[] longFactors(int ropeDims) {
        float[] f = new float[ropeDims / 2];
        for (int i = 0; i < f.length; i++) f[i] = 1f + 39f * i / Math.max(1, f.length - 1);
        return f;
    }

    private static void ropeAttentionScenario(ClBackend b, Random r, int[] s, boolean neox, RopeSpec.Scaling scaling, boolean factors) {
        int hd = s[0], heads = s[2], kvHeads = s[3], len = s[4], blockSize = 16, blocks = (len + blockSize - 1) / blockSize + 2;
        var layout = new KvLayout(2, kvHeads, hd, blockSize, blocks);
        var rope = new RopeSpec(hd, s[1], 10000f, neox, factors ? longFactors(s[1]) : null, scaling);
        var spec = new AttentionSpec((float) (1 / Math.sqrt(hd)), 0f, 0, rope);
        try (var cache = b.createKvCache(layout)) {
            var table = new BlockTable(cache.pool(), blockSize);
            float[] kRef = new float[(int) layout.valuesPerLayer()], vRef = new float[kRef.length];
            int qDim = heads * hd, kvDim = kvHeads * hd, start = 0;
            for (int n : new int[] {Math.min(7, len), 1, 1, len - Math.min(7, len) - 2}) {
                if (n <= 0) continue;
                int[] pos = new int[n];
                for (int t = 0; t < n; t++) pos[t] = start + t;
                table.reserve(start + n);
                float[] q = random(r, n * qDim, 1f), k = random(r, n * kvDim, 1f), v = random(r, n * kvDim, 1f);
                float[] qr = q.clone(), kr = k.clone(), want = new float[n * qDim];
                Reference.rope(qr, n, qDim, pos, rope);
                Reference.rope(kr, n, kvDim, pos, rope);
                Reference.attention(want, qr, kr, v, kRef, vRef, layout, table, pos, heads, spec);
                Tensor qt = input(b, q, n, qDim), kt = input(b, k, n, kvDim), vt = input(b, v, n, kvDim);
                var batch = new Batch(pos, table);
                float[] got = guarded(b, n, qDim, null, out -> b.attention(out, qt, kt, vt, cache, 1, batch, spec));
                float[] gotQ = new float[n * qDim], gotK = new float[n * kvDim];
                b.read(qt, gotQ);
                b.read(kt, gotK);
                String what = scaling == RopeSpec.Scaling.NONE ? "" : " scaled";
                nmse("kvwrite_f16_f32_rope (q)" + what, gotQ, qr, qr.length, 1e-7);
                nmse("kvwrite_f16_f32_rope (k)" + what, gotK, kr, kr.length, 1e-7);
                nmse("kvwrite_f16_f32_rope + attention", got, want, want.length, 5e-4);
                table.setLength(start + n);
                start += n;
            }
            table.release();
        }
    }

    @Test
    void ropeQueriesAndKeysTogether() {
        var r = new Random(17);
        // (headDim, ropeDims, qHeads, kHeads)
        int[][] shapes = {{2, 2, 1, 1}, {8, 8, 4, 1}, {64, 32, 6, 2}, {SMALL ? 20 : 100, SMALL ? 20 : 100, 41, 7}, {6, 6, 1, 1}};
        for (int[] s : shapes) {
            for (boolean neox : new boolean[] {false, true}) {
                for (int n : new int[] {1, 5}) {
                    var spec = new RopeSpec(s[0], s[1], 10000f, neox);
                    ropeQueriesAndKeys(r, s, n, spec, "rope_f32_f32");
                }
                // the scalings: linear, YaRN, LongRoPE (factors and magnitude), one token and several
                var sc = scalings(s[1]);
                for (int j = 0; j < sc.length; j++) {
                    var spec = new RopeSpec(s[0], s[1], 10000f, neox, j == sc.length - 1 ? longFactors(s[1]) : null, sc[j]);
                    ropeQueriesAndKeys(r, s, 1 + 4 * (j % 2), spec, "rope_f32_f32 scaled");
                }
            }
        }
    }

    /** Rotates n rows of s[2] query heads and s[3] key heads with rope_f32_f32 and compares with Reference.rope. */
    private static void ropeQueriesAndKeys(Random r, int[] s, int n, RopeSpec spec, String what) {
        int qw = s[0] * s[2], kw = s[0] * s[3];
        float[] q = random(r, n * qw, 1f), k = random(r, n * kw, 1f);
        int[] pos = new int[n];
        for (int t = 0; t < n; t++) pos[t] = r.nextInt(2000);
        float[] wq = q.clone(), wk = k.clone();
        Reference.rope(wq, n, qw, pos, spec);
        Reference.rope(wk, n, kw, pos, spec);
        Tensor kt = gemv.allocate("k", n + GUARD, kw);
        float[] kAll = new float[(n + GUARD) * kw];
        Arrays.fill(kAll, SENTINEL);
        System.arraycopy(k, 0, kAll, 0, k.length);
        gemv.write(kt, kAll);
        float[] gotQ = guarded(gemv, n, qw, q, qt -> gemv.rope(qt, kt.firstRows(n), pos, spec));
        gemv.read(kt, kAll);
        for (int i = n * kw; i < kAll.length; i++) if (kAll[i] != SENTINEL) fail("rope k guard " + i + " overwritten");
        nmse(what, gotQ, wq, wq.length, 1e-7);
        nmse(what, Arrays.copyOf(kAll, n * kw), wk, wk.length, 1e-7);
    }

    // ---------------------------------------------------------------- attention

    @Test
    void attentionPagedCacheBothKernels() {
        var r = new Random(7);
        // (headDim, heads, kvHeads, context length): query heads per KV head (one work-item's group) 1, 2, 4, 8;
        // head sizes 8, 16, 33 (scalar path), 64, 128; past 512 positions the split kernel meets 3 chunks. Groups of
        // 3, 5, 12 and 32 split into register blocks of unequal or several sizes (attention_tiles.h: scores in blocks
        // of 3, 5, 6, 8 heads, values in blocks of 3, 1, 6, 8).
        int[][] shapes = {{8, 8, 4, SMALL ? 40 : 600}, {64, 4, 1, SMALL ? 20 : 300}, {16, 6, 3, SMALL ? 20 : 70},
                {64, 8, 1, SMALL ? 24 : 600}, {128, 4, 4, SMALL ? 20 : 300}, {33, 4, 2, SMALL ? 20 : 280},
                {16, 6, 2, SMALL ? 20 : 70}, {64, 10, 2, SMALL ? 20 : 70}, {16, 12, 1, SMALL ? 20 : 70}, {32, 32, 1, SMALL ? 20 : 70}};
        for (int[] s : shapes) {
            for (ClBackend b : List.of(gemv, gemm, lanes)) attentionScenario(b, r, s[0], s[1], s[2], s[3], 0f, 0);
        }
        // blocks of 32 positions: two 16-position tiles per block, a window that starts mid-tile
        for (ClBackend b : List.of(gemv, gemm, lanes)) attentionScenario(b, r, 16, 4, 2, SMALL ? 40 : 600, 0f, 21, 32);
        // the lanes kernels with the FP16 cache GPUs default to, and with 32 lanes (a GPU's): one tile wider than a block
        for (int al : new int[] {LANES, 32}) {
            try (ClBackend f16 = ClTestSupport.openWithLanes(al, ClOptions.defaults().withKvType(KvType.F16))) {
                for (int[] s : shapes) attentionScenario(f16, r, s[0], s[1], s[2], Math.min(s[3], SMALL ? 40 : 300), 0f, 0);
                attentionScenario(f16, r, 64, 8, 2, SMALL ? 40 : 200, 5f, 37);
                assertTrue(f16.kernelsUsed().contains("attention_kv_f32_lanes"));
            }
        }
        // past 512 positions a sequence's chunks are attended apart and merged
        if (!SMALL) {
            assertTrue(List.of(gemv, gemm, lanes).stream().anyMatch(b -> b.kernelsUsed().contains("attention_f32_f32_combine")),
                    "the split kernels' partial results are combined");
        }
    }

    @Test
    void attentionSoftCapAndSlidingWindowBothKernels() {
        var r = new Random(11);
        // (headDim, heads, kvHeads, context length, soft-cap, window): the window smaller than a split chunk, so
        // the split kernel meets chunks wholly outside it; a window of 1 (each query sees only itself)
        int[][] shapes = {{8, 8, 4, SMALL ? 40 : 600, 0, SMALL ? 9 : 100}, {64, 4, 1, SMALL ? 20 : 300, 5, 0},
                {16, 6, 3, SMALL ? 30 : 540, 2, SMALL ? 17 : 37}, {16, 2, 2, 20, 0, 1},
                {64, 16, 2, SMALL ? 30 : 600, 5, SMALL ? 17 : 300}};
        for (int[] s : shapes) {
            for (ClBackend b : List.of(gemv, gemm, lanes)) attentionScenario(b, r, s[0], s[1], s[2], s[3], s[4], s[5]);
        }
    }

    /**
     * A tile's lanes past the current position (or before a sliding window) hold whatever an earlier sequence left
     * there: NaN and Inf from a sequence that diverged must not reach a new one through a masked lane.
     */
    @Test
    void staleNonFiniteCacheSlotsDoNotLeakIntoTheNextSequence() {
        var r = new Random(23);
        int hd = 16, heads = 4, kvHeads = 2, blockSize = 16, blocks = 4, qDim = heads * hd, kvDim = kvHeads * hd;
        var layout = new KvLayout(2, kvHeads, hd, blockSize, blocks);
        for (ClBackend b : List.of(gemv, gemm, lanes)) {
            for (int window : new int[] {0, 7}) {
                try (var cache = b.createKvCache(layout)) {
                    var spec = new AttentionSpec((float) (1 / Math.sqrt(hd)), 0f, window);
                    // the first sequence fills every slot of every block with NaN keys and Inf/NaN values
                    var old = new BlockTable(cache.pool(), blockSize);
                    int n0 = blocks * blockSize;
                    int[] pos0 = new int[n0];
                    for (int t = 0; t < n0; t++) pos0[t] = t;
                    old.reserve(n0);
                    float[] bad = new float[n0 * kvDim];
                    for (int i = 0; i < bad.length; i++) bad[i] = i % 3 == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
                    Tensor q0 = input(b, random(r, n0 * qDim, 1f), n0, qDim), bt = input(b, bad, n0, kvDim), out0 = b.allocate("out", n0, qDim);
                    b.attention(out0, q0, bt, bt, cache, 1, new Batch(pos0, old), spec);
                    old.release();
                    // the next sequence: 21 positions (a partial second tile), prefill then one decode step
                    var table = new BlockTable(cache.pool(), blockSize);
                    float[] kRef = new float[(int) layout.valuesPerLayer()], vRef = new float[kRef.length];
                    int start = 0;
                    for (int n : new int[] {20, 1}) {
                        int[] pos = new int[n];
                        for (int t = 0; t < n; t++) pos[t] = start + t;
                        table.reserve(start + n);
                        float[] q = random(r, n * qDim, 1f), k = random(r, n * kvDim, 1f), v = random(r, n * kvDim, 1f);
                        float[] want = new float[n * qDim];
                        Reference.attention(want, q, k, v, kRef, vRef, layout, table, pos, heads, spec);
                        Tensor qt = input(b, q, n, qDim), kt = input(b, k, n, kvDim), vt = input(b, v, n, kvDim);
                        var batch = new Batch(pos, table);
                        float[] got = guarded(b, n, qDim, null, out -> b.attention(out, qt, kt, vt, cache, 1, batch, spec));
                        for (float f : got) assertTrue(Float.isFinite(f), "a stale non-finite slot reached the output (window " + window + ")");
                        nmse("attention_kv_f32 after a non-finite sequence" + (window > 0 ? " window" : ""), got, want, want.length, 5e-4);
                        table.setLength(start + n);
                        start += n;
                    }
                    table.release();
                }
            }
        }
    }

    /** The FP16/F32 attention kernels score aligned 16-position tiles, so a cache block must hold a multiple of 16. */
    @Test
    void cacheBlocksThatTilesWouldStraddleAreRefused() {
        for (KvType kv : new KvType[] {KvType.F32, KvType.F16}) {
            try (ClBackend b = ClTestSupport.open(ClOptions.defaults().withKvType(kv))) {
                var e = assertThrows(IllegalArgumentException.class, () -> b.createKvCache(new KvLayout(1, 2, 8, 24, 4)));
                assertTrue(e.getMessage().contains("multiple of 16") && e.getMessage().contains("24"), e.getMessage());
                b.createKvCache(new KvLayout(1, 2, 8, 32, 4)).close();
            }
        }
    }

    /** A prefill of several tokens, a second multi-token batch, then single-token decode steps up to {@code len}. */
    static void attentionScenario(ClBackend b, Random r, int hd, int heads, int kvHeads, int len, float softcap, int window) {
        attentionScenario(b, r, hd, heads, kvHeads, len, softcap, window, 16);
    }

    static void attentionScenario(ClBackend b, Random r, int hd, int heads, int kvHeads, int len, float softcap, int window, int blockSize) {
        int blocks = (len + blockSize - 1) / blockSize + 3;
        var layout = new KvLayout(2, kvHeads, hd, blockSize, blocks);
        try (var cache = b.createKvCache(layout)) {
            // scatter the sequence over the physical blocks: take them all, hand them back shuffled
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < blocks; i++) ids.add(cache.pool().allocate());
            Collections.shuffle(ids, r);
            ids.forEach(cache.pool()::release);
            var table = new BlockTable(cache.pool(), blockSize);
            float[] kRef = new float[(int) layout.valuesPerLayer()], vRef = new float[kRef.length];
            var spec = new AttentionSpec((float) (1 / Math.sqrt(hd)), softcap, window);
            int qDim = heads * hd, kvDim = kvHeads * hd;
            int start = 0;
            List<Integer> batches = new ArrayList<>(List.of(Math.min(13, len), Math.min(5, len - Math.min(13, len))));
            while (batches.stream().mapToInt(Integer::intValue).sum() < len) batches.add(1);
            for (int n : batches) {
                if (n == 0) continue;
                int[] pos = new int[n];
                for (int t = 0; t < n; t++) pos[t] = start + t;
                table.reserve(start + n);
                float[] q = random(r, n * qDim, 1f), k = random(r, n * kvDim, 1f), v = random(r, n * kvDim, 1f);
                float[] want = new float[n * qDim];
                float[] qs = q.clone();
                if (softcap > 0) for (int i = 0; i < qs.length; i++) qs[i] *= 4; // scores large enough for the cap to bite
                Reference.attention(want, qs, k, v, kRef, vRef, layout, table, pos, heads, spec);
                Tensor qt = input(b, qs, n, qDim), kt = input(b, k, n, kvDim), vt = input(b, v, n, kvDim);
                var batch = new Batch(pos, table);
                float[] got = guarded(b, n, qDim, null, out -> b.attention(out, qt, kt, vt, cache, 1, batch, spec));
                String kernel = switch (b.chooser().attention(n, kvHeads, start + n)) {
                    case SPLIT -> "attention_kv_f32_split+combine";
                    case LANES -> "attention_kv_f32_lanes+combine (" + b.lanes() + " lanes)";
                    case FUSED -> "attention_kv_f32";
                };
                String variant = (softcap > 0 ? " softcap" : "") + (window > 0 ? " window" : "");
                nmse(kernel + variant, got, want, want.length, 5e-4);
                table.setLength(start + n);
                start += n;
            }
            table.release();
        }
    }

    // ---------------------------------------------------------------- limits, faults, plumbing

    @Test
    void weightsLargerThanMaxAllocAreSplitIntoRowRanges() {
        var r = new Random(8);
        try (ClBackend small = ClTestSupport.open(ClOptions.defaults().withMaxAlloc(65536))) {
            for (GgmlType type : TYPES) {
                int in = 2048, rows = 67, vocabTokens = 5;
                float[] wv = random(r, rows * in, 0.5f);
                MemorySegment seg = segment(encode(type, wv), false);
                ClTensor w = (ClTensor) small.upload("big", type, rows, in, seg);
                assertTrue(w.parts.length > 1, type + " weight was split (" + w.parts.length + " parts)");
                float[] x = random(r, 3 * in, 1f);
                float[] want = new float[3 * rows];
                Reference.matmul(want, x, 3, in, seg, type, rows);
                Tensor xt = input(small, x, 3, in);
                for (int n : new int[] {1, 3}) {
                    float[] got = guarded(small, n, rows, null, out -> small.matmul(out, xt.firstRows(n), w));
                    nmse("matmul_" + ElementwiseLauncher.typeName(type) + "_f32 (split weight)", got, want, n * rows, 5e-4);
                }
                int[] tokens = {0, 66, 31, 32, 33};
                float[] wantE = new float[vocabTokens * in];
                Reference.embed(wantE, seg, type, in, tokens);
                float[] gotE = guarded(small, vocabTokens, in, null, out -> small.embed(out, w, tokens));
                nmse("embed_" + ElementwiseLauncher.typeName(type) + "_f32 (split table)", gotE, wantE, wantE.length, 1e-7);
            }
            var e = assertThrows(DeviceOutOfMemoryException.class, () -> small.allocate("huge logits", 1000, 1000));
            assertTrue(e.getMessage().contains("huge logits") && e.getMessage().contains("4000000") && e.getMessage().contains(small.device().name()), e.getMessage());
        }
    }

    @Test
    void readingAWeightDequantizesIt() {
        var r = new Random(9);
        for (GgmlType type : TYPES) {
            float[] wv = random(r, 5 * 64, 1f);
            MemorySegment seg = segment(encode(type, wv), false);
            float[] want = new float[5 * 64], got = new float[5 * 64];
            Dequant.row(type, seg, 0, want, 0, want.length);
            gemv.read(gemv.upload("w", type, 5, 64, seg), got);
            assertTrue(Arrays.equals(want, got), type + " read back");
        }
    }

    @Test
    void alignedWeightsAreWrappedOnACpuDeviceAndMisalignedOnesCopied() {
        Random r = new Random(10);
        try (ClBackend b = ClTestSupport.open(ClOptions.defaults())) {
            b.upload("aligned", GgmlType.F32, 4, 64, segment(encode(GgmlType.F32, random(r, 256, 1f)), false));
            b.upload("misaligned", GgmlType.F32, 4, 64, segment(encode(GgmlType.F32, random(r, 256, 1f)), true));
            if (b.device().isCpu()) {
                assertEquals(1024, b.wrappedBytes(), "aligned weight wrapped in place");
                assertEquals(1024, b.copiedBytes(), "misaligned weight copied");
            } else {
                assertEquals(2048, b.copiedBytes());
            }
        }
    }

    @Test
    void aBuildFailureCarriesTheBuildLog() {
        var e = assertThrows(KernelBuildException.class, () -> gemv.library().kernel("rmsnorm_f32_f32", Map.of("LOCAL", "+")));
        assertTrue(e.getMessage().contains("rmsnorm_f32_f32.cl") && !e.buildLog().isBlank(), e.getMessage());
    }

    @Test
    void devicesAreDescribed() {
        ClTestSupport.requireOpenCl();
        var list = ClDevices.list();
        assertTrue(!list.isEmpty());
        String d = ClDevices.describe();
        for (ClDevice dev : list) assertTrue(d.contains(dev.name()) && dev.computeUnits() > 0 && dev.maxAllocBytes() > 0, d);
    }
}
