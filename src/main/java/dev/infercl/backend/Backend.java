package dev.infercl.backend;

import dev.infercl.gguf.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * The arithmetic the model needs, over matrices {@code [tokens × width]} that live wherever the backend keeps
 * them. {@code Transformer} is the only caller that knows the layer order; it never touches floats itself.
 * One call serves prefill (many rows: a GEMM) and decode (one row: a GEMV).
 *
 * <p>Thread-safety: a backend is used by one thread at a time.
 */
public interface Backend extends AutoCloseable {

    /** Short description, e.g. {@code cpu (2 threads)} or {@code opencl: NVIDIA H200}. */
    String name();

    /** Uploads a weight in its own type: {@code rows} rows of {@code cols} values, {@code type.byteSize(cols)} bytes each. */
    Tensor upload(String name, GgmlType type, int rows, int cols, MemorySegment bytes);

    /**
     * Uploads an INT8 weight (W8A16 or W8A8, /work/quant-format.md). The tensor's type is {@link GgmlType#I8};
     * its values stay int8 on the backend (never widened), with the scales and smoothing vector beside them.
     * {@link #matmul} with it runs the scheme {@code w.quantizeActivations()} selects.
     */
    Tensor uploadInt8(Int8Weight w);

    /** An F32 activation matrix. Contents are undefined until written. */
    Tensor allocate(String name, int rows, int cols);

    /** Copies host floats into an F32 tensor (its first src.length / cols rows). */
    void write(Tensor dst, float[] src);

    /** The sync point: copies the tensor's values (dequantized if it is a weight) to the host. */
    void read(Tensor src, float[] dst);

    /** out[t] = table[tokens[t]] (dequantized). */
    void embed(Tensor out, Tensor table, int[] tokens);

    /**
     * out[t] = x[t] / sqrt(mean(x[t]²) + eps) · weight. When weight is narrower than x (a divisor of its width),
     * each group of weight.cols() values is normalised on its own (per-head norms).
     */
    void rmsNorm(Tensor out, Tensor x, Tensor weight, float eps);

    /** out[t] = (x[t] − mean) / sqrt(variance + eps) · weight + bias. */
    void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps);

    /** x[t] += bias for every row t (bias: one row as wide as x). */
    void addBias(Tensor x, Tensor bias);

    /** out = x · wᵀ: out[t][o] = Σ_i x[t][i] · w[o][i], dispatching on w's type. */
    void matmul(Tensor out, Tensor x, Tensor w);

    /** Rotates, in place, each of the {@code x.cols() / spec.headDim()} heads of row t by position {@code positions[t]}. */
    void rope(Tensor x, int[] positions, RopeSpec spec);

    /**
     * Stores row t of k and v at position {@code batch.positions()[t]} of layer {@code layer}'s cache, then
     * out[t] = softmax(scores) · V over the positions the spec lets row t see (causal, optionally windowed),
     * scores = q[t]·Kᵀ · scale (soft-capped when the spec says so); grouped-query: query head h reads KV head
     * h / (heads / kvHeads).
     */
    void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec);

    // ---- fused ops: one launch where a backend has a kernel for them; these defaults compose the general ops

    /**
     * outs[j] = x · ws[j]ᵀ (j &lt; 3; Q, K and V share their input), or outs[j] += x · ws[j]ᵀ when {@code accumulate}
     * (a residual add fused into the projection); {@code scratch[j]} (outs[j]'s shape) holds the product in the
     * general path and may be null when not accumulating.
     */
    default void matmulMany(Tensor[] outs, Tensor x, Tensor[] ws, boolean accumulate, Tensor[] scratch) {
        for (int j = 0; j < ws.length; j++) {
            if (accumulate) {
                matmul(scratch[j], x, ws[j]);
                add(outs[j], scratch[j]);
            } else {
                matmul(outs[j], x, ws[j]);
            }
        }
    }

    /** out = silu(x · gateᵀ) ⊙ (x · upᵀ); scratch (out's shape) holds the up product in the general path. */
    default void matmulSwiglu(Tensor out, Tensor x, Tensor gate, Tensor up, Tensor scratch) {
        matmul(out, x, gate);
        matmul(scratch, x, up);
        swiglu(out, out, scratch);
    }

    /** rope(q) and rope(k) at the same positions. */
    default void ropeQk(Tensor q, Tensor k, int[] positions, RopeSpec spec) {
        rope(q, positions, spec);
        rope(k, positions, spec);
    }

    /** ropeQk(q, k) at the batch's positions, then {@link #attention} (whose cache write then stores the rotated keys). */
    default void ropeAttention(Tensor out, Tensor q, Tensor k, Tensor v, RopeSpec rope, KvCache cache, int layer, Batch batch, AttentionSpec spec) {
        ropeQk(q, k, batch.positions(), rope);
        attention(out, q, k, v, cache, layer, batch, spec);
    }

    /** out = silu(gate) ⊙ up. */
    void swiglu(Tensor out, Tensor gate, Tensor up);

    /** out = gelu(gate) ⊙ up, GELU in its tanh approximation. */
    void geglu(Tensor out, Tensor gate, Tensor up);

    /** out = gelu(x), tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    void gelu(Tensor out, Tensor x);

    /** x ·= s. */
    void scale(Tensor x, float s);

    /** x = cap · tanh(x / cap). */
    void softcap(Tensor x, float cap);

    /** x += y. */
    void add(Tensor x, Tensor y);

    /** dst rows 0..count−1 = src rows from..from+count−1. */
    void copyRows(Tensor dst, Tensor src, int from, int count);

    /** dst[t] = src[t][from .. from + dst.cols()) for every row t of dst (splits a fused projection). */
    void copyColumns(Tensor dst, Tensor src, int from);

    /** Storage for a paged KV cache. */
    KvCache createKvCache(KvLayout layout);

    /**
     * Measures the device's streaming read bandwidth in bytes per second with the backend's own probe (a large
     * buffer summed by all compute units, best of a few runs). Used by {@code infercl bench} for the roofline.
     */
    double probeReadBandwidth();

    /** Bytes of one cached key or value element (4 for an F32 cache, 2 for F16, 1 for INT8 — whose per-block scales are not counted). */
    int kvBytesPerValue();

    /** Bytes the backend has allocated for tensors and KV caches (weights it merely maps are not counted). */
    long allocatedBytes();

    /** Releases every buffer the backend holds. */
    @Override
    void close();
}
