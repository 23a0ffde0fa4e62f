package dev.infercl.gguf;

/**
 * Every tensor type id GGML defines, with its block geometry. A tensor row of {@code n} elements of a type
 * occupies {@code n / blockSize * typeSize} bytes; {@code n} must be a multiple of {@code blockSize}.
 * Only the types with {@link #computable()} true are computed with (by the CPU backends, through
 * {@code Dequant}'s codecs; a device backend may compute fewer and must refuse the rest itself); the others are
 * recognised so that files using them can be described, and using one raises a clear "unsupported type" error.
 * {@link #I8} stays outside the computable set: it is computed only as an INT8 linear weight together with its
 * {@code _scale} (and {@code _smooth}) companions in a file that names its {@code infercl.quant.scheme}, which
 * {@code Weights} hands to {@code Backend.upload} as an {@code Int8Weight}; anywhere else (embeddings, norms, a GGML weight)
 * a raw I8 tensor is rejected.
 */
public enum GgmlType {
    F32(0, 1, 4, true),
    F16(1, 1, 2, true),
    Q4_0(2, 32, 18, true),
    Q4_1(3, 32, 20, true),
    Q5_0(6, 32, 22, true),
    Q5_1(7, 32, 24, true),
    Q8_0(8, 32, 34, true),
    Q8_1(9, 32, 36, false),
    Q2_K(10, 256, 84, true),
    Q3_K(11, 256, 110, true),
    Q4_K(12, 256, 144, true),
    Q5_K(13, 256, 176, true),
    Q6_K(14, 256, 210, true),
    Q8_K(15, 256, 292, false),
    IQ2_XXS(16, 256, 66, false),
    IQ2_XS(17, 256, 74, false),
    IQ3_XXS(18, 256, 98, false),
    IQ1_S(19, 256, 50, false),
    IQ4_NL(20, 32, 18, true),
    IQ3_S(21, 256, 110, false),
    IQ2_S(22, 256, 82, false),
    IQ4_XS(23, 256, 136, true),
    I8(24, 1, 1, false),
    I16(25, 1, 2, false),
    I32(26, 1, 4, false),
    I64(27, 1, 8, false),
    F64(28, 1, 8, false),
    IQ1_M(29, 256, 56, false),
    BF16(30, 1, 2, true),
    TQ1_0(34, 256, 54, false),
    TQ2_0(35, 256, 66, false),
    MXFP4(39, 32, 17, false);

    private static final GgmlType[] BY_ID = new GgmlType[64];
    static {
        for (GgmlType t : values()) BY_ID[t.id] = t;
    }

    public final int id;
    /** Elements per block. */
    public final int blockSize;
    /** Bytes per block. */
    public final int typeSize;
    private final boolean computable;

    GgmlType(int id, int blockSize, int typeSize, boolean computable) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
        this.computable = computable;
    }

    /** The type with this id, or null when GGML defines none (ids 4, 5, 31–33, 36–38 were removed upstream). */
    public static GgmlType byId(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    /**
     * True for the types the CPU backends compute with: F32, F16, BF16, the 32-value block types Q8_0, Q4_0, Q4_1,
     * Q5_0, Q5_1 and IQ4_NL, and the 256-value K types Q2_K–Q6_K and IQ4_XS.
     */
    public boolean computable() {
        return computable;
    }

    /** The computable types' names, comma-separated, for error messages. */
    public static String computableNames() {
        var sb = new StringBuilder();
        for (GgmlType t : values()) if (t.computable) sb.append(sb.isEmpty() ? "" : ", ").append(t.name());
        return sb.toString();
    }

    /** Bytes of {@code elements} values; {@code elements} must be a multiple of the block size. */
    public long byteSize(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(elements + " elements is not a multiple of " + name() + "'s block size " + blockSize);
        }
        return Math.multiplyExact(elements / blockSize, (long) typeSize);
    }
}
