package dev.infercl.quant;

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
 * </ul>
 */
public enum Scheme {
    W8A16, W8A8, Q8_0, Q4_0, F16;

    /** The scheme named (case-insensitive: w8a16, w8a8, q8_0, q4_0, f16). */
    public static Scheme parse(String s) {
        for (Scheme x : values()) if (x.name().equalsIgnoreCase(s)) return x;
        throw new QuantizeException("unknown scheme '" + s + "' (use w8a16, w8a8, q8_0, q4_0 or f16)");
    }

    /** The lower-case name written to metadata and accepted by the CLI. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** True for the INT8 schemes of InferCL's own format (I8 tensors with scale companions). */
    public boolean int8() {
        return this == W8A16 || this == W8A8;
    }
}
