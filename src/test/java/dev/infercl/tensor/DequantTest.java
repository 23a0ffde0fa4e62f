package dev.infercl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The block codecs without ../shared: quantize → dequantize round trips within each type's expected error, and
 * the one-line errors for types that are recognised but not computed with. (LlamaQuantizeOracleTest checks the
 * dequantizers against llama.cpp's bit for bit.)
 */
class DequantTest {

    /** Round-trip RMS error / RMS of N(0, 1) values: about 2^-(bits) scaled by each type's range use. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
    void roundTripErrorFitsTheType(GgmlType type) {
        double limit = switch (type) {
            case Q8_0 -> 0.01;
            case Q6_K -> 0.04;
            case Q5_0, Q5_1, Q5_K -> 0.08;
            case Q4_0, Q4_1, Q4_K, IQ4_NL, IQ4_XS -> 0.16;
            case Q3_K -> 0.3;
            default -> 0.6;  // Q2_K
        };
        var rnd = new Random(type.ordinal());
        int cols = 768, rows = 8;
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        byte[] q = new byte[(int) type.byteSize(cols) * rows];
        for (int r = 0; r < rows; r++) {
            byte[] row = Dequant.quantize(type, x, r * cols, cols);
            assertEquals(type.byteSize(cols), row.length, "row bytes");
            System.arraycopy(row, 0, q, r * row.length, row.length);
        }
        float[] back = new float[x.length];
        Dequant.row(type, MemorySegment.ofArray(q), 0, back, 0, x.length);
        double err = 0, norm = 0;
        for (int i = 0; i < x.length; i++) {
            err += (back[i] - (double) x[i]) * (back[i] - (double) x[i]);
            norm += (double) x[i] * x[i];
        }
        double rel = Math.sqrt(err / norm);
        assertTrue(rel < limit, type + ": relative RMS error " + rel + " ≥ " + limit);
        assertTrue(rel > limit / 20, type + ": relative RMS error " + rel + " is implausibly small for the type");

        // a row of a tensor at an offset: the same values as decoding that row alone
        float[] one = new float[cols];
        Dequant.row(type, MemorySegment.ofArray(q), 3L * cols, one, 0, cols);
        for (int i = 0; i < cols; i++) assertEquals(back[3 * cols + i], one[i], "row 3 value " + i);
    }

    /** An all-zero block decodes to zeros in every type (no NaN from a zero scale). */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
    void zerosStayZero(GgmlType type) {
        float[] x = new float[512];
        float[] back = new float[512];
        Dequant.row(type, MemorySegment.ofArray(Dequant.quantize(type, x, 0, 512)), 0, back, 0, 512);
        for (float v : back) assertEquals(0f, v, 0f);
    }

    @Test
    void computableTypes() {
        var expected = EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1,
                GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.IQ4_NL, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K,
                GgmlType.Q6_K, GgmlType.IQ4_XS);
        for (GgmlType t : GgmlType.values()) assertEquals(expected.contains(t), t.computable(), t.name());
        assertEquals("F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16", GgmlType.computableNames());
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ3_S", "IQ2_S", "IQ1_M", "TQ1_0", "TQ2_0", "MXFP4", "Q8_1", "Q8_K"})
    void unsupportedTypesGiveOneLineNamingTensorAndType(GgmlType type) {
        var e = assertThrows(UnsupportedTypeException.class, () -> Dequant.requireComputable(type, "blk.3.ffn_down.weight"));
        assertTrue(e.getMessage().startsWith("unsupported type " + type + " for tensor 'blk.3.ffn_down.weight'"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertThrows(UnsupportedTypeException.class, () -> Dequant.row(type, MemorySegment.ofArray(new byte[4096]), 0, new float[256], 0, 256));
    }

    /** The check a backend that computes fewer types makes: the message names the backend and what it computes. */
    @Test
    void aBackendsOwnSubsetIsNamed() {
        var gpu = EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.Q8_0);
        Dequant.requireComputable(GgmlType.Q8_0, "w", "the OpenCL backend", gpu);
        var e = assertThrows(UnsupportedTypeException.class, () -> Dequant.requireComputable(GgmlType.Q4_K, "blk.0.attn_q.weight", "the OpenCL backend", gpu));
        assertEquals("unsupported type Q4_K for tensor 'blk.0.attn_q.weight' on the OpenCL backend, which computes with F32, F16, Q8_0"
                + " (the CPU backend computes Q4_K)", e.getMessage());
        var e2 = assertThrows(UnsupportedTypeException.class, () -> Dequant.requireComputable(GgmlType.IQ2_XXS, "x", "the OpenCL backend", gpu));
        assertTrue(e2.getMessage().startsWith("unsupported type IQ2_XXS for tensor 'x': InferCL computes with"), e2.getMessage());
    }
}
