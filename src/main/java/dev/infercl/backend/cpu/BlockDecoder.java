package dev.infercl.backend.cpu;

import static dev.infercl.backend.cpu.VectorCodecs.B;
import static dev.infercl.backend.cpu.VectorCodecs.F;
import static dev.infercl.backend.cpu.VectorCodecs.I;
import static dev.infercl.backend.cpu.VectorCodecs.L;
import static dev.infercl.backend.cpu.VectorCodecs.LE;
import static dev.infercl.backend.cpu.VectorCodecs.PARTS;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;

import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector decoding of the block types whose values are spread over several fields — Q4_1, Q5_0, Q5_1 and IQ4_NL
 * (blocks of 32), Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS (super-blocks of 256) — into a small float array: one
 * {@link #RUN} of a weight row at a time, which the one-token products then multiply with x while it sits in L1
 * (Q8_0 and Q4_0 keep their fused kernels in CpuGemv), and which CpuGemm copies into the float panel it decodes
 * for every type; a weight is never decoded whole.
 *
 * <p>Every type's values come in groups of 16 consecutive values that share a scale (and min) and whose bits sit
 * at one position of 16 consecutive bytes, so a group is 16/L vectors: L bytes zero-extended to int lanes, shifted
 * and masked there (x86 has no byte shifts), converted to floats and scaled with the float operations of
 * {@link Dequant#row} (the decoded values equal the reference's bit for bit). IQ4_NL and IQ4_XS look their 4-bit
 * indices up in a 16-byte table with one byte shuffle per 16 values. Shapes other than 4 ≤ L ≤ 16 fall back to
 * {@link Dequant#row}.
 *
 * <p>The decode step's one-token products of Q4_K, Q5_K and Q6_K skip the array: {@link #dot} multiplies the
 * decoded lanes with x directly, each group's sum scaled once.
 */
final class BlockDecoder {
    private BlockDecoder() {}

    /** Values decoded per call: one K super-block, or eight blocks of 32. */
    static final int RUN = 256;
    /**
     * Length of the array {@link #decode} takes: RUN values, then room for one super-block's 16 scales and 16 mins,
     * unpacked before the vector loop uses them. (Reading them inside the vector loop made the methods too large for
     * C2's inlining budget, which then left vector calls out of line, each allocating a box.)
     */
    static final int SCRATCH = RUN + 32;
    private static final int SCALES = RUN, MINS = RUN + 16;

    /** The vector decode needs whole vectors in a group of 16 values. */
    private static final boolean VECTOR = L >= 4 && L <= 16;
    /** The first L lanes of B (all of them unless B is wider than L, which it is for L = 4). */
    private static final VectorMask<Byte> FIRST_L = B.indexInRange(0, L);
    private static final int[] IOTA = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    /** 16 bytes: one IQ4 block's indices, or the table they select from. */
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;

    /** Whether {@link #decode} handles the type. */
    static boolean handles(GgmlType type) {
        return switch (type) {
            case Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS -> true;
            default -> false;
        };
    }

    /**
     * Values [v0, v0 + n) of the row at byte offset {@code row} of w (n a multiple of the block size, at most
     * {@link #RUN}; v0 block-aligned) into dst[0..n); dst has {@link #SCRATCH} floats.
     */
    static void decode(GgmlType type, MemorySegment w, long row, int v0, int n, float[] dst) {
        long first = row + (long) (v0 / type.blockSize) * type.typeSize;
        if (!VECTOR) {
            Dequant.row(type, w.asSlice(first, type.byteSize(n)), 0, dst, 0, n);
            return;
        }
        int blocks = n / type.blockSize;
        switch (type) {
            case Q4_1 -> { for (int k = 0; k < blocks; k++) q4_1(w, first + 20L * k, dst, 32 * k); }
            case Q5_0 -> { for (int k = 0; k < blocks; k++) q5(w, first + 22L * k, dst, 32 * k, false); }
            case Q5_1 -> { for (int k = 0; k < blocks; k++) q5(w, first + 24L * k, dst, 32 * k, true); }
            case IQ4_NL -> {
                var table = ByteVector.fromArray(B16, Dequant.IQ4_VALUES, 0);
                for (int k = 0; k < blocks; k++) iq4(w, first + 18L * k + 2, half(w, first + 18L * k), table, dst, 32 * k);
            }
            case Q2_K -> q2K(w, first, dst);
            case Q3_K -> q3K(w, first, dst);
            case Q4_K -> q4K(w, first, dst);
            case Q5_K -> q5K(w, first, dst);
            case Q6_K -> q6K(w, first, dst);
            case IQ4_XS -> iq4Xs(w, first, dst);
            default -> throw new IllegalArgumentException("no block decoder for " + type);
        }
    }

    /** L bytes at off, zero-extended to int lanes (a masked load where B holds more than L bytes: never past off + L). */
    private static IntVector u8(MemorySegment w, long off) {
        var b = PARTS == 1 ? ByteVector.fromMemorySegment(B, w, off, LE) : ByteVector.fromMemorySegment(B, w, off, LE, FIRST_L);
        return (IntVector) b.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    private static FloatVector toFloat(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    private static int byteAt(MemorySegment w, long off) {
        return w.get(ValueLayout.JAVA_BYTE, off) & 0xff;
    }

    private static float half(MemorySegment w, long off) {
        return Dequant.f16(w.get(Dequant.I16, off));
    }

    /** Q4_1: value = q·d + m, the nibbles of 16 bytes (low: values 0–15, high: 16–31). */
    private static void q4_1(MemorySegment w, long b, float[] y, int o) {
        float d = half(w, b), m = half(w, b + 2);
        for (int j = 0; j < 16; j += L) {
            var q = u8(w, b + 4 + j);
            toFloat(q.and(15)).mul(d).add(m).intoArray(y, o + j);
            toFloat(q.lanewise(LSHR, 4)).mul(d).add(m).intoArray(y, o + 16 + j);
        }
    }

    /** Q5_0 ((q − 16)·d) and Q5_1 (q·d + m): the fifth bit of value j is bit j of the uint32 qh, moved by a per-lane shift. */
    private static void q5(MemorySegment w, long b, float[] y, int o, boolean withMin) {
        float d = half(w, b), m = withMin ? half(w, b + 2) : 0f;
        long qs = b + (withMin ? 8 : 6);
        var qh = IntVector.broadcast(I, w.get(Dequant.I32, qs - 4));
        var iota = IntVector.fromArray(I, IOTA, 0);
        for (int j = 0; j < 16; j += L) {
            var q = u8(w, qs + j);
            var lo = q.and(15).or(qh.lanewise(LSHR, iota.add(j)).and(1).lanewise(LSHL, 4));
            var hi = q.lanewise(LSHR, 4).or(qh.lanewise(LSHR, iota.add(j + 16)).and(1).lanewise(LSHL, 4));
            if (withMin) {
                toFloat(lo).mul(d).add(m).intoArray(y, o + j);
                toFloat(hi).mul(d).add(m).intoArray(y, o + 16 + j);
            } else {
                toFloat(lo.sub(16)).mul(d).intoArray(y, o + j);
                toFloat(hi.sub(16)).mul(d).intoArray(y, o + 16 + j);
            }
        }
    }

    /** 32 IQ4 values from the 16 index bytes at qs: dl·table[index], the table selected by a byte shuffle. */
    private static void iq4(MemorySegment w, long qs, float dl, ByteVector table, float[] y, int o) {
        var q = ByteVector.fromMemorySegment(B16, w, qs, LE);
        var lo = table.rearrange(q.and((byte) 15).toShuffle());
        var hi = table.rearrange(q.lanewise(LSHR, 4).and((byte) 15).toShuffle());
        for (int p = 0; p < 16 / L; p++) {
            ((FloatVector) lo.convertShape(VectorOperators.B2F, F, p)).mul(dl).intoArray(y, o + p * L);
            ((FloatVector) hi.convertShape(VectorOperators.B2F, F, p)).mul(dl).intoArray(y, o + 16 + p * L);
        }
    }

    /** IQ4_XS: eight IQ4 groups of 32, each scaled by d·(ls − 32) with its 6-bit ls from scales_l and scales_h. */
    private static void iq4Xs(MemorySegment w, long b, float[] y) {
        float d = half(w, b);
        int scalesH = w.get(Dequant.I16, b + 2) & 0xffff;
        for (int ib = 0; ib < 8; ib++) {
            int ls = ((byteAt(w, b + 4 + ib / 2) >>> (4 * (ib % 2))) & 0x0f) | ((scalesH >>> (2 * ib)) & 3) << 4;
            y[SCALES + ib] = d * (ls - 32);
        }
        var table = ByteVector.fromArray(B16, Dequant.IQ4_VALUES, 0);
        for (int ib = 0; ib < 8; ib++) iq4(w, b + 8 + 16L * ib, y[SCALES + ib], table, y, 32 * ib);
    }

    /** Q2_K: each 32 bytes of qs hold four groups of 32 values (2 bits each at shifts 0, 2, 4, 6); value = d·sc·q − dmin·m. */
    private static void q2K(MemorySegment w, long b, float[] y) {
        float d = half(w, b + 80), dmin = half(w, b + 82);
        for (int i = 0; i < 16; i++) {
            int sc = byteAt(w, b + i);
            y[SCALES + i] = d * (sc & 0x0f);
            y[MINS + i] = dmin * (sc >>> 4);
        }
        for (int n = 0; n < 2; n++) {
            for (int j = 0; j < 32; j += L) {
                var q = u8(w, b + 16 + 32L * n + j);
                for (int g = 0; g < 4; g++) {
                    int is = 8 * n + 2 * g + j / 16;
                    toFloat(q.lanewise(LSHR, 2 * g).and(3)).mul(y[SCALES + is]).sub(y[MINS + is]).intoArray(y, 128 * n + 32 * g + j);
                }
            }
        }
    }

    /** Q3_K: Q2_K's 2-bit layout, plus bit 4n + g of hmask[j] as the third bit: value = d·(sc − 32)·((low | bit·4) − 4). */
    private static void q3K(MemorySegment w, long b, float[] y) {
        float dAll = half(w, b + 108);
        for (int i = 0; i < 16; i++) y[SCALES + i] = dAll * (Dequant.q3KScale(w, b + 96, i) - 32);
        for (int n = 0; n < 2; n++) {
            for (int j = 0; j < 32; j += L) {
                var q = u8(w, b + 32 + 32L * n + j);
                var h = u8(w, b + j);
                for (int g = 0; g < 4; g++) {
                    var v = q.lanewise(LSHR, 2 * g).and(3).or(h.lanewise(LSHR, 4 * n + g).and(1).lanewise(LSHL, 2)).sub(4);
                    toFloat(v).mul(y[SCALES + 8 * n + 2 * g + j / 16]).intoArray(y, 128 * n + 32 * g + j);
                }
            }
        }
    }

    /** Lanes of the packed order [sc0–3, m0–3, sc4–7, m4–7] that hold mins. */
    private static final boolean[] MIN_LANES = {false, false, false, false, true, true, true, true, false, false, false, false, true, true, true, true};
    private static final VectorSpecies<Long> L128 = jdk.incubator.vector.LongVector.SPECIES_128;

    /**
     * The 16 six-bit scales and mins of a Q4_K block, times d and dmin, into y[SCALES..SCALES + 16) in the order
     * [sc0–3, m0–3, sc4–7, m4–7]: the bytes are unpacked in two words (SWAR) and widened and scaled as vectors.
     */
    private static void kScalesMinsPacked(MemorySegment w, long b, float[] y) {
        float d = half(w, b), dmin = half(w, b + 2);
        long lo = w.get(I64, b + 4);            // scale bytes 0–7
        int hi = w.get(Dequant.I32, b + 12);   // scale bytes 8–11
        long sc03m03 = lo & 0x3f3f3f3f3f3f3f3fL;
        long sc47 = (hi & 0x0f0f0f0f) | (lo >>> 2) & 0x30303030L;
        long m47 = (hi >>> 4 & 0x0f0f0f0f) | (lo >>> 34) & 0x30303030L;
        var bytes = jdk.incubator.vector.LongVector.broadcast(L128, sc03m03).withLane(1, sc47 | m47 << 32).reinterpretAsBytes();
        var dd = FloatVector.broadcast(F, d);
        var dm = FloatVector.broadcast(F, dmin);
        for (int p = 0; p < 16 / L; p++) {
            var v = (FloatVector) ((IntVector) bytes.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p)).convert(VectorOperators.I2F, 0);
            v.mul(dd.blend(dm, VectorMask.fromArray(F, MIN_LANES, p * L))).intoArray(y, SCALES + p * L);
        }
    }

    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Q6_K's 16 int8 scales (at b + 192) times d into y[SCALES..SCALES + 16), widened as vectors. */
    private static void q6KScales(MemorySegment w, long b, float d, float[] y) {
        var sc = ByteVector.fromMemorySegment(B16, w, b + 192, LE);
        for (int p = 0; p < 16 / L; p++) ((FloatVector) sc.convertShape(VectorOperators.B2F, F, p)).mul(d).intoArray(y, SCALES + p * L);
    }

    /** Q4_K: each 32 bytes of qs are two groups of 32 (low nibbles group 2c, high nibbles 2c + 1); value = d·sc·q − dmin·m. */
    private static void q4K(MemorySegment w, long b, float[] y) {
        kScalesMinsPacked(w, b, y);
        for (int c = 0; c < 4; c++) {
            int s = SCALES + 2 * c + (2 * c & 4);   // scale 2c; its min 4 further, scale and min 2c + 1 one further
            for (int j = 0; j < 32; j += L) {
                var q = u8(w, b + 16 + 32L * c + j);
                toFloat(q.and(15)).mul(y[s]).sub(y[s + 4]).intoArray(y, 64 * c + j);
                toFloat(q.lanewise(LSHR, 4)).mul(y[s + 1]).sub(y[s + 5]).intoArray(y, 64 * c + 32 + j);
            }
        }
    }

    /** Q5_K: Q4_K's layout (qs after qh) with the fifth bit of group g's value l in bit g of qh[l]. */
    private static void q5K(MemorySegment w, long b, float[] y) {
        kScalesMinsPacked(w, b, y);
        for (int c = 0; c < 4; c++) {
            int s = SCALES + 2 * c + (2 * c & 4);   // as in q4K
            for (int j = 0; j < 32; j += L) {
                var q = u8(w, b + 48 + 32L * c + j);
                var h = u8(w, b + 16 + j);
                var lo = q.and(15).or(h.lanewise(LSHR, 2 * c).and(1).lanewise(LSHL, 4));
                var hi = q.lanewise(LSHR, 4).or(h.lanewise(LSHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                toFloat(lo).mul(y[s]).sub(y[s + 4]).intoArray(y, 64 * c + j);
                toFloat(hi).mul(y[s + 1]).sub(y[s + 5]).intoArray(y, 64 * c + 32 + j);
            }
        }
    }

    /**
     * Q6_K: per 128 values, 64 bytes of ql and 32 of qh; ql[32k + l] (k < 2) holds value 32k + l in its low nibble and
     * value 32(k + 2) + l in its high nibble, whose top two bits are bits 2k and 2k + 4 of qh[l]. value = (d·sc)·(q − 32),
     * d last in the block.
     */
    private static void q6K(MemorySegment w, long b, float[] y) {
        q6KScales(w, b, half(w, b + 208), y);
        for (int n = 0; n < 2; n++) {
            for (int k = 0; k < 2; k++) {
                for (int j = 0; j < 32; j += L) {
                    var a = u8(w, b + 64L * n + 32 * k + j);
                    var h = u8(w, b + 128 + 32L * n + j);
                    var lo = a.and(15).or(h.lanewise(LSHR, 2 * k).and(3).lanewise(LSHL, 4)).sub(32);
                    var hi = a.lanewise(LSHR, 4).or(h.lanewise(LSHR, 2 * k + 4).and(3).lanewise(LSHL, 4)).sub(32);
                    int is = 8 * n + 2 * k + j / 16;
                    toFloat(lo).mul(y[SCALES + is]).intoArray(y, 128 * n + 32 * k + j);
                    toFloat(hi).mul(y[SCALES + is + 4]).intoArray(y, 128 * n + 32 * k + 64 + j);
                }
            }
        }
    }

    // One-token dot products without the round trip through the run array, for the types of the common Q4_K_M and
    // Q5_K_M files (Q6_K holds the output matrix of nearly every quantized file). Their sums are in another order
    // than the reference's, so they match it to rounding.

    /** Whether {@link #dot} has a fused kernel for the type (with this vector shape). */
    static boolean hasDot(GgmlType type) {
        return VECTOR && (type == GgmlType.Q4_K || type == GgmlType.Q5_K || type == GgmlType.Q6_K);
    }

    /**
     * One row at byte offset {@code row} against x[0..in): Σ w·x. {@code xsum} holds x's sums over each 32 values
     * (Q4_K's mins multiply them once per group); {@code scratch} has {@link #SCRATCH} floats.
     */
    static float dot(GgmlType type, MemorySegment w, long row, float[] x, float[] xsum, int in, float[] scratch) {
        return switch (type) {
            case Q4_K -> dotQ4K(w, row, x, xsum, in, scratch);
            case Q5_K -> dotQ5K(w, row, x, xsum, in, scratch);
            default -> dotQ6K(w, row, x, in, scratch);
        };
    }

    /** Q4_K: Σ_groups d·sc·(Σ q·x) − dmin·m·(Σ x), the nibble sums in float lanes, one multiply-add per group. */
    private static float dotQ4K(MemorySegment w, long row, float[] x, float[] xsum, int in, float[] s) {
        var a = FloatVector.zero(F);
        float mins = 0;
        for (int blk = 0; blk < in / 256; blk++) {
            long b = row + 144L * blk;
            kScalesMinsPacked(w, b, s);
            for (int g = 0; g < 8; g++) mins += s[SCALES + 4 + g + (g & 4)] * xsum[8 * blk + g];
            for (int c = 0; c < 4; c++) {
                var lo = FloatVector.zero(F);
                var hi = lo;
                int xo = 256 * blk + 64 * c;
                for (int j = 0; j < 32; j += L) {
                    var q = u8(w, b + 16 + 32L * c + j);
                    lo = toFloat(q.and(15)).fma(FloatVector.fromArray(F, x, xo + j), lo);
                    hi = toFloat(q.lanewise(LSHR, 4)).fma(FloatVector.fromArray(F, x, xo + 32 + j), hi);
                }
                int g = 2 * c;                // scale g at SCALES + g + (g & 4) in the packed order
                a = lo.fma(FloatVector.broadcast(F, s[SCALES + g + (g & 4)]), a);
                a = hi.fma(FloatVector.broadcast(F, s[SCALES + g + 1 + (g & 4)]), a);
            }
        }
        return a.reduceLanes(VectorOperators.ADD) - mins;
    }

    /** Q5_K: as {@link #dotQ4K}, with each group's fifth bits from qh. */
    private static float dotQ5K(MemorySegment w, long row, float[] x, float[] xsum, int in, float[] s) {
        var a = FloatVector.zero(F);
        float mins = 0;
        for (int blk = 0; blk < in / 256; blk++) {
            long b = row + 176L * blk;
            kScalesMinsPacked(w, b, s);
            for (int g = 0; g < 8; g++) mins += s[SCALES + 4 + g + (g & 4)] * xsum[8 * blk + g];
            for (int c = 0; c < 4; c++) {
                var lo = FloatVector.zero(F);
                var hi = lo;
                int xo = 256 * blk + 64 * c;
                for (int j = 0; j < 32; j += L) {
                    var q = u8(w, b + 48 + 32L * c + j);
                    var h = u8(w, b + 16 + j);
                    var ql = q.and(15).or(h.lanewise(LSHR, 2 * c).and(1).lanewise(LSHL, 4));
                    var qh = q.lanewise(LSHR, 4).or(h.lanewise(LSHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                    lo = toFloat(ql).fma(FloatVector.fromArray(F, x, xo + j), lo);
                    hi = toFloat(qh).fma(FloatVector.fromArray(F, x, xo + 32 + j), hi);
                }
                int g = 2 * c;
                a = lo.fma(FloatVector.broadcast(F, s[SCALES + g + (g & 4)]), a);
                a = hi.fma(FloatVector.broadcast(F, s[SCALES + g + 1 + (g & 4)]), a);
            }
        }
        return a.reduceLanes(VectorOperators.ADD) - mins;
    }

    /** Q6_K: each vector of 6-bit values (a group of 16 shares one scale) times its scale, multiplied into x. */
    private static float dotQ6K(MemorySegment w, long row, float[] x, int in, float[] s) {
        var a = FloatVector.zero(F);
        var c = a;
        for (int blk = 0; blk < in / 256; blk++) {
            long b = row + 210L * blk;
            q6KScales(w, b, half(w, b + 208), s);
            for (int n = 0; n < 2; n++) {
                for (int k = 0; k < 2; k++) {
                    int xo = 256 * blk + 128 * n + 32 * k;
                    for (int j = 0; j < 32; j += L) {
                        var ql = u8(w, b + 64L * n + 32 * k + j);
                        var h = u8(w, b + 128 + 32L * n + j);
                        var lo = ql.and(15).or(h.lanewise(LSHR, 2 * k).and(3).lanewise(LSHL, 4)).sub(32);
                        var hi = ql.lanewise(LSHR, 4).or(h.lanewise(LSHR, 2 * k + 4).and(3).lanewise(LSHL, 4)).sub(32);
                        int is = 8 * n + 2 * k + j / 16;
                        a = toFloat(lo).mul(s[SCALES + is]).fma(FloatVector.fromArray(F, x, xo + j), a);
                        c = toFloat(hi).mul(s[SCALES + is + 4]).fma(FloatVector.fromArray(F, x, xo + 64 + j), c);
                    }
                }
            }
        }
        return a.add(c).reduceLanes(VectorOperators.ADD);
    }
}
