package dev.infercl.backend;

import dev.infercl.gguf.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * A matrix in a GGML type: {@code rows} rows of {@code cols} values, {@code type.byteSize(cols)} bytes each, in
 * {@code bytes} (at least {@code rows} rows of them).
 */
public record GgmlWeight(String name, GgmlType type, int rows, int cols, MemorySegment bytes) implements HostWeight {
    public GgmlWeight {
        if (rows < 1 || cols < 1) throw new IllegalArgumentException(name + ": shape " + rows + " × " + cols);
        long need = Math.multiplyExact(type.byteSize(cols), (long) rows);
        if (bytes.byteSize() < need) throw new IllegalArgumentException(name + ": " + bytes.byteSize() + " bytes, need " + need);
    }
}
