package dev.infercl.backend;

/**
 * A weight as the host holds it (usually a view of the mapped model file), handed to {@link Backend#upload}: a
 * GGML-typed matrix, or one of InferCL's INT8 weights (docs/QUANT-FORMAT.md).
 */
public sealed interface HostWeight permits GgmlWeight, Int8Weight {
    /** The tensor's name in the file, for errors. */
    String name();

    /** Output channels. */
    int rows();

    /** Input columns. */
    int cols();
}
