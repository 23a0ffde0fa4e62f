package dev.infercl.backend.cpu;

import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector shapes every CPU kernel works in, and the in-register decoding of weights from their file types
 * (int8, Q4_0 nibbles, F16, BF16) to float lanes. Weights are read in their file type straight from the mapped
 * segment and decoded in registers; nothing is widened to an F32 copy.
 *
 * <p>Every species is a {@code static final} constant, which the Vector API needs in order to compile to machine
 * vectors instead of boxed objects.
 */
final class VectorCodecs {
    private VectorCodecs() {}

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** Ints of the same shape as F: the lanes F16/BF16 bits are widened into before being reinterpreted. */
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    /** L halves (16-bit lanes) in half F's width: one load yields one float vector after widening. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    /**
     * Int8 lanes for the quantized types. Normally L bytes (one float vector per load); on 128-bit machines
     * (L = 4) the narrowest byte vector holds 8, and each load is widened in {@link #PARTS} parts.
     */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, L * 8)));
    static final int PARTS = B.length() / L;

    /** Part p (L lanes) of a vector of int8 values, as floats. */
    static FloatVector int8ToFloat(ByteVector q, int p) {
        return (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
    }

    /**
     * Part p of 2·PARTS of a vector of Q4_0 bytes as floats (nibble − 8): parts below PARTS are low nibbles,
     * the rest high nibbles. The shift selects the nibble, so no vector is chosen by a branch (that would box it).
     */
    static FloatVector nibblesToFloat(ByteVector q, int p) {
        int high = p / PARTS;
        var v = (IntVector) q.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p % PARTS);
        return (FloatVector) v.lanewise(VectorOperators.LSHR, 4 * high).and(15).sub(8).convert(VectorOperators.I2F, 0);
    }

    /** Column within its block of the first value of {@link #nibblesToFloat}(bytes from j, p). */
    static int nibbleColumn(int j, int p) {
        return j + 16 * (p / PARTS) + (p % PARTS) * L;
    }

    /**
     * IEEE binary16 → binary32 in registers. JDK 25's VectorOperators has no half-float conversion (S2F is
     * the numeric short → float cast), so the bits are moved by hand: the 15 exponent+mantissa bits shifted
     * into float position and multiplied by 2^112 rebias the exponent (15 → 127); this is exact for normals and
     * also turns subnormal halves (read as float subnormals) into the right normal floats, and keeps ±0. The
     * all-ones exponent (Inf/NaN) would come out finite, so those lanes get the float all-ones exponent instead.
     * The short → int widening sign-extends, so bit 31 already is the sign.
     */
    static FloatVector halfToFloat(ShortVector h) {
        var bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        var em = bits.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        var magnitude = em.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> infOrNan = em.compare(VectorOperators.GE, 0x7c00 << 13);
        magnitude = magnitude.blend(em.or(0x7f800000), infOrNan);
        return magnitude.or(bits.and(0x80000000)).reinterpretAsFloats();
    }

    /**
     * {@link #halfToFloat} for finite halves only: the sign-extending widening put copies of the sign in bits
     * 15..31, so shifting left by 13 leaves the sign in bit 31, exponent and mantissa in bits 13..27, and three
     * more sign copies in 28..30 that the mask clears; times 2^112 rebiases the exponent, and the multiply keeps
     * the sign. Exact for normals, subnormals and ±0 (as in halfToFloat). An Inf or NaN half would come out as
     * a finite value ≥ 65536, so callers use it only on weights {@link #allHalvesFinite} has checked.
     */
    static FloatVector finiteHalfToFloat(ShortVector h) {
        var bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, 13).and(0x8fffe000).reinterpretAsFloats().mul(0x1p112f);
    }

    /** BF16 is the upper half of a float32: widen and shift into place. */
    static FloatVector bf16ToFloat(ShortVector h) {
        return ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** 2·L halves per load for {@link #allHalvesFinite}. */
    private static final VectorSpecies<Short> S2F = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 32));

    /** Whether no half among the first {@code count} of w has the all-ones exponent (Inf or NaN). Reads them all. */
    static boolean allHalvesFinite(MemorySegment w, long count) {
        long end = count - count % S2F.length();
        var max = ShortVector.zero(S2F);
        for (long i = 0; i < end; i += S2F.length()) {
            max = max.max(ShortVector.fromMemorySegment(S2F, w, i * 2, LE).and((short) 0x7fff));
        }
        int m = max.reduceLanes(VectorOperators.MAX);
        for (long i = end; i < count; i++) m = Math.max(m, w.get(Dequant.I16, i * 2) & 0x7fff);
        return m < 0x7c00;
    }
}
