package dev.infercl.tensor;

import dev.infercl.gguf.GgmlType;

/** A tensor's type is recognised (GGUF can carry it) but InferCL does not compute with it. */
public class UnsupportedTypeException extends RuntimeException {
    public UnsupportedTypeException(String tensorName, GgmlType type) {
        super("unsupported type " + type + " for tensor '" + tensorName
                + "': InferCL computes with F32, F16, BF16, Q8_0 and Q4_0 (requantize the file, e.g. with llama-quantize)");
    }
}
