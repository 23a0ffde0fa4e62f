package dev.infercl.tensor;

import dev.infercl.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar codecs of the weight types InferCL computes with, straight from their definitions. These are the
 * reference: fast paths (Vector API, OpenCL) are tested against them.
 *
 * <ul>
 *   <li>F16: IEEE binary16. BF16: the upper 16 bits of an IEEE float32.</li>
 *   <li>Q8_0: blocks of 32 values, 34 bytes: F16 scale d, then 32 int8 q; value = q·d.</li>
 *   <li>Q4_0: blocks of 32 values, 18 bytes: F16 scale d, then 16 bytes whose low nibbles are values 0–15
 *       and high nibbles values 16–31; value = (nibble − 8)·d.</li>
 * </ul>
 */
public final class Dequant {
    private Dequant() {}

    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static float f16(short bits) {
        return Float.float16ToFloat(bits);
    }

    public static float bf16(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** Round-to-nearest-even BF16 of a float (NaN stays NaN). */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** Throws the project's one "unsupported type" error for types that are recognised but not computed with. */
    public static void requireComputable(GgmlType type, String tensorName) {
        if (!type.computable()) {
            throw new UnsupportedTypeException(tensorName, type);
        }
    }

    /**
     * Decodes {@code n} values starting at element {@code first} of a tensor of {@code type} stored at
     * {@code seg} into {@code dst[dstOff..]}. {@code first} and {@code n} must be block-aligned.
     */
    public static void row(GgmlType type, MemorySegment seg, long first, float[] dst, int dstOff, int n) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = seg.get(F32, (first + i) * 4);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = f16(seg.get(I16, (first + i) * 2));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = bf16(seg.get(I16, (first + i) * 2));
            }
            case Q8_0 -> {
                long block0 = first / 32;
                for (int b = 0; b < n / 32; b++) {
                    long base = (block0 + b) * 34;
                    float d = f16(seg.get(I16, base));
                    for (int j = 0; j < 32; j++) {
                        dst[dstOff + b * 32 + j] = seg.get(ValueLayout.JAVA_BYTE, base + 2 + j) * d;
                    }
                }
            }
            case Q4_0 -> {
                long block0 = first / 32;
                for (int b = 0; b < n / 32; b++) {
                    long base = (block0 + b) * 18;
                    float d = f16(seg.get(I16, base));
                    for (int j = 0; j < 16; j++) {
                        int q = seg.get(ValueLayout.JAVA_BYTE, base + 2 + j) & 0xff;
                        dst[dstOff + b * 32 + j] = ((q & 0x0f) - 8) * d;
                        dst[dstOff + b * 32 + j + 16] = ((q >>> 4) - 8) * d;
                    }
                }
            }
            default -> throw new UnsupportedTypeException("tensor", type);
        }
    }

    /** C's roundf, which GGML rounds with: halves go away from zero (Java's Math.round rounds them up). */
    private static int roundHalfAway(float v) {
        int a = (int) Math.floor(Math.abs(v) + 0.5);
        return v < 0 ? -a : a;
    }

    /** Quantizes {@code n} floats (a multiple of 32) to Q8_0 blocks as GGML does: d = max|x|/127, q = roundf(x/d). */
    public static byte[] quantizeQ8_0(float[] src, int off, int n) {
        byte[] out = new byte[n / 32 * 34];
        for (int b = 0; b < n / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[off + b * 32 + j]));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            short dh = Float.floatToFloat16(d);
            out[b * 34] = (byte) dh;
            out[b * 34 + 1] = (byte) (dh >> 8);
            for (int j = 0; j < 32; j++) out[b * 34 + 2 + j] = (byte) roundHalfAway(src[off + b * 32 + j] * id);
        }
        return out;
    }

    /**
     * Quantizes {@code n} floats (a multiple of 32) to Q4_0 blocks as GGML does: the value of largest
     * magnitude maps to −8, d = max/−8, nibble = clamp(round(x/d) + 8, 0, 15).
     */
    public static byte[] quantizeQ4_0(float[] src, int off, int n) {
        byte[] out = new byte[n / 32 * 18];
        for (int b = 0; b < n / 32; b++) {
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) {
                float v = src[off + b * 32 + j];
                if (Math.abs(v) > amax) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            short dh = Float.floatToFloat16(d);
            out[b * 18] = (byte) dh;
            out[b * 18 + 1] = (byte) (dh >> 8);
            for (int j = 0; j < 16; j++) {
                int lo = Math.min(15, (int) (src[off + b * 32 + j] * id + 8.5f));
                int hi = Math.min(15, (int) (src[off + b * 32 + j + 16] * id + 8.5f));
                out[b * 18 + 2 + j] = (byte) (lo | (hi << 4));
            }
        }
        return out;
    }
}
