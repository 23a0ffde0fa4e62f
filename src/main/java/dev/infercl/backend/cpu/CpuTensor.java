package dev.infercl.backend.cpu;

import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;

/**
 * A CPU tensor: either an F32 activation in a heap array ({@code data}, row-major, capacity
 * {@code data.length / cols} rows) or a weight viewed in place in the mapped file ({@code weight}).
 */
final class CpuTensor implements Tensor {
    final String name;
    final GgmlType type;
    final int rows, cols;
    final float[] data;          // (rows, cols) activations, or null for a weight
    final MemorySegment weight;  // (rows, type.byteSize(cols)) weight bytes, or null for an activation
    final dev.infercl.backend.Int8Weight int8; // an I8 weight: (rows, cols) int8 values + scales (+ smooth), else null
    private float[] decoded;     // small weights (norm vectors) decoded once
    private byte halves;         // F16 weight: 0 not yet checked, 1 every half finite, 2 some Inf or NaN
    private final CpuTensor base; // the tensor allocate returned (itself, or the one this is a view of)
    private boolean freed;        // on the base: CpuBackend.free released it

    CpuTensor(String name, GgmlType type, int rows, int cols, float[] data, MemorySegment weight) {
        this(name, type, rows, cols, data, weight, null);
    }

    CpuTensor(String name, GgmlType type, int rows, int cols, float[] data, MemorySegment weight, dev.infercl.backend.Int8Weight int8) {
        this(name, type, rows, cols, data, weight, int8, null);
    }

    private CpuTensor(String name, GgmlType type, int rows, int cols, float[] data, MemorySegment weight,
                      dev.infercl.backend.Int8Weight int8, CpuTensor base) {
        this.base = base == null ? this : base;
        this.int8 = int8;
        this.name = name;
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.data = data;
        this.weight = weight;
    }

    @Override public String name() { return name; }
    @Override public GgmlType type() { return type; }
    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }

    @Override
    public Tensor firstRows(int n) {
        if (n < 0 || n > rows) throw new IllegalArgumentException(name + ": view of " + n + " rows of " + rows);
        return n == rows ? this : new CpuTensor(name, type, n, cols, data, weight, int8, base);
    }

    /** Whether CpuBackend.free released this activation (or the one it is a view of). */
    boolean freed() {
        return base.freed;
    }

    /** Marks the activation and its views freed; the bytes it held. */
    long markFreed() {
        base.freed = true;
        return 4L * base.data.length;
    }

    /**
     * Whether every half of this F16 weight is finite, which lets the decode GEMV use the shorter conversion
     * ({@link VectorCodecs#finiteHalfToFloat}). Checked once, on first use, by reading the whole tensor (a data race
     * between two first uses only repeats the check).
     */
    boolean halvesFinite() {
        if (halves == 0) halves = VectorCodecs.allHalvesFinite(weight, (long) rows * cols) ? (byte) 1 : (byte) 2;
        return halves == 1;
    }

    /** All values as floats: the activation array itself, or a weight decoded once (meant for vectors). */
    float[] floats() {
        if (data != null) return data;
        if (decoded == null) {
            float[] d = new float[Math.multiplyExact(rows, cols)];
            if (int8 != null) int8.dequantize(d);
            else Dequant.row(type, weight, 0, d, 0, d.length);
            decoded = d;
        }
        return decoded;
    }
}
