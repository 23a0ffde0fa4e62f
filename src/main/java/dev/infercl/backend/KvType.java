package dev.infercl.backend;

/**
 * How an OpenCL device stores its KV cache (the CPU backend always keeps F32: it is the oracle).
 * <ul>
 *   <li>{@code F16}: the default, half the memory of F32, keys and values rounded to 11 significant bits;</li>
 *   <li>{@code F32}: exact keys and values;</li>
 *   <li>{@code I8}: int8 values, symmetric, one F32 scale per (block, KV head) for K and for V — a quarter of F32
 *       plus 8 bytes per block and head; a scale only grows, and the block's entries are requantized when it does.</li>
 * </ul>
 */
public enum KvType {
    F16(2), F32(4), I8(1);

    private final int bytesPerValue;

    KvType(int bytesPerValue) {
        this.bytesPerValue = bytesPerValue;
    }

    /** Bytes of one cached key or value element (scales of I8 not counted). */
    public int bytesPerValue() {
        return bytesPerValue;
    }

    /** {@code f16}, {@code f32} or {@code i8}, any case; anything else is an {@link IllegalArgumentException} naming the choices. */
    public static KvType parse(String s) {
        for (KvType t : values()) if (t.name().equalsIgnoreCase(s == null ? "" : s.trim())) return t;
        throw new IllegalArgumentException("KV cache type must be f16, f32 or i8, got '" + s + "'");
    }
}
