package dev.infercl.backend;

import dev.infercl.gguf.GgmlType;

/**
 * A handle to a matrix owned by a backend: {@code rows × cols}, row-major. Weights keep their file type
 * (a row of {@code cols} values occupies {@code type.byteSize(cols)} bytes); activations are F32.
 */
public interface Tensor {
    String name();

    GgmlType type();

    int rows();

    int cols();

    /** A view of the first {@code n} rows sharing this tensor's storage (n ≤ rows): one buffer serves batches of any size. */
    Tensor firstRows(int n);
}
