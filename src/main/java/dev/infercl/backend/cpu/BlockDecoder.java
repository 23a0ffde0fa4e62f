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
 * {@link #RUN} of a weight row at a time, which the products then multiply with x while it sits in L1. No more of a
 * weight than one run per row in flight is ever decoded (Q8_0 and Q4_0 keep their fused kernels in CpuGemv and
 * CpuGemm).
 *
 * <p>Every type's values come in groups of 16 consecutive values that share a scale (and min) and whose bits sit
 * at one position of 16 consecutive bytes, so a group is 16/L vectors: L bytes zero-extended to int lanes, shifted
 * and masked there (x86 has no byte shifts), converted to floats and scaled with the float operations of
 * {@link Dequant#row} (the decoded values equal the reference's bit for bit). IQ4_NL and IQ4_XS look their 4-bit
 * indices up in a 16-byte table with one byte shuffle per 16 values. Shapes other than 4 ≤ L ≤ 16 fall back to
 * {@link Dequant#row}.
 */
final class BlockDecoder {
    private BlockDecoder() {}

    /** Values decoded per call: one K super-block, or eight blocks of 32. */
    static final int RUN = 256;

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
     * {@link #RUN}; v0 block-aligned) into dst[0..n).
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
                for (int k = 0; k < blocks; k++) iq4(w, first + 18L * k + 2, Dequant.f16(w.get(Dequant.I16, first + 18L * k)), table, dst, 32 * k);
            }
            case Q2_K -> q2K(w, first, dst);
            case Q3_K -> q3K(w, first, dst);
            case Q4_K -> q45K(w, first, dst, false);
            case Q5_K -> q45K(w, first, dst, true);
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
        var table = ByteVector.fromArray(B16, Dequant.IQ4_VALUES, 0);
        for (int ib = 0; ib < 8; ib++) {
            int ls = ((byteAt(w, b + 4 + ib / 2) >>> (4 * (ib % 2))) & 0x0f) | ((scalesH >>> (2 * ib)) & 3) << 4;
            iq4(w, b + 8 + 16L * ib, d * (ls - 32), table, y, 32 * ib);
        }
    }

    /** Q2_K: each 32 bytes of qs hold four groups of 32 values (2 bits each at shifts 0, 2, 4, 6); value = d·sc·q − dmin·m. */
    private static void q2K(MemorySegment w, long b, float[] y) {
        float d = half(w, b + 80), dmin = half(w, b + 82);
        for (int n = 0; n < 2; n++) {
            for (int j = 0; j < 32; j += L) {
                var q = u8(w, b + 16 + 32L * n + j);
                for (int g = 0; g < 4; g++) {
                    int sc = byteAt(w, b + 8 * n + 2 * g + j / 16);
                    float dl = d * (sc & 0x0f), ml = dmin * (sc >>> 4);
                    toFloat(q.lanewise(LSHR, 2 * g).and(3)).mul(dl).sub(ml).intoArray(y, 128 * n + 32 * g + j);
                }
            }
        }
    }

    /** Q3_K: Q2_K's 2-bit layout, plus bit 4n + g of hmask[j] as the third bit: value = d·(sc − 32)·((low | bit·4) − 4). */
    private static void q3K(MemorySegment w, long b, float[] y) {
        float dAll = half(w, b + 108);
        for (int n = 0; n < 2; n++) {
            for (int j = 0; j < 32; j += L) {
                var q = u8(w, b + 32 + 32L * n + j);
                var h = u8(w, b + j);
                for (int g = 0; g < 4; g++) {
                    float dl = dAll * (Dequant.q3KScale(w, b + 96, 8 * n + 2 * g + j / 16) - 32);
                    var v = q.lanewise(LSHR, 2 * g).and(3).or(h.lanewise(LSHR, 4 * n + g).and(1).lanewise(LSHL, 2)).sub(4);
                    toFloat(v).mul(dl).intoArray(y, 128 * n + 32 * g + j);
                }
            }
        }
    }

    /** Q4_K and Q5_K: each 32 bytes of qs are two groups of 32 (low, high nibbles); Q5_K's fifth bits are bits 2c, 2c+1 of qh. */
    private static void q45K(MemorySegment w, long b, float[] y, boolean five) {
        float d = half(w, b), dmin = half(w, b + 2);
        long qs = b + (five ? 48 : 16);
        for (int c = 0; c < 4; c++) {
            float d1 = d * Dequant.kScale(w, b + 4, 2 * c), m1 = dmin * Dequant.kMin(w, b + 4, 2 * c);
            float d2 = d * Dequant.kScale(w, b + 4, 2 * c + 1), m2 = dmin * Dequant.kMin(w, b + 4, 2 * c + 1);
            for (int j = 0; j < 32; j += L) {
                var q = u8(w, qs + 32L * c + j);
                var lo = q.and(15);
                var hi = q.lanewise(LSHR, 4);
                if (five) {
                    var h = u8(w, b + 16 + j);
                    lo = lo.or(h.lanewise(LSHR, 2 * c).and(1).lanewise(LSHL, 4));
                    hi = hi.or(h.lanewise(LSHR, 2 * c + 1).and(1).lanewise(LSHL, 4));
                }
                toFloat(lo).mul(d1).sub(m1).intoArray(y, 64 * c + j);
                toFloat(hi).mul(d2).sub(m2).intoArray(y, 64 * c + 32 + j);
            }
        }
    }

    /** Q6_K: per 128 values, 64 bytes of ql (low nibbles) and 32 of qh (2 bits each); value = (d·sc)·(q − 32), d last in the block. */
    private static void q6K(MemorySegment w, long b, float[] y) {
        float d = half(w, b + 208);
        for (int n = 0; n < 2; n++) {
            long ql = b + 64L * n, qh = b + 128 + 32L * n, sc = b + 192 + 8L * n;
            for (int j = 0; j < 32; j += L) {
                var a = u8(w, ql + j);
                var c = u8(w, ql + 32 + j);
                var h = u8(w, qh + j);
                int is = j / 16;
                var q1 = a.and(15).or(h.and(3).lanewise(LSHL, 4)).sub(32);
                var q2 = c.and(15).or(h.lanewise(LSHR, 2).and(3).lanewise(LSHL, 4)).sub(32);
                var q3 = a.lanewise(LSHR, 4).or(h.lanewise(LSHR, 4).and(3).lanewise(LSHL, 4)).sub(32);
                var q4 = c.lanewise(LSHR, 4).or(h.lanewise(LSHR, 6).lanewise(LSHL, 4)).sub(32);
                toFloat(q1).mul(d * w.get(ValueLayout.JAVA_BYTE, sc + is)).intoArray(y, 128 * n + j);
                toFloat(q2).mul(d * w.get(ValueLayout.JAVA_BYTE, sc + is + 2)).intoArray(y, 128 * n + 32 + j);
                toFloat(q3).mul(d * w.get(ValueLayout.JAVA_BYTE, sc + is + 4)).intoArray(y, 128 * n + 64 + j);
                toFloat(q4).mul(d * w.get(ValueLayout.JAVA_BYTE, sc + is + 6)).intoArray(y, 128 * n + 96 + j);
            }
        }
    }
}
