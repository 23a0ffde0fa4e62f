package dev.infercl.backend.opencl;

import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import org.jocl.cl_mem;

/**
 * A matrix in device memory. An activation is one F32 buffer {@code (capacity rows, cols)}; a weight keeps its
 * file type and is held as one or more row ranges ({@link Part}s), each a buffer no larger than the device's
 * maximum allocation. Q8_0 weights are repacked per part into superblocks (16 F16 scales, then those 16 blocks'
 * int8 values), Q4_0 weights into quantized values and F16 scales.
 */
final class ClTensor implements Tensor {
    /**
     * Rows {@code row0 .. row0+rows−1} of a weight: {@code data} (rows, type.byteSize(cols)) for F32/F16/BF16, or
     * for Q8_0 (rows, {@link WeightUploader#q8RowBytes}(cols)) superblocks with {@code scales} null, or for Q4_0 (rows, cols/2)
     * nibble bytes with {@code scales} (rows, cols/32) F16.
     */
    record Part(int row0, int rows, cl_mem data, cl_mem scales) {}

    final String name;
    final GgmlType type;
    final int rows, cols;
    final boolean weight;
    final Part[] parts;
    final cl_mem vectorF32; // (1, cols) F32 copy of a one-row F16/BF16 weight (norm vectors), else null
    /**
     * An I8 weight (W8A16 / W8A8): each part's {@code data} is (rows, cols) int8 and {@code scales} (rows, groups)
     * F32; {@code groupSize} 0 = one scale per row; {@code smooth} (cols) F32 SmoothQuant divisors or null.
     */
    final int groupSize;
    final boolean w8a8;
    final cl_mem smooth;
    private final ClTensor base; // the tensor allocate returned (itself, or the one this is a view of)
    private boolean freed;       // on the base: its buffer was released

    ClTensor(String name, GgmlType type, int rows, int cols, boolean weight, Part[] parts, cl_mem vectorF32) {
        this(name, type, rows, cols, weight, parts, vectorF32, 0, false, null);
    }

    ClTensor(String name, GgmlType type, int rows, int cols, boolean weight, Part[] parts, cl_mem vectorF32,
             int groupSize, boolean w8a8, cl_mem smooth) {
        this(name, type, rows, cols, weight, parts, vectorF32, groupSize, w8a8, smooth, null);
    }

    private ClTensor(String name, GgmlType type, int rows, int cols, boolean weight, Part[] parts, cl_mem vectorF32,
                     int groupSize, boolean w8a8, cl_mem smooth, ClTensor base) {
        this.base = base == null ? this : base;
        this.groupSize = groupSize;
        this.w8a8 = w8a8;
        this.smooth = smooth;
        this.name = name;
        this.type = type;
        this.rows = rows;
        this.cols = cols;
        this.weight = weight;
        this.parts = parts;
        this.vectorF32 = vectorF32;
    }

    /** An F32 activation over a buffer the caller owns: (rows, cols) row-major. */
    static ClTensor activation(String name, int rows, int cols, cl_mem data) {
        return new ClTensor(name, GgmlType.F32, rows, cols, false, new Part[] {new Part(0, rows, data, null)}, null);
    }

    @Override public String name() { return name; }
    @Override public GgmlType type() { return type; }
    @Override public int rows() { return rows; }
    @Override public int cols() { return cols; }

    @Override
    public Tensor firstRows(int n) {
        if (n < 0 || n > rows) throw new IllegalArgumentException(name + ": view of " + n + " rows of " + rows);
        return n == rows ? this : new ClTensor(name, type, n, cols, weight, parts, vectorF32, groupSize, w8a8, smooth, base);
    }

    /** The F32 buffer of an activation. */
    cl_mem act() {
        if (weight) throw new IllegalArgumentException(name + " is a weight, not an activation");
        if (base.freed) throw new IllegalStateException("activation '" + name + "' was freed");
        return parts[0].data();
    }

    /** Marks the activation (and every view of it) freed; its buffer, which the caller releases. */
    cl_mem markFreed() {
        cl_mem m = act();
        base.freed = true;
        return m;
    }

    /** The F32 values of a one-row weight or activation (a norm vector). */
    cl_mem vector() {
        if (vectorF32 != null) return vectorF32;
        if (type != GgmlType.F32 || parts.length != 1) throw new IllegalArgumentException(name + " (" + type + ") is not usable as an F32 vector");
        return parts[0].data();
    }
}
