package dev.infercl.quant;

import dev.infercl.gguf.GgmlType;
import java.util.Locale;

/**
 * What {@code infercl quantize} writes.
 *
 * <ul>
 *   <li>{@link #W8A16}: INT8 weights (GGML type I8) with F32 scales per output channel or per group of input
 *       columns; activations stay float.</li>
 *   <li>{@link #W8A8}: INT8 weights per output channel, activations quantized per token at run time, with
 *       SmoothQuant smoothing (folded into the norms, or a {@code _smooth} vector).</li>
 *   <li>{@link #Q8_0}, {@link #Q4_0}, {@link #F16}: the standard GGML types, every matrix (as llama-quantize --pure).</li>
 *   <li>{@link #Q4_K_M}, {@link #Q5_K_M}, {@link #Q6_K}, {@link #Q4_K_S}, {@link #Q3_K_M}, {@link #Q2_K}: llama.cpp's
 *       K-quant file types, each tensor in the type llama-quantize picks for it ({@link KQuantMix}).</li>
 * </ul>
 */
public enum Scheme {
    W8A16, W8A8, Q8_0, Q4_0, F16, Q4_K_M, Q5_K_M, Q6_K, Q4_K_S, Q3_K_M, Q2_K;

    /** The scheme named (case-insensitive, as {@link #id()} writes it). */
    public static Scheme parse(String s) {
        for (Scheme x : values()) if (x.name().equalsIgnoreCase(s)) return x;
        throw new QuantizeException("unknown scheme '" + s + "' (use " + names() + ")");
    }

    /** Every scheme's id, comma-separated, the last after "or". */
    public static String names() {
        var sb = new StringBuilder();
        Scheme[] all = values();
        for (int i = 0; i < all.length; i++) sb.append(i == 0 ? "" : i == all.length - 1 ? " or " : ", ").append(all[i].id());
        return sb.toString();
    }

    /** The lower-case name written to metadata and accepted by the CLI. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** True for the INT8 schemes of InferCL's own format (I8 tensors with scale companions). */
    public boolean int8() {
        return this == W8A16 || this == W8A8;
    }

    /** True for llama.cpp's K-quant mixes, whose tensors get different types by {@link KQuantMix}'s rules. */
    public boolean kMix() {
        return switch (this) {
            case Q4_K_M, Q5_K_M, Q6_K, Q4_K_S, Q3_K_M, Q2_K -> true;
            default -> false;
        };
    }

    /** The GGML type of the matrices (for a K mix: the type of those no rule changes, llama.cpp's default_type). */
    public GgmlType baseType() {
        return switch (this) {
            case W8A16, W8A8 -> GgmlType.I8;
            case Q8_0 -> GgmlType.Q8_0;
            case Q4_0 -> GgmlType.Q4_0;
            case F16 -> GgmlType.F16;
            case Q4_K_M, Q4_K_S -> GgmlType.Q4_K;
            case Q5_K_M -> GgmlType.Q5_K;
            case Q6_K -> GgmlType.Q6_K;
            case Q3_K_M -> GgmlType.Q3_K;
            case Q2_K -> GgmlType.Q2_K;
        };
    }

    /** llama.cpp's LLAMA_FTYPE for {@code general.file_type}, by which it names the file's type; −1 for the INT8 schemes. */
    public int fileType() {
        return switch (this) {
            case W8A16, W8A8 -> -1;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case Q2_K -> 10;
            case Q3_K_M -> 12;
            case Q4_K_S -> 14;
            case Q4_K_M -> 15;
            case Q5_K_M -> 17;
            case Q6_K -> 18;
        };
    }
}
