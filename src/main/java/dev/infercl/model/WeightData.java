package dev.infercl.model;

import dev.infercl.gguf.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * One weight as a file holds it: GGUF name, type, GGML-order dims (ne0 = row length first) and its bytes
 * (a view into the mapped file).
 */
public record WeightData(String name, GgmlType type, long[] dims, MemorySegment bytes) {
    public long rowLength() {
        return dims[0];
    }

    public long rows() {
        long n = 1;
        for (int i = 1; i < dims.length; i++) n *= dims[i];
        return n;
    }
}
