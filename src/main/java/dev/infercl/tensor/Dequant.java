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
 *   <li>Q4_1, Q5_0, Q5_1, IQ4_NL (blocks of 32) and the K types Q2_K–Q6_K, IQ4_XS (super-blocks of 256): ggml's
 *       layouts (ggml-common.h), decoded with the float operations of ggml's dequantize_row_* in the same order,
 *       so that a tensor decodes to the values llama.cpp computes with, bit for bit. Each type's method below
 *       describes its block.</li>
 * </ul>
 */
public final class Dequant {
    private Dequant() {}

    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

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
     * The same check for a backend that computes only the types in {@code supported} (a subset of the computable
     * ones): a type outside it gets the one-line error naming the tensor, the type, {@code backend} and what it
     * computes.
     */
    public static void requireComputable(GgmlType type, String tensorName, String backend, java.util.Set<GgmlType> supported) {
        requireComputable(type, tensorName);
        if (!supported.contains(type)) throw new UnsupportedTypeException(tensorName, type, backend, supported);
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
            default -> {
                if (!type.computable() || type.blockSize == 1) throw new UnsupportedTypeException("tensor", type);
                long block0 = first / type.blockSize;
                for (int b = 0; b < n / type.blockSize; b++) {
                    block(type, seg, (block0 + b) * type.typeSize, dst, dstOff + b * type.blockSize);
                }
            }
        }
    }

    /** The 16 values of IQ4_NL and IQ4_XS, which a 4-bit index selects (ggml's kvalues_iq4nl). */
    public static final byte[] IQ4_VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    /**
     * One block at byte offset {@code b} into {@code y[o..o + blockSize)}, as ggml's dequantize_row_* computes it
     * (the same float operations in the same order, so the results equal llama.cpp's bit for bit).
     */
    private static void block(GgmlType type, MemorySegment s, long b, float[] y, int o) {
        switch (type) {
            case Q8_0 -> {
                float d = f16(s.get(I16, b));
                for (int j = 0; j < 32; j++) y[o + j] = s.get(ValueLayout.JAVA_BYTE, b + 2 + j) * d;
            }
            case Q4_0 -> {
                float d = f16(s.get(I16, b));
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, b + 2 + j);
                    y[o + j] = ((q & 0x0f) - 8) * d;
                    y[o + j + 16] = ((q >>> 4) - 8) * d;
                }
            }
            case Q4_1 -> { // d, m, 16 bytes of nibbles: value = q·d + m
                float d = f16(s.get(I16, b)), m = f16(s.get(I16, b + 2));
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, b + 4 + j);
                    y[o + j] = (q & 0x0f) * d + m;
                    y[o + j + 16] = (q >>> 4) * d + m;
                }
            }
            case Q5_0, Q5_1 -> { // d, [m], qh (uint32: bit j is the fifth bit of value j), 16 bytes of nibbles
                boolean min = type == GgmlType.Q5_1;
                float d = f16(s.get(I16, b)), m = min ? f16(s.get(I16, b + 2)) : 0f;
                long qs = b + (min ? 8 : 6);
                int qh = s.get(I32, qs - 4);
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, qs + j);
                    int lo = (q & 0x0f) | ((qh >>> j) & 1) << 4, hi = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
                    if (min) {
                        y[o + j] = lo * d + m;
                        y[o + j + 16] = hi * d + m;
                    } else {
                        y[o + j] = (lo - 16) * d;
                        y[o + j + 16] = (hi - 16) * d;
                    }
                }
            }
            case IQ4_NL -> { // d, 16 bytes of 4-bit indices into IQ4_VALUES (low nibbles values 0–15, high 16–31)
                float d = f16(s.get(I16, b));
                for (int j = 0; j < 16; j++) {
                    int q = u8(s, b + 2 + j);
                    y[o + j] = d * IQ4_VALUES[q & 0x0f];
                    y[o + j + 16] = d * IQ4_VALUES[q >>> 4];
                }
            }
            case Q2_K -> q2K(s, b, y, o);
            case Q3_K -> q3K(s, b, y, o);
            case Q4_K, Q5_K -> q45K(s, b, y, o, type == GgmlType.Q5_K);
            case Q6_K -> q6K(s, b, y, o);
            case IQ4_XS -> iq4Xs(s, b, y, o);
            default -> throw new UnsupportedTypeException("tensor", type);
        }
    }

    /**
     * Q2_K, 84 bytes: scales[16] (low nibble: scale, high nibble: min, one per 16 values), qs[64] (2-bit values),
     * then d and dmin (F16). Each 128-value half reads 32 bytes of qs four times, at shifts 0, 2, 4, 6; each pass
     * gives two groups of 16 values: value = d·scale·q − dmin·min.
     */
    private static void q2K(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s.get(I16, b + 80)), dmin = f16(s.get(I16, b + 82));
        int is = 0;
        for (int n = 0; n < 2; n++) {
            long q = b + 16 + 32L * n;
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    int sc = u8(s, b + is++);
                    float dl = d * (sc & 0x0f), ml = dmin * (sc >>> 4);
                    for (int l = 0; l < 16; l++) y[o++] = dl * ((u8(s, q + 16 * half + l) >>> shift) & 3) - ml;
                }
            }
        }
    }

    /**
     * Q3_K, 110 bytes: hmask[32] (the third bit), qs[64] (the low 2 bits, laid out as Q2_K's), scales[12] (16 6-bit
     * scales, see {@link #q3KScale}), then d (F16). value = d·(scale − 32)·(low − (high bit clear ? 4 : 0)); the high
     * bit of value 32·k + l (l < 32) is bit k of hmask[l].
     */
    private static void q3K(MemorySegment s, long b, float[] y, int o) {
        float dAll = f16(s.get(I16, b + 108));
        int is = 0, bit = 0;
        for (int n = 0; n < 2; n++) {
            long q = b + 32 + 32L * n;
            for (int shift = 0; shift < 8; shift += 2, bit++) {
                for (int half = 0; half < 2; half++) {
                    float dl = dAll * (q3KScale(s, b + 96, is++) - 32);
                    for (int l = 16 * half; l < 16 * half + 16; l++) {
                        int low = (u8(s, q + l) >>> shift) & 3;
                        y[o++] = dl * (low - ((u8(s, b + l) >>> bit & 1) != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    /**
     * Scale {@code j} (0–15, unsigned 6-bit) of a Q3_K block from its 12 scale bytes at {@code sc}: the low 4 bits
     * are the low (j < 8) or high (j ≥ 8) nibble of byte j mod 8, the high 2 bits are bits 2·(j / 4) of byte
     * 8 + j mod 4. (ggml's kmask shuffle of three uint32 words computes the same 16 bytes.)
     */
    public static int q3KScale(MemorySegment s, long sc, int j) {
        int low = j < 8 ? u8(s, sc + j) & 0x0f : u8(s, sc + j - 8) >>> 4;
        int high = (u8(s, sc + 8 + j % 4) >>> (2 * (j / 4))) & 3;
        return low | high << 4;
    }

    /**
     * Q4_K (144 bytes: d, dmin, scales[12], qs[128]) and Q5_K (176 bytes: d, dmin, scales[12], qh[32], qs[128]):
     * eight groups of 32 values, each with a 6-bit scale and a 6-bit min ({@link #kScale}, {@link #kMin}). Each
     * 64 values read 32 bytes of qs: low nibbles are group 2c, high nibbles group 2c+1; Q5_K's fifth bit of value
     * 32·g + l is bit g of qh[l]. value = d·scale·q − dmin·min.
     */
    private static void q45K(MemorySegment s, long b, float[] y, int o, boolean five) {
        float d = f16(s.get(I16, b)), dmin = f16(s.get(I16, b + 2));
        long qs = b + (five ? 48 : 16), qh = b + 16;
        for (int c = 0; c < 4; c++) {
            float d1 = d * kScale(s, b + 4, 2 * c), m1 = dmin * kMin(s, b + 4, 2 * c);
            float d2 = d * kScale(s, b + 4, 2 * c + 1), m2 = dmin * kMin(s, b + 4, 2 * c + 1);
            for (int l = 0; l < 32; l++) {
                int q = u8(s, qs + 32L * c + l), h = five ? u8(s, qh + l) : 0;
                y[o + 64 * c + l] = d1 * ((q & 0x0f) + ((h >>> (2 * c)) & 1) * 16) - m1;
                y[o + 64 * c + 32 + l] = d2 * ((q >>> 4) + ((h >>> (2 * c + 1)) & 1) * 16) - m2;
            }
        }
    }

    /**
     * Scale {@code j} (0–7) of a Q4_K/Q5_K block from its 12 scale bytes at {@code sc} (ggml's get_scale_min_k4):
     * for j &lt; 4 the low 6 bits of byte j; otherwise the low nibble of byte j + 4 and, as bits 4–5, the top two
     * bits of byte j − 4.
     */
    public static int kScale(MemorySegment s, long sc, int j) {
        return j < 4 ? u8(s, sc + j) & 63 : (u8(s, sc + j + 4) & 0x0f) | (u8(s, sc + j - 4) >>> 6) << 4;
    }

    /** Min {@code j} (0–7): for j &lt; 4 the low 6 bits of byte j + 4; otherwise the high nibble of byte j + 4 and the top two bits of byte j. */
    public static int kMin(MemorySegment s, long sc, int j) {
        return j < 4 ? u8(s, sc + j + 4) & 63 : (u8(s, sc + j + 4) >>> 4) | (u8(s, sc + j) >>> 6) << 4;
    }

    /**
     * Q6_K, 210 bytes: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8, one per 16 values), then d
     * (F16) last. In each 128-value half (64 bytes of ql, 32 of qh, 8 scales), value 32·k + l (k < 4, l < 32) is
     * the low (k < 2) or high nibble of ql[l + 32·(k mod 2)] with bits 2k..2k+1 of qh[l] on top, and scale
     * l / 16 + 2k: value = d·scale·(q − 32).
     */
    private static void q6K(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s.get(I16, b + 208));
        for (int n = 0; n < 2; n++) {
            long ql = b + 64L * n, qh = b + 128 + 32L * n, sc = b + 192 + 8L * n;
            for (int l = 0; l < 32; l++) {
                int is = l / 16, a = u8(s, ql + l), c = u8(s, ql + 32 + l), h = u8(s, qh + l);
                int q1 = ((a & 0x0f) | (h & 3) << 4) - 32;
                int q2 = ((c & 0x0f) | ((h >>> 2) & 3) << 4) - 32;
                int q3 = ((a >>> 4) | ((h >>> 4) & 3) << 4) - 32;
                int q4 = ((c >>> 4) | ((h >>> 6) & 3) << 4) - 32;
                y[o + 128 * n + l] = d * s.get(ValueLayout.JAVA_BYTE, sc + is) * q1;
                y[o + 128 * n + l + 32] = d * s.get(ValueLayout.JAVA_BYTE, sc + is + 2) * q2;
                y[o + 128 * n + l + 64] = d * s.get(ValueLayout.JAVA_BYTE, sc + is + 4) * q3;
                y[o + 128 * n + l + 96] = d * s.get(ValueLayout.JAVA_BYTE, sc + is + 6) * q4;
            }
        }
    }

    /**
     * IQ4_XS, 136 bytes: d (F16), scales_h (uint16), scales_l[4], qs[128]. Group ib (32 values) has the 6-bit scale
     * ls = nibble ib mod 2 of scales_l[ib / 2] | bits 2·ib..2·ib+1 of scales_h as bits 4–5, and 16 bytes of qs
     * laid out as IQ4_NL's; value = d·(ls − 32)·IQ4_VALUES[index].
     */
    private static void iq4Xs(MemorySegment s, long b, float[] y, int o) {
        float d = f16(s.get(I16, b));
        int scalesH = s.get(I16, b + 2) & 0xffff;
        for (int ib = 0; ib < 8; ib++) {
            int ls = ((u8(s, b + 4 + ib / 2) >>> (4 * (ib % 2))) & 0x0f) | ((scalesH >>> (2 * ib)) & 3) << 4;
            float dl = d * (ls - 32);
            for (int j = 0; j < 16; j++) {
                int q = u8(s, b + 8 + 16L * ib + j);
                y[o + 32 * ib + j] = dl * IQ4_VALUES[q & 0x0f];
                y[o + 32 * ib + j + 16] = dl * IQ4_VALUES[q >>> 4];
            }
        }
    }

    private static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xff;
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

    /**
     * {@code n} floats (a multiple of the type's block size) as blocks of {@code type}, for the block types
     * {@link #row} decodes, as llama-quantize writes them without an importance matrix: Q8_0, Q4_0, Q4_1, Q5_0 and
     * Q5_1 by ggml's reference quantizers, Q2_K–Q6_K by quantize_row_q*_K_ref (searching each sub-block's scale and
     * min), IQ4_NL and IQ4_XS by quantize_iq4_nl / quantize_iq4_xs. The bytes equal llama.cpp's for the same floats.
     */
    public static byte[] quantize(GgmlType type, float[] src, int off, int n) {
        if (n % type.blockSize != 0) throw new IllegalArgumentException(n + " values is not a multiple of " + type + "'s block size");
        if (type == GgmlType.Q8_0) return quantizeQ8_0(src, off, n);
        if (type == GgmlType.Q4_0) return quantizeQ4_0(src, off, n);
        byte[] out = new byte[(int) type.byteSize(n)];
        var seg = MemorySegment.ofArray(out);
        for (int b = 0; b < n / type.blockSize; b++) {
            long base = (long) b * type.typeSize;
            int x = off + b * type.blockSize;
            switch (type) {
                case Q4_1 -> quantizeQ4_1(src, x, seg, base);
                case Q5_0, Q5_1 -> quantizeQ5(src, x, seg, base, type == GgmlType.Q5_1);
                case IQ4_NL -> quantizeIq4(src, x, seg, base, 32);
                case IQ4_XS -> quantizeIq4(src, x, seg, base, 256);
                case Q2_K -> quantizeQ2K(src, x, seg, base);
                case Q3_K -> quantizeQ3K(src, x, seg, base);
                case Q4_K, Q5_K -> quantizeQ45K(src, x, seg, base, type == GgmlType.Q5_K);
                case Q6_K -> quantizeQ6K(src, x, seg, base);
                default -> throw new IllegalArgumentException("no quantizer for " + type);
            }
        }
        return out;
    }

    /** ggml's quantize_row_q4_1_ref: d = (max − min)/15, m = min, q = min(15, trunc((x − min)/d + 0.5)). */
    private static void quantizeQ4_1(float[] x, int o, MemorySegment y, long b) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) { // comparisons as in C (Math.min would prefer −0 to 0 and change the stored sign)
            if (x[o + j] < min) min = x[o + j];
            if (x[o + j] > max) max = x[o + j];
        }
        float d = (max - min) / 15, id = d != 0 ? 1f / d : 0f;
        y.set(I16, b, Float.floatToFloat16(d));
        y.set(I16, b + 2, Float.floatToFloat16(min));
        for (int j = 0; j < 16; j++) {
            int lo = Math.min(15, (int) ((x[o + j] - min) * id + 0.5f)), hi = Math.min(15, (int) ((x[o + j + 16] - min) * id + 0.5f));
            y.set(ValueLayout.JAVA_BYTE, b + 4 + j, (byte) (lo | hi << 4));
        }
    }

    /**
     * ggml's quantize_row_q5_0_ref (the value of largest magnitude maps to −16, d = max/−16, q = min(31, trunc(x/d +
     * 16.5))) and quantize_row_q5_1_ref (d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5)).
     */
    private static void quantizeQ5(float[] x, int o, MemorySegment y, long b, boolean withMin) {
        float d, id, min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        if (withMin) {
            for (int j = 0; j < 32; j++) {
                if (x[o + j] < min) min = x[o + j];
                if (x[o + j] > max) max = x[o + j];
            }
            d = (max - min) / 31;
            y.set(I16, b + 2, Float.floatToFloat16(min));
        } else {
            float amax = 0;
            max = 0;
            for (int j = 0; j < 32; j++) {
                if (Math.abs(x[o + j]) > amax) {
                    amax = Math.abs(x[o + j]);
                    max = x[o + j];
                }
            }
            d = max / -16; // −0 for an all-zero block, as ggml stores it
        }
        id = d != 0 ? 1f / d : 0f;
        y.set(I16, b, Float.floatToFloat16(d));
        int qh = 0;
        long qs = b + (withMin ? 8 : 6);
        for (int j = 0; j < 16; j++) {
            int lo = withMin ? (int) ((x[o + j] - min) * id + 0.5f) : Math.min(31, (int) (x[o + j] * id + 16.5f));
            int hi = withMin ? (int) ((x[o + j + 16] - min) * id + 0.5f) : Math.min(31, (int) (x[o + j + 16] * id + 16.5f));
            y.set(ValueLayout.JAVA_BYTE, qs + j, (byte) ((lo & 0x0f) | (hi & 0x0f) << 4));
            qh |= (lo >>> 4 & 1) << j | (hi >>> 4 & 1) << (j + 16);
        }
        y.set(I32, qs - 4, qh);
    }

    // ---- ggml's quantizers without an importance matrix ----------------------------------------------------------
    //
    // What llama-quantize runs for each row when it has no importance matrix (ggml-quants.c: quantize_row_q2_K_ref …
    // quantize_row_q6_K_ref, and quantize_iq4_nl / quantize_iq4_xs with quant_weights NULL). Every float operation
    // is written in C's order of evaluation with C's conversions (int to float, float to uint8/int8 by truncation
    // of the int), because llama.cpp's build of these functions uses plain SSE arithmetic without FMA contraction:
    // the same IEEE single-precision steps give the same scales, the same searches and so the same bytes.

    /** ggml's GROUP_MAX_EPS: a group whose largest magnitude is below it is treated as all zero. */
    private static final float GROUP_MAX_EPS = 1e-15f;

    /**
     * ggml's nearest_int: adding 1.5·2²³ leaves the rounded integer (halves to even) in the low mantissa bits. Exact
     * for |v| ≤ 2²² − 1, as ggml asserts; beyond that it returns what ggml's bit pattern gives, for the same bytes.
     */
    static int nearestInt(float v) {
        return (Float.floatToRawIntBits(v + 12582912f) & 0x007fffff) - 0x00400000;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    private static float sqrtf(float v) {
        return (float) Math.sqrt(v);   // the double square root rounded once more is the correctly rounded float one
    }

    private static float halfRound(float v) {
        return f16(Float.floatToFloat16(v));
    }

    /**
     * ggml's make_qkx2_quants: an affine fit x ≈ scale·L − min (L in 0..nmax, min ≥ 0) of the {@code n} values at
     * x[xo..], weighted by w; starts from the full range, then tries nstep + 1 other inverse scales
     * (rmin + rdelta·is + nmax)/(max − min) with a weighted least-squares scale and offset for each, keeping the one
     * of least weighted error (absolute with useMad, squared otherwise). Writes L[lo..lo+n) and mins[jm] = min;
     * returns the scale.
     */
    private static float makeQkx2(int n, int nmax, float[] x, int xo, float[] w, byte[] L, int lo, float[] mins, int jm,
                                  byte[] laux, float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[xo], max = x[xo];
        float sumW = w[0], sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float xi = x[xo + i];
            if (xi < min) min = xi;
            if (xi > max) max = xi;
            sumW += w[i];
            sumX += w[i] * xi;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            mins[jm] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp(nearestInt(iscale * (x[xo + i] - min)), 0, nmax);
            L[lo + i] = (byte) l;
            float diff = scale * l + min - x[xo + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += w[i] * diff;
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXl = 0;
            for (int i = 0; i < n; i++) {
                int l = clamp(nearestInt(iscale * (x[xo + i] - min)), 0, nmax);
                laux[i] = (byte) l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXl += w[i] * l * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXl - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXl) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXl / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * laux[i] + thisMin - x[xo + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    error += w[i] * diff;
                }
                if (error < bestError) {
                    System.arraycopy(laux, 0, L, lo, n);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        mins[jm] = -min;
        return scale;
    }

    /**
     * ggml's make_qx_quants with rmse_type 1 and no importance weights: a symmetric fit x ≈ scale·(L − nmax), L in
     * 0..2·nmax − 1, weighted by x²; the value of largest magnitude maps to −nmax, then 18 other inverse scales
     * −(nmax + 0.1·is)/max (is = −9..9) are tried and the one of largest Σwxl²/Σwl² kept. Returns the scale.
     */
    private static float makeQx(int n, int nmax, float[] x, int xo, byte[] L, int lo) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = clamp(nearestInt(iscale * xi), -nmax, nmax - 1);
            L[lo + i] = (byte) (l + nmax);
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = clamp(nearestInt(iscale * xi), -nmax, nmax - 1);
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) L[lo + i] = (byte) (nmax + clamp(nearestInt(iscale * x[xo + i]), -nmax, nmax - 1));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /**
     * ggml's make_q3_quants with do_rmse: the symmetric start of {@link #makeQx} (L in −nmax..nmax − 1), then up to five
     * passes that move single values to the level that raises (Σwxl)²/Σwl² (w = x²). Writes L + nmax; returns the scale.
     */
    private static float makeQ3(int n, int nmax, float[] x, int xo, byte[] L, int lo) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = clamp(nearestInt(iscale * xi), -nmax, nmax - 1);
            L[lo + i] = (byte) l;
            float w = xi * xi;
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; itry++) {
            int changed = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i], w = xi * xi;
                int li = L[lo + i];
                float slx = sumlx - w * xi * li;
                if (slx > 0) {
                    float sl2 = suml2 - w * li * li;
                    int newL = clamp(nearestInt(xi * sl2 / slx), -nmax, nmax - 1);
                    if (newL != li) {
                        slx += w * xi * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[lo + i] = (byte) newL;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        for (int i = 0; i < n; i++) L[lo + i] += (byte) nmax;
        return suml2 > 0 ? sumlx / suml2 : 0f;
    }

    /** 256 2-bit values into 64 bytes: byte 32·n + l holds value 128·n + 32·g + l at bits 2g..2g+1. */
    private static void pack2Bits(byte[] q, MemorySegment y, long qs) {
        for (int n = 0; n < 2; n++) {
            for (int l = 0; l < 32; l++) {
                int v = q[128 * n + l] | q[128 * n + l + 32] << 2 | q[128 * n + l + 64] << 4 | q[128 * n + l + 96] << 6;
                y.set(ValueLayout.JAVA_BYTE, qs + 32L * n + l, (byte) v);
            }
        }
    }

    /**
     * ggml's quantize_row_q2_K_ref: each group of 16 gets an affine fit ({@link #makeQkx2}: 2 bits, weights |x|,
     * rmin −0.5, rdelta 0.1, 15 steps, absolute error); d and dmin are the largest scale and min over 15, each group
     * stores nearest_int of its scale and min on those steps as two nibbles, and the values are re-rounded to the
     * stored scale and min.
     */
    private static void quantizeQ2K(float[] x, int o, MemorySegment y, long b) {
        byte[] L = new byte[256], laux = new byte[16];
        float[] w = new float[16], mins = new float[16], scales = new float[16];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) w[l] = Math.abs(x[o + 16 * j + l]);
            scales[j] = makeQkx2(16, 3, x, o + 16 * j, w, L, 16 * j, mins, j, laux, -0.5f, 0.1f, 15, true);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        int[] sc = new int[16];
        short d = 0, dmin = 0;
        if (maxScale > 0) {
            float iscale = 15f / maxScale;
            for (int j = 0; j < 16; j++) sc[j] = nearestInt(iscale * scales[j]) & 0xff;
            d = Float.floatToFloat16(maxScale / 15f);
        }
        if (maxMin > 0) {
            float iscale = 15f / maxMin;
            for (int j = 0; j < 16; j++) sc[j] = (sc[j] | nearestInt(iscale * mins[j]) << 4) & 0xff;
            dmin = Float.floatToFloat16(maxMin / 15f);
        }
        for (int j = 0; j < 16; j++) {
            y.set(ValueLayout.JAVA_BYTE, b + j, (byte) sc[j]);
            float dl = f16(d) * (sc[j] & 0x0f);
            if (dl == 0) continue;
            float ml = f16(dmin) * (sc[j] >> 4);
            for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = (byte) clamp(nearestInt((x[o + 16 * j + ii] + ml) / dl), 0, 3);
        }
        y.set(I16, b + 80, d);
        y.set(I16, b + 82, dmin);
        pack2Bits(L, y, b + 16);
    }

    /**
     * ggml's quantize_row_q3_K_ref: each group of 16 gets a symmetric 3-bit fit ({@link #makeQ3}); the group scale of
     * largest magnitude maps to −32, d = its scale/−32 (stored as 1/iscale), each group stores nearest_int of its
     * scale on that step + 32 in 6 bits, and the values are re-rounded to the stored scale. The third bit of value j
     * goes to bit j / 32 of hmask[j mod 32].
     */
    private static void quantizeQ3K(float[] x, int o, MemorySegment y, long b) {
        byte[] L = new byte[256];
        float[] scales = new float[16];
        float maxScale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = makeQ3(16, 4, x, o + 16 * j, L, 16 * j);
            float scale = Math.abs(scales[j]);
            if (scale > amax) {
                amax = scale;
                maxScale = scales[j];
            }
        }
        byte[] sc = new byte[12];
        short d = 0;
        if (maxScale != 0) {
            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; j++) {
                int l = clamp((byte) nearestInt(iscale * scales[j]), -32, 31) + 32;   // C stores nearest_int in an int8_t first
                if (j < 8) sc[j] = (byte) (l & 0x0f);
                else sc[j - 8] |= (byte) ((l & 0x0f) << 4);
                sc[j % 4 + 8] |= (byte) ((l >> 4) << (2 * (j / 4)));
            }
            d = Float.floatToFloat16(1 / iscale);
        }
        for (int j = 0; j < 16; j++) {
            int s = j < 8 ? sc[j] & 0x0f : (sc[j - 8] & 0xff) >> 4;
            s = (s | ((sc[8 + j % 4] & 0xff) >> (2 * (j / 4)) & 3) << 4) - 32;
            float dl = f16(d) * s;
            if (dl == 0) continue;
            for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = (byte) (clamp(nearestInt(x[o + 16 * j + ii] / dl), -4, 3) + 4);
        }
        for (int j = 0; j < 256; j++) {
            if (L[j] > 3) {
                long hm = b + j % 32;
                y.set(ValueLayout.JAVA_BYTE, hm, (byte) (y.get(ValueLayout.JAVA_BYTE, hm) | 1 << (j / 32)));
                L[j] -= 4;
            }
        }
        pack2Bits(L, y, b + 32);
        MemorySegment.copy(MemorySegment.ofArray(sc), 0, y, b + 96, 12);
        y.set(I16, b + 108, d);
    }

    /**
     * ggml's quantize_row_q4_K_ref and quantize_row_q5_K_ref: each group of 32 gets an affine fit ({@link #makeQkx2}:
     * weights √(mean x²) + |x|; Q4_K rmin −1, 20 steps; Q5_K rmin −0.5, 15 steps; rdelta 0.1, squared error); d and
     * dmin are the largest scale and min over 63, each group stores nearest_int of its scale and min on those steps
     * in 6 bits (packed as {@link #kScale}/{@link #kMin} read them), and the values are re-rounded to the stored
     * scale and min.
     */
    private static void quantizeQ45K(float[] x, int o, MemorySegment y, long b, boolean five) {
        int nmax = five ? 31 : 15;
        byte[] L = new byte[256], laux = new byte[32];
        float[] w = new float[32], mins = new float[8], scales = new float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[o + 32 * j + l] * x[o + 32 * j + l];
            float avX = sqrtf(sumX2 / 32);
            for (int l = 0; l < 32; l++) w[l] = avX + Math.abs(x[o + 32 * j + l]);
            scales[j] = five ? makeQkx2(32, 31, x, o + 32 * j, w, L, 32 * j, mins, j, laux, -0.5f, 0.1f, 15, false)
                             : makeQkx2(32, 15, x, o + 32 * j, w, L, 32 * j, mins, j, laux, -1f, 0.1f, 20, false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f, invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte[] sc = new byte[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xff), lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xff);
            if (j < 4) {
                sc[j] = (byte) ls;
                sc[j + 4] = (byte) lm;
            } else {
                sc[j + 4] = (byte) ((ls & 0x0f) | (lm & 0x0f) << 4);
                sc[j - 4] |= (byte) ((ls >> 4) << 6);
                sc[j] |= (byte) ((lm >> 4) << 6);
            }
        }
        short d = Float.floatToFloat16(maxScale / 63f), dmin = Float.floatToFloat16(maxMin / 63f);
        var scSeg = MemorySegment.ofArray(sc);
        for (int j = 0; j < 8; j++) {
            float dl = f16(d) * kScale(scSeg, 0, j);
            if (dl == 0) continue;
            float ml = f16(dmin) * kMin(scSeg, 0, j);
            for (int ii = 0; ii < 32; ii++) L[32 * j + ii] = (byte) clamp(nearestInt((x[o + 32 * j + ii] + ml) / dl), 0, nmax);
        }
        y.set(I16, b, d);
        y.set(I16, b + 2, dmin);
        MemorySegment.copy(scSeg, 0, y, b + 4, 12);
        long qs = b + (five ? 48 : 16);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                y.set(ValueLayout.JAVA_BYTE, qs + 32L * c + l, (byte) ((lo & 0x0f) | (hi & 0x0f) << 4));
                if (five) {
                    long qh = b + 16 + l;
                    y.set(ValueLayout.JAVA_BYTE, qh, (byte) (y.get(ValueLayout.JAVA_BYTE, qh) | (lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1)));
                }
            }
        }
    }

    /**
     * ggml's quantize_row_q6_K_ref: each group of 16 gets a symmetric 6-bit fit ({@link #makeQx}, nmax 32); the group
     * scale of largest magnitude maps to −128, d = its scale/−128 (stored as 1/iscale), each group stores
     * min(127, nearest_int of its scale on that step) as an int8, and the values are re-rounded to the stored scale.
     * A block whose scales are all below GROUP_MAX_EPS is all zero bytes.
     */
    private static void quantizeQ6K(float[] x, int o, MemorySegment y, long b) {
        byte[] L = new byte[256];
        float[] scales = new float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = makeQx(16, 32, x, o + 16 * ib, L, 16 * ib);
            float abs = Math.abs(scales[ib]);
            if (abs > maxAbsScale) {
                maxAbsScale = abs;
                maxScale = scales[ib];
            }
        }
        if (maxAbsScale < GROUP_MAX_EPS) {
            y.asSlice(b, 210).fill((byte) 0);
            return;
        }
        float iscale = -128f / maxScale;
        short d = Float.floatToFloat16(1 / iscale);
        for (int ib = 0; ib < 16; ib++) y.set(ValueLayout.JAVA_BYTE, b + 192 + ib, (byte) Math.min(127, nearestInt(iscale * scales[ib])));
        for (int j = 0; j < 16; j++) {
            float dl = f16(d) * y.get(ValueLayout.JAVA_BYTE, b + 192 + j);
            if (dl == 0) continue;
            for (int ii = 0; ii < 16; ii++) L[16 * j + ii] = (byte) (clamp(nearestInt(x[o + 16 * j + ii] / dl), -32, 31) + 32);
        }
        for (int n = 0; n < 2; n++) {
            for (int l = 0; l < 32; l++) {
                int q1 = L[128 * n + l], q2 = L[128 * n + l + 32], q3 = L[128 * n + l + 64], q4 = L[128 * n + l + 96];
                y.set(ValueLayout.JAVA_BYTE, b + 64L * n + l, (byte) ((q1 & 0x0f) | (q3 & 0x0f) << 4));
                y.set(ValueLayout.JAVA_BYTE, b + 64L * n + 32 + l, (byte) ((q2 & 0x0f) | (q4 & 0x0f) << 4));
                y.set(ValueLayout.JAVA_BYTE, b + 128 + 32L * n + l, (byte) ((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6));
            }
        }
        y.set(I16, b + 208, d);
    }

    /** ggml's best_index_int8 over IQ4_VALUES: the index of the nearest table value (ties to the upper one). */
    private static int nearestIq4(float v) {
        if (v <= IQ4_VALUES[0]) return 0;
        if (v >= IQ4_VALUES[15]) return 15;
        int ml = 0, mu = 15;
        while (mu - ml > 1) {
            int mav = (ml + mu) / 2;
            if (v < IQ4_VALUES[mav]) mu = mav;
            else ml = mav;
        }
        return v - IQ4_VALUES[mu - 1] < IQ4_VALUES[mu] - v ? mu - 1 : mu;
    }

    /**
     * ggml's quantize_row_iq4_nl_impl as quantize_iq4_nl (superBlock 32, one F16 scale at b, indices at b + 2) and
     * quantize_iq4_xs (superBlock 256: d, scales_h, scales_l[4], indices at b + 8) call it without an importance
     * matrix (weights x², ntry 7): each group of 32 starts from the scale that maps its value of largest magnitude to
     * −127 and tries the 15 inverse scales (itry − 127)/max, keeping the largest (Σwqx)²/Σwq². IQ4_XS then maps the
     * group scale of largest magnitude to −32 (d = that/−32), stores each group's nearest_int on that step + 32 in
     * 6 bits and re-picks the indices for the stored scale; IQ4_NL stores its scale and re-picks the indices for it.
     */
    private static void quantizeIq4(float[] x, int o, MemorySegment y, long b, int superBlock) {
        int nb = superBlock / 32, ntry = 7;
        float[] scales = new float[nb], weight = new float[32];
        byte[] L = new byte[superBlock];
        float maxScale = 0, amaxScale = 0;
        for (int ib = 0; ib < nb; ib++) {
            int xb = o + 32 * ib;
            for (int j = 0; j < 32; j++) weight[j] = x[xb + j] * x[xb + j];
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) {
                float ax = Math.abs(x[xb + j]);
                if (ax > amax) {
                    amax = ax;
                    max = x[xb + j];
                }
            }
            if (amax < GROUP_MAX_EPS) {
                scales[ib] = 0;
                continue;
            }
            float d = -max / IQ4_VALUES[0];
            float id = 1 / d;
            float sumqx = 0, sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                int l = nearestIq4(id * x[xb + j]);
                L[32 * ib + j] = (byte) l;
                float q = IQ4_VALUES[l], w = weight[j];
                sumqx += w * q * x[xb + j];
                sumq2 += w * q * q;
            }
            d = sumqx / sumq2;
            float best = d * sumqx;
            for (int itry = -ntry; itry <= ntry; itry++) {
                id = (itry + IQ4_VALUES[0]) / max;
                sumqx = 0;
                sumq2 = 0;
                for (int j = 0; j < 32; j++) {
                    float q = IQ4_VALUES[nearestIq4(id * x[xb + j])], w = weight[j];
                    sumqx += w * q * x[xb + j];
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            if (Math.abs(d) > amaxScale) {
                amaxScale = Math.abs(d);
                maxScale = d;
            }
        }
        long qs;
        if (nb > 1) {
            float d = -maxScale / 32;
            y.set(I16, b, Float.floatToFloat16(d));
            float id = d != 0 ? 1 / d : 0f;
            int scalesH = 0;
            for (int ib = 0; ib < nb; ib++) {
                int l = clamp(nearestInt(id * scales[ib]), -32, 31);
                float dl = d * l, idl = dl != 0 ? 1 / dl : 0f;
                for (int j = 0; j < 32; j++) L[32 * ib + j] = (byte) nearestIq4(idl * x[o + 32 * ib + j]);
                l += 32;
                long sl = b + 4 + ib / 2;
                int low = ib % 2 == 0 ? l & 0x0f : (y.get(ValueLayout.JAVA_BYTE, sl) & 0x0f) | (l & 0x0f) << 4;
                y.set(ValueLayout.JAVA_BYTE, sl, (byte) low);
                scalesH |= (l >> 4) << (2 * (ib % 8));
            }
            y.set(I16, b + 2, (short) scalesH);
            qs = b + 8;
        } else {
            y.set(I16, b, Float.floatToFloat16(scales[0]));
            float id = scales[0] != 0 ? 1 / scales[0] : 0f;
            for (int j = 0; j < superBlock; j++) L[j] = (byte) nearestIq4(id * x[o + j]);
            qs = b + 2;
        }
        for (int i = 0; i < superBlock / 32; i++) {
            for (int j = 0; j < 16; j++) y.set(ValueLayout.JAVA_BYTE, qs + 16L * i + j, (byte) (L[32 * i + j] | L[32 * i + 16 + j] << 4));
        }
    }
}
