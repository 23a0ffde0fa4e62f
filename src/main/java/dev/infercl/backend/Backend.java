package dev.infercl.backend;

import dev.infercl.gguf.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * The arithmetic the model needs, over matrices {@code [tokens × width]} that live wherever the backend keeps
 * them. {@code Transformer} is the only caller that knows the layer order; it never touches floats itself.
 * One call serves prefill (many rows: a GEMM) and decode (one row: a GEMV).
 *
 * <p>Ops are few and carry their variant as data ({@link Norm}, {@link Elementwise}, {@link Linear},
 * {@link AttentionSpec}); fusing them (several products of one input in one pass, the residual add folded into a
 * product, the gate and up products with their activation, rotary positions with the KV-cache write) is the
 * backend's choice, made from the shapes and types it is given. Measurement lives apart, in {@link Measurable}.
 *
 * <p>Thread-safety: a backend is used by one thread at a time.
 */
public interface Backend extends AutoCloseable {

    /** Short description, e.g. {@code cpu (2 threads)} or {@code opencl: NVIDIA H200}. */
    String name();

    /**
     * Uploads a weight in its own type: a GGML matrix (F16, Q8_0 … stay in their type, never widened) or an INT8
     * weight, whose values stay int8 with the scales and smoothing vector beside them ({@link #linear} with it runs
     * the scheme {@link Int8Weight#quantizeActivations()} selects).
     */
    Tensor upload(HostWeight w);

    /** An F32 activation matrix. Contents are undefined until written. */
    Tensor allocate(String name, int rows, int cols);

    /** Releases an activation {@link #allocate} returned; using it (or a view of it) afterwards is an error. */
    void free(Tensor activation);

    /** Copies host floats into an F32 tensor (its first src.length / cols rows). */
    void write(Tensor dst, float[] src);

    /** The sync point: copies the tensor's values (dequantized if it is a weight) to the host. */
    void read(Tensor src, float[] dst);

    /** out[t] = table[tokens[t]] (dequantized). */
    void embed(Tensor out, Tensor table, int[] tokens);

    /** out = norm(x), row by row (or group by group; see {@link Norm}). out may be x. */
    void norm(Tensor out, Tensor x, Norm norm);

    /**
     * For every output: out = x · weightᵀ (+ bias), or out += … when it accumulates; weights of any uploaded type.
     * The outputs share the input x, so a backend may compute them in one pass.
     */
    void linear(Tensor x, Linear... outputs);

    /**
     * out = glu(x · gateᵀ, x · upᵀ) for a gate op ({@link Elementwise#SILU_MUL}: SwiGLU, {@link Elementwise#GELU_MUL}:
     * GEGLU); gate and up have the same shape.
     */
    void gatedLinear(Tensor out, Tensor x, Tensor gate, Tensor up, Elementwise glu);

    /** out = op(a, b) element by element (b null for the unary ops); out may be a or b. */
    void map(Tensor out, Elementwise op, Tensor a, Tensor b);

    /**
     * With {@code spec.rope()}: rotates q and k in place by the batch's positions. Then stores row t of k and v at
     * position {@code batch.positions()[t]} of layer {@code layer}'s cache, and out[t] = softmax(scores) · V over the
     * positions the spec lets row t see (causal, optionally windowed), scores = q[t]·Kᵀ · scale (soft-capped when the
     * spec says so); grouped-query: query head h reads KV head h / (heads / kvHeads).
     */
    void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec);

    /**
     * dst = the block of src starting at row {@code row}, column {@code col}, as large as dst (a row range, or the
     * columns of a fused projection).
     */
    void copy(Tensor dst, Tensor src, int row, int col);

    /** Storage for a paged KV cache. */
    KvCache createKvCache(KvLayout layout);

    /** Releases every buffer the backend holds. */
    @Override
    void close();

    // ---- conveniences over the ops above

    /** Uploads a GGML-typed weight. */
    default Tensor upload(String name, GgmlType type, int rows, int cols, MemorySegment bytes) {
        return upload(new GgmlWeight(name, type, rows, cols, bytes));
    }

    /** out = x · wᵀ. */
    default void matmul(Tensor out, Tensor x, Tensor w) {
        linear(x, new Linear(out, w));
    }
}
