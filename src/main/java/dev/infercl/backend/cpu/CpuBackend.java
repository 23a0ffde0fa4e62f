package dev.infercl.backend.cpu;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.Int8Weight;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ForkJoinPool;

/**
 * The pure-Java backend. {@link Mode#FAST} runs Vector API kernels ({@link CpuKernels}) across all cores;
 * {@link Mode#REFERENCE} runs the scalar {@link Reference} loops on one thread, the oracle every fast path is
 * tested against.
 */
public final class CpuBackend implements Backend {

    public enum Mode { FAST, REFERENCE }

    private final Mode mode;
    private final int threads;
    private final ForkJoinPool pool;
    private long allocated;   // bytes of activations and KV caches allocated so far

    public CpuBackend() {
        this(Mode.FAST, Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(Mode mode, int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
        this.mode = mode;
        this.threads = threads;
        this.pool = mode == Mode.FAST ? new ForkJoinPool(threads) : null;
    }

    @Override
    public String name() {
        return mode == Mode.FAST ? "cpu (" + threads + " threads, Vector API)" : "cpu reference (scalar)";
    }

    @Override
    public Tensor upload(String name, GgmlType type, int rows, int cols, MemorySegment bytes) {
        Dequant.requireComputable(type, name);
        long need = Math.multiplyExact(type.byteSize(cols), (long) rows);
        if (bytes.byteSize() < need) {
            throw new IllegalArgumentException(name + ": " + bytes.byteSize() + " bytes, need " + need);
        }
        return new CpuTensor(name, type, rows, cols, null, bytes);
    }

    @Override
    public Tensor uploadInt8(Int8Weight w) {
        // the values stay where they are (usually the mapped file): int8, never widened
        return new CpuTensor(w.name(), GgmlType.I8, w.rows(), w.cols(), null, w.values(), w);
    }

    @Override
    public Tensor allocate(String name, int rows, int cols) {
        allocated += 4L * rows * cols;
        return new CpuTensor(name, GgmlType.F32, rows, cols, new float[Math.multiplyExact(rows, cols)], null);
    }

    @Override
    public void write(Tensor dst, float[] src) {
        System.arraycopy(src, 0, act(dst).data, 0, src.length);
    }

    @Override
    public void read(Tensor src, float[] dst) {
        CpuTensor t = (CpuTensor) src;
        int count = t.rows * t.cols;
        if (t.data != null) System.arraycopy(t.data, 0, dst, 0, count);
        else if (t.int8 != null) System.arraycopy(t.floats(), 0, dst, 0, count);
        else Dequant.row(t.type, t.weight, 0, dst, 0, count);
    }

    @Override
    public void embed(Tensor out, Tensor table, int[] tokens) {
        CpuTensor o = act(out), w = (CpuTensor) table;
        for (int tok : tokens) {
            if (tok < 0 || tok >= w.rows) throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + w.rows + ")");
        }
        Reference.embed(o.data, w.weight, w.type, w.cols, tokens);
    }

    @Override
    public void rmsNorm(Tensor out, Tensor x, Tensor weight, float eps) {
        CpuTensor o = act(out), in = act(x);
        float[] w = ((CpuTensor) weight).floats();
        if (mode == Mode.REFERENCE) Reference.rmsNorm(o.data, in.data, w, in.rows, in.cols, eps);
        else CpuKernels.rmsNorm(o.data, in.data, w, in.rows * in.cols / w.length, w.length, eps); // groups of w.length: rows or heads
    }

    @Override
    public void matmul(Tensor out, Tensor x, Tensor w) {
        CpuTensor o = act(out), in = act(x), wt = (CpuTensor) w;
        if (in.cols != wt.cols || o.cols != wt.rows || o.rows != in.rows) {
            throw new IllegalArgumentException("matmul shapes: out " + o.rows + "×" + o.cols + ", x " + in.rows + "×" + in.cols
                    + ", " + wt.name + " " + wt.rows + "×" + wt.cols);
        }
        if (decode(in, wt)) {
            CpuKernels.gemv(pool, new CpuKernels.Rows[] {CpuKernels.rows(wt, in.data, in.cols)}, new int[] {wt.rows}, new float[][] {o.data}, false);
            return;
        }
        if (wt.int8 != null) {
            Int8Weight q = wt.int8;
            if (q.quantizeActivations()) {
                if (mode == Mode.REFERENCE) Reference.matmulW8A8(o.data, in.data, in.rows, in.cols, q.values(), q.scales(), q.smooth(), q.rows());
                else CpuKernels.matmulW8A8(pool, o.data, in.data, in.rows, in.cols, q.values(), q.scales(), q.smooth(), q.rows());
            } else {
                if (mode == Mode.REFERENCE) Reference.matmulW8A16(o.data, in.data, in.rows, in.cols, q.values(), q.scales(), q.groupSize(), q.rows());
                else CpuKernels.matmulW8A16(pool, o.data, in.data, in.rows, in.cols, q.values(), q.scales(), q.groupSize(), q.rows());
            }
            return;
        }
        if (mode == Mode.REFERENCE) Reference.matmul(o.data, in.data, in.rows, in.cols, wt.weight, wt.type, wt.rows);
        else CpuKernels.matmul(pool, o.data, in.data, in.rows, in.cols, wt.weight, wt.type, wt.rows);
    }

    /**
     * Q, K and V (or a projection with its residual add) in one parallel region when decoding; otherwise, and in
     * REFERENCE mode, the interface's composition of matmul and add.
     */
    @Override
    public void matmulMany(Tensor[] outs, Tensor x, Tensor[] ws, boolean accumulate, Tensor[] scratch) {
        CpuTensor in = act(x);
        var parts = new CpuKernels.Rows[ws.length];
        int[] rows = new int[ws.length];
        float[][] dst = new float[ws.length][];
        for (int j = 0; j < ws.length; j++) {
            CpuTensor w = (CpuTensor) ws[j], o = act(outs[j]);
            if (!decode(in, w) || o.rows != 1 || o.cols != w.rows) {
                Backend.super.matmulMany(outs, x, ws, accumulate, scratch);
                return;
            }
            parts[j] = CpuKernels.rows(w, in.data, in.cols);
            rows[j] = w.rows;
            dst[j] = o.data;
        }
        CpuKernels.gemv(pool, parts, rows, dst, accumulate);
    }

    /** gate·up·SwiGLU in one parallel region when decoding; otherwise the interface's composition. */
    @Override
    public void matmulSwiglu(Tensor out, Tensor x, Tensor gate, Tensor up, Tensor scratch) {
        CpuTensor in = act(x), o = act(out), g = (CpuTensor) gate, u = (CpuTensor) up, sc = act(scratch);
        if (!decode(in, g) || !decode(in, u) || g.rows != u.rows || o.rows != 1 || o.cols != g.rows || sc.data.length < g.rows) {
            Backend.super.matmulSwiglu(out, x, gate, up, scratch);
            return;
        }
        CpuKernels.gemvSwiglu(pool, CpuKernels.rows(g, in.data, in.cols), CpuKernels.rows(u, in.data, in.cols), g.rows, o.data, sc.data);
    }

    /** The decode GEMV path applies: FAST mode, one activation row as wide as the weight, a weight it has a kernel for. */
    private boolean decode(CpuTensor x, CpuTensor w) {
        return mode == Mode.FAST && x.rows == 1 && x.cols == w.cols && CpuKernels.hasRows(w);
    }

    @Override
    public void rope(Tensor x, int[] positions, RopeSpec spec) {
        CpuTensor t = act(x);
        if (mode == Mode.REFERENCE) Reference.rope(t.data, t.rows, t.cols, positions, spec);
        else CpuKernels.rope(t.data, t.rows, t.cols, positions, spec);
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec) {
        CpuKvCache c = (CpuKvCache) cache;
        CpuTensor o = act(out), qt = act(q);
        int heads = qt.cols / c.layout.headDim();
        if (mode == Mode.REFERENCE) {
            Reference.attention(o.data, qt.data, act(k).data, act(v).data, c.k[layer], c.v[layer], c.layout,
                    batch.table(), batch.positions(), heads, spec);
        } else {
            CpuKernels.attention(pool, o.data, qt.data, act(k).data, act(v).data, c.k[layer], c.v[layer], c.layout,
                    batch.table(), batch.positions(), heads, spec);
        }
    }

    @Override
    public void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps) {
        CpuTensor o = act(out), in = act(x);
        Reference.layerNorm(o.data, in.data, ((CpuTensor) weight).floats(), ((CpuTensor) bias).floats(), in.rows, in.cols, eps);
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        CpuTensor a = act(x);
        Reference.addBias(a.data, ((CpuTensor) bias).floats(), a.rows);
    }

    @Override
    public void geglu(Tensor out, Tensor gate, Tensor up) {
        CpuTensor o = act(out);
        Reference.geglu(o.data, act(gate).data, act(up).data, o.rows * o.cols);
    }

    @Override
    public void gelu(Tensor out, Tensor x) {
        CpuTensor o = act(out);
        Reference.gelu(o.data, act(x).data, o.rows * o.cols);
    }

    @Override
    public void scale(Tensor x, float s) {
        CpuTensor a = act(x);
        Reference.scale(a.data, s, a.rows * a.cols);
    }

    @Override
    public void softcap(Tensor x, float cap) {
        CpuTensor a = act(x);
        Reference.softcap(a.data, cap, a.rows * a.cols);
    }

    @Override
    public void copyColumns(Tensor dst, Tensor src, int from) {
        CpuTensor d = act(dst), s = act(src);
        if (from < 0 || from + d.cols > s.cols || d.rows > s.rows) {
            throw new IllegalArgumentException("copyColumns: columns " + from + ".." + (from + d.cols) + " of " + s.cols);
        }
        Reference.copyColumns(d.data, d.cols, s.data, s.cols, from, d.rows);
    }

    @Override
    public void swiglu(Tensor out, Tensor gate, Tensor up) {
        CpuTensor o = act(out);
        if (mode == Mode.REFERENCE) Reference.swiglu(o.data, act(gate).data, act(up).data, o.rows * o.cols);
        else CpuKernels.swiglu(o.data, act(gate).data, act(up).data, o.rows * o.cols);
    }

    @Override
    public void add(Tensor x, Tensor y) {
        CpuTensor a = act(x);
        if (mode == Mode.REFERENCE) Reference.add(a.data, act(y).data, a.rows * a.cols);
        else CpuKernels.add(a.data, act(y).data, a.rows * a.cols);
    }

    @Override
    public void copyRows(Tensor dst, Tensor src, int from, int count) {
        CpuTensor d = act(dst), s = act(src);
        System.arraycopy(s.data, from * s.cols, d.data, 0, count * s.cols);
    }

    @Override
    public KvCache createKvCache(KvLayout layout) {
        allocated += 2L * layout.layers() * layout.valuesPerLayer() * Float.BYTES;
        return new CpuKvCache(layout);
    }

    @Override
    public double probeReadBandwidth() {
        return CpuKernels.probeReadBandwidth(pool != null ? pool : new ForkJoinPool(1), 256L << 20);
    }

    @Override
    public int kvBytesPerValue() {
        return Float.BYTES;
    }

    @Override
    public long allocatedBytes() {
        return allocated;
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdown();
    }

    private static CpuTensor act(Tensor t) {
        CpuTensor c = (CpuTensor) t;
        if (c.data == null) throw new IllegalArgumentException(c.name + " is a weight, not an activation");
        return c;
    }
}
