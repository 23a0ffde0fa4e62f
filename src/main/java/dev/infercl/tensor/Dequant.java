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
     * {@link #row} decodes. Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 are quantized as ggml's reference quantizers do (the
     * same bytes as llama-quantize writes without an importance matrix); the K types, IQ4_NL and IQ4_XS by plain
     * round-to-nearest per block and sub-block, which exercises every field of the layout but does not search for
     * the scales that minimise the error as llama.cpp does.
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
                case IQ4_NL -> quantizeIq4Nl(src, x, seg, base);
                case IQ4_XS -> quantizeIq4Xs(src, x, seg, base);
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

    /** IQ4_NL: the value of largest magnitude maps to −127 (d = max/−127); each value takes the nearest table entry. */
    private static void quantizeIq4Nl(float[] x, int o, MemorySegment y, long b) {
        float d = f16(Float.floatToFloat16(signedMax(x, o, 32) / IQ4_VALUES[0]));
        y.set(I16, b, Float.floatToFloat16(d));
        packIq4(x, o, d, y, b + 2);
    }

    /** 32 values at x[o..] as 16 bytes of nearest IQ4_VALUES indices for the scale d (low nibbles: values 0–15). */
    private static void packIq4(float[] x, int o, float d, MemorySegment y, long qs) {
        float id = d != 0 ? 1f / d : 0f;
        for (int j = 0; j < 16; j++) {
            y.set(ValueLayout.JAVA_BYTE, qs + j, (byte) (nearestIq4(x[o + j] * id) | nearestIq4(x[o + j + 16] * id) << 4));
        }
    }

    private static int nearestIq4(float v) {
        int best = 0;
        for (int i = 1; i < 16; i++) if (Math.abs(IQ4_VALUES[i] - v) < Math.abs(IQ4_VALUES[best] - v)) best = i;
        return best;
    }

    /**
     * IQ4_XS: each group of 32 wants the scale s = max/−127 (as IQ4_NL); d = (the s of largest magnitude)/−32, and
     * each group stores round(s/d) + 32 in 6 bits.
     */
    private static void quantizeIq4Xs(float[] x, int o, MemorySegment y, long b) {
        float[] s = new float[8];
        for (int ib = 0; ib < 8; ib++) s[ib] = signedMax(x, o + 32 * ib, 32) / IQ4_VALUES[0];
        float d = f16(Float.floatToFloat16(signedMax(s, 0, 8) / -32));
        y.set(I16, b, Float.floatToFloat16(d));
        int scalesH = 0;
        for (int ib = 0; ib < 8; ib++) {
            int ls = clamp(d != 0 ? Math.round(s[ib] / d) : 0, -32, 31) + 32;
            long sl = b + 4 + ib / 2;
            y.set(ValueLayout.JAVA_BYTE, sl, (byte) (y.get(ValueLayout.JAVA_BYTE, sl) | (ls & 0x0f) << (4 * (ib % 2))));
            scalesH |= (ls >>> 4) << (2 * ib);
            packIq4(x, o + 32 * ib, d * (ls - 32), y, b + 8 + 16L * ib);
        }
        y.set(I16, b + 2, (short) scalesH);
    }

    /**
     * Q2_K: each group of 16 is affine, x ≈ scale·q − min with q in 0–3 (min = −min(0, smallest value)); d and
     * dmin are the largest scale and min over 15, and each group stores its scale and min as 4-bit multiples.
     */
    private static void quantizeQ2K(float[] x, int o, MemorySegment y, long b) {
        float[] scale = new float[16], min = new float[16];
        for (int j = 0; j < 16; j++) affine(x, o + 16 * j, 16, 3, scale, min, j);
        float d = f16(Float.floatToFloat16(max(scale) / 15)), dmin = f16(Float.floatToFloat16(max(min) / 15));
        y.set(I16, b + 80, Float.floatToFloat16(d));
        y.set(I16, b + 82, Float.floatToFloat16(dmin));
        int[] q = new int[256];
        for (int j = 0; j < 16; j++) {
            int ls = clamp(d != 0 ? Math.round(scale[j] / d) : 0, 0, 15), lm = clamp(dmin != 0 ? Math.round(min[j] / dmin) : 0, 0, 15);
            y.set(ValueLayout.JAVA_BYTE, b + j, (byte) (ls | lm << 4));
            float dl = d * ls, ml = dmin * lm;
            for (int l = 0; l < 16; l++) q[16 * j + l] = dl != 0 ? clamp(Math.round((x[o + 16 * j + l] + ml) / dl), 0, 3) : 0;
        }
        pack2Bits(q, y, b + 16);
    }

    /**
     * Q3_K: each group of 16 is symmetric, x ≈ s·q with q in −4..3 (the value of largest magnitude maps to −4);
     * d = (the s of largest magnitude)/−32 and each group stores round(s/d) + 32 in 6 bits.
     */
    private static void quantizeQ3K(float[] x, int o, MemorySegment y, long b) {
        float[] s = new float[16];
        for (int j = 0; j < 16; j++) s[j] = signedMax(x, o + 16 * j, 16) / -4;
        float d = f16(Float.floatToFloat16(signedMax(s, 0, 16) / -32));
        y.set(I16, b + 108, Float.floatToFloat16(d));
        int[] q = new int[256];
        for (int j = 0; j < 16; j++) {
            int ls = clamp(d != 0 ? Math.round(s[j] / d) : 0, -32, 31) + 32;
            long lowByte = b + 96 + j % 8, highByte = b + 96 + 8 + j % 4;
            y.set(ValueLayout.JAVA_BYTE, lowByte, (byte) (y.get(ValueLayout.JAVA_BYTE, lowByte) | (ls & 0x0f) << (j < 8 ? 0 : 4)));
            y.set(ValueLayout.JAVA_BYTE, highByte, (byte) (y.get(ValueLayout.JAVA_BYTE, highByte) | (ls >>> 4) << (2 * (j / 4))));
            float dl = d * (ls - 32);
            for (int l = 0; l < 16; l++) {
                int v = (dl != 0 ? clamp(Math.round(x[o + 16 * j + l] / dl), -4, 3) : 0) + 4;   // 0..7
                q[16 * j + l] = v & 3;
                if (v > 3) {
                    long hm = b + (16 * j + l) % 32;
                    y.set(ValueLayout.JAVA_BYTE, hm, (byte) (y.get(ValueLayout.JAVA_BYTE, hm) | 1 << ((16 * j + l) / 32)));
                }
            }
        }
        pack2Bits(q, y, b + 32);
    }

    /** 256 2-bit values into 64 bytes: byte 32·n + l holds value 128·n + 32·g + l at bits 2g..2g+1. */
    private static void pack2Bits(int[] q, MemorySegment y, long qs) {
        for (int n = 0; n < 2; n++) {
            for (int l = 0; l < 32; l++) {
                int v = q[128 * n + l] | q[128 * n + l + 32] << 2 | q[128 * n + l + 64] << 4 | q[128 * n + l + 96] << 6;
                y.set(ValueLayout.JAVA_BYTE, qs + 32L * n + l, (byte) v);
            }
        }
    }

    /**
     * Q4_K and Q5_K: each group of 32 is affine, x ≈ scale·q − min with q in 0–15 (0–31); d and dmin are the
     * largest scale and min over 63, each group stores its scale and min as 6-bit multiples packed into 12 bytes
     * as {@link #kScale} and {@link #kMin} read them.
     */
    private static void quantizeQ45K(float[] x, int o, MemorySegment y, long b, boolean five) {
        int nmax = five ? 31 : 15;
        float[] scale = new float[8], min = new float[8];
        for (int j = 0; j < 8; j++) affine(x, o + 32 * j, 32, nmax, scale, min, j);
        float d = f16(Float.floatToFloat16(max(scale) / 63)), dmin = f16(Float.floatToFloat16(max(min) / 63));
        y.set(I16, b, Float.floatToFloat16(d));
        y.set(I16, b + 2, Float.floatToFloat16(dmin));
        int[] q = new int[256];
        byte[] sc = new byte[12];
        for (int j = 0; j < 8; j++) {
            int ls = clamp(d != 0 ? Math.round(scale[j] / d) : 0, 0, 63), lm = clamp(dmin != 0 ? Math.round(min[j] / dmin) : 0, 0, 63);
            if (j < 4) {
                sc[j] = (byte) ls;
                sc[j + 4] = (byte) lm;
            } else {
                sc[j + 4] = (byte) ((ls & 0x0f) | (lm & 0x0f) << 4);
                sc[j - 4] |= (byte) ((ls >>> 4) << 6);
                sc[j] |= (byte) ((lm >>> 4) << 6);
            }
            float dl = d * ls, ml = dmin * lm;
            for (int l = 0; l < 32; l++) q[32 * j + l] = dl != 0 ? clamp(Math.round((x[o + 32 * j + l] + ml) / dl), 0, nmax) : 0;
        }
        MemorySegment.copy(MemorySegment.ofArray(sc), 0, y, b + 4, 12);
        long qs = b + (five ? 48 : 16);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
                y.set(ValueLayout.JAVA_BYTE, qs + 32L * c + l, (byte) ((lo & 0x0f) | (hi & 0x0f) << 4));
                if (five) {
                    long qh = b + 16 + l;
                    y.set(ValueLayout.JAVA_BYTE, qh, (byte) (y.get(ValueLayout.JAVA_BYTE, qh) | (lo >>> 4) << (2 * c) | (hi >>> 4) << (2 * c + 1)));
                }
            }
        }
    }

    /**
     * Q6_K: each group of 16 is symmetric, x ≈ s·q with q in −32..31 (the value of largest magnitude maps to −32);
     * d = (the s of largest magnitude)/−128 and each group stores round(s/d) as an int8.
     */
    private static void quantizeQ6K(float[] x, int o, MemorySegment y, long b) {
        float[] s = new float[16];
        for (int j = 0; j < 16; j++) s[j] = signedMax(x, o + 16 * j, 16) / -32;
        float d = f16(Float.floatToFloat16(signedMax(s, 0, 16) / -128));
        y.set(I16, b + 208, Float.floatToFloat16(d));
        int[] q = new int[256];
        for (int j = 0; j < 16; j++) {
            int ls = clamp(d != 0 ? Math.round(s[j] / d) : 0, -128, 127);
            y.set(ValueLayout.JAVA_BYTE, b + 192 + j, (byte) ls);
            float dl = d * ls;
            for (int l = 0; l < 16; l++) q[16 * j + l] = (dl != 0 ? clamp(Math.round(x[o + 16 * j + l] / dl), -32, 31) : 0) + 32;
        }
        for (int n = 0; n < 2; n++) {
            for (int l = 0; l < 32; l++) {
                int q1 = q[128 * n + l], q2 = q[128 * n + l + 32], q3 = q[128 * n + l + 64], q4 = q[128 * n + l + 96];
                y.set(ValueLayout.JAVA_BYTE, b + 64L * n + l, (byte) ((q1 & 0x0f) | (q3 & 0x0f) << 4));
                y.set(ValueLayout.JAVA_BYTE, b + 64L * n + 32 + l, (byte) ((q2 & 0x0f) | (q4 & 0x0f) << 4));
                y.set(ValueLayout.JAVA_BYTE, b + 128 + 32L * n + l, (byte) ((q1 >>> 4) | (q2 >>> 4) << 2 | (q3 >>> 4) << 4 | (q4 >>> 4) << 6));
            }
        }
    }

    /** Group j of n values at x[o..] as x ≈ scale·q − min, q in 0..nmax, min = −min(0, smallest value) ≥ 0. */
    private static void affine(float[] x, int o, int n, int nmax, float[] scale, float[] min, int j) {
        float lo = 0, hi = -Float.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            lo = Math.min(lo, x[o + i]);
            hi = Math.max(hi, x[o + i]);
        }
        scale[j] = Math.max(0, hi - lo) / nmax;
        min[j] = -lo;
    }

    /** The value of largest magnitude among x[o..o+n), with its sign (0 when all are 0). */
    private static float signedMax(float[] x, int o, int n) {
        float best = 0;
        for (int i = 0; i < n; i++) if (Math.abs(x[o + i]) > Math.abs(best)) best = x[o + i];
        return best;
    }

    private static float max(float[] v) {
        float m = 0;
        for (float f : v) m = Math.max(m, f);
        return m;
    }

    private static int clamp(int v, int lo, int hi) {
        return Math.max(lo, Math.min(hi, v));
    }
}
