package dev.infercl.gguf;

/**
 * One tensor of a GGUF file. {@code dims} are in GGML order: {@code dims[0]} (ne0) is the length of a row,
 * the contiguous dimension; a 2-D weight of {@code dims = {in, out}} has {@code out} rows of {@code in} values.
 *
 * @param name       tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param type       element type
 * @param dims       1 to 4 dimensions, each ≥ 1, ne0 first
 * @param offset     byte offset of the data relative to the start of the tensor-data section
 * @param byteSize   bytes the data occupies
 */
public record TensorInfo(String name, GgmlType type, long[] dims, long offset, long byteSize) {

    public TensorInfo {
        dims = dims.clone();
    }

    @Override
    public long[] dims() {
        return dims.clone();
    }

    public int nDims() {
        return dims.length;
    }

    public long dim(int i) {
        return i < dims.length ? dims[i] : 1;
    }

    public long elementCount() {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /** Length of one row (ne0). */
    public long rowLength() {
        return dims[0];
    }

    /** Number of rows: the product of every dimension but the first. */
    public long rows() {
        return elementCount() / dims[0];
    }

    /** Shape as GGML prints it, e.g. {@code [4096, 32000]}. */
    public String shape() {
        var sb = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) sb.append(i == 0 ? "" : ", ").append(dims[i]);
        return sb.append(']').toString();
    }
}
