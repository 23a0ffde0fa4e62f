package dev.infercl.backend.cpu;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.BackendUnavailableException;
import dev.infercl.backend.Batch;
import dev.infercl.backend.Capacity;
import dev.infercl.backend.ConfinementGuard;
import dev.infercl.backend.DeviceOutOfMemoryException;
import dev.infercl.backend.Elementwise;
import dev.infercl.backend.GgmlWeight;
import dev.infercl.backend.HostWeight;
import dev.infercl.backend.Int8Weight;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Measurable;
import dev.infercl.backend.Norm;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.util.concurrent.ForkJoinPool;

/**
 * The pure-Java backend. {@link Mode#FAST} runs Vector API kernels ({@link CpuGemm}, {@link CpuGemv},
 * {@link CpuAttention}, {@link CpuOps}) across all cores ({@link CpuParallel}) and fuses the one-token products it
 * has kernels for; {@link Mode#REFERENCE} runs the scalar {@link Reference} loops on one thread, op by op, the
 * oracle every fast path is tested against.
 */
public final class CpuBackend implements Backend, Measurable, Capacity {

    public enum Mode { FAST, REFERENCE }

    /** The JVM flag that {@link Mode#FAST} needs: the Vector API is an incubator module, absent unless added. */
    public static final String VECTOR_API_FLAG = "--add-modules jdk.incubator.vector";

    /** Whether this JVM has the Vector API (started with {@link #VECTOR_API_FLAG}); REFERENCE mode does without. */
    public static boolean vectorApiAvailable() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    private final Mode mode;
    private final int threads;
    private final ForkJoinPool pool;
    private long allocated;        // bytes of activations, scratch and KV caches allocated so far
    private double fmaRate;        // probeMultiplyAddRate, measured once
    private float[] scratch = new float[0]; // a product's values where no fused kernel applies: (rows, cols) of the widest use
    private final ConfinementGuard guard;   // one thread at a time: two would share the scratch array and the pool's regions

    public CpuBackend() {
        this(Mode.FAST, Runtime.getRuntime().availableProcessors());
    }

    /**
     * @throws BackendUnavailableException for {@link Mode#FAST} in a JVM without the Vector API, naming the flag
     *         that adds it (rather than a NoClassDefFoundError at the first product)
     */
    public CpuBackend(Mode mode, int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
        if (mode == Mode.FAST && !vectorApiAvailable()) {
            throw new BackendUnavailableException("the CPU backend needs the Vector API, which this JVM was started without:"
                    + " add the JVM flag " + VECTOR_API_FLAG + " (or use the reference backend, which is much slower)");
        }
        this.mode = mode;
        this.threads = threads;
        this.pool = mode == Mode.FAST ? new ForkJoinPool(threads) : null;
        this.guard = new ConfinementGuard("the CPU backend");
    }

    @Override
    public String name() {
        return mode == Mode.FAST ? "cpu (" + threads + " threads, Vector API)" : "cpu reference (scalar)";
    }

    @Override
    public Tensor upload(HostWeight w) {
        guard.enter();
        try {
            return switch (w) {
                case GgmlWeight g -> {
                    Dequant.requireComputable(g.type(), g.name());
                    yield new CpuTensor(g.name(), g.type(), g.rows(), g.cols(), null, g.bytes());
                }
                // the values stay where they are (usually the mapped file): int8, never widened
                case Int8Weight q -> new CpuTensor(q.name(), GgmlType.I8, q.rows(), q.cols(), null, q.values(), q);
            };
        } finally {
            guard.exit();
        }
    }

    @Override
    public Tensor allocate(String name, int rows, int cols) {
        guard.enter();
        try {
            allocated += 4L * rows * cols;
            return new CpuTensor(name, GgmlType.F32, rows, cols, new float[Math.multiplyExact(rows, cols)], null);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void free(Tensor activation) {
        guard.enter();
        try {
            allocated -= act(activation).markFreed();
        } finally {
            guard.exit();
        }
    }

    @Override
    public void write(Tensor dst, float[] src) {
        guard.enter();
        try {
            System.arraycopy(src, 0, act(dst).data, 0, src.length);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void read(Tensor src, float[] dst) {
        guard.enter();
        try {
            CpuTensor t = (CpuTensor) src;
            int count = t.rows * t.cols;
            if (t.data != null) System.arraycopy(t.data, 0, dst, 0, count);
            else if (t.int8 != null) System.arraycopy(t.floats(), 0, dst, 0, count);
            else Dequant.row(t.type, t.weight, 0, dst, 0, count);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void embed(Tensor out, Tensor table, int[] tokens) {
        guard.enter();
        try {
            CpuTensor o = act(out), w = (CpuTensor) table;
            for (int tok : tokens) {
                if (tok < 0 || tok >= w.rows) throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + w.rows + ")");
            }
            Reference.embed(o.data, w.weight, w.type, w.cols, tokens);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void norm(Tensor out, Tensor x, Norm norm) {
        guard.enter();
        try {
            CpuTensor o = act(out), in = act(x);
            float[] w = ((CpuTensor) norm.weight()).floats();
            if (norm.kind() == Norm.Kind.LAYER) {
                Reference.layerNorm(o.data, in.data, w, ((CpuTensor) norm.bias()).floats(), in.rows, in.cols, norm.eps());
            } else if (mode == Mode.REFERENCE) {
                Reference.rmsNorm(o.data, in.data, w, in.rows, in.cols, norm.eps());
            } else {
                CpuOps.rmsNorm(o.data, in.data, w, in.rows * in.cols / w.length, w.length, norm.eps()); // groups of w.length: rows or heads
            }
        } finally {
            guard.exit();
        }
    }

    /**
     * Decoding with weights it has kernels for, no biases and one accumulate mode: all outputs in one parallel
     * region (Q, K and V; a projection with its residual add). Otherwise product by product.
     */
    @Override
    public void linear(Tensor x, Linear... outputs) {
        guard.enter();
        try {
            CpuTensor in = act(x);
            if (fusedDecode(in, outputs)) {
                var parts = new CpuGemv.Rows[outputs.length];
                int[] rows = new int[outputs.length];
                float[][] dst = new float[outputs.length][];
                for (int j = 0; j < outputs.length; j++) {
                    CpuTensor w = (CpuTensor) outputs[j].weight();
                    parts[j] = CpuGemv.rows(w, in.data, in.cols);
                    rows[j] = w.rows;
                    dst[j] = act(outputs[j].out()).data;
                }
                CpuGemv.gemv(pool, parts, rows, dst, outputs[0].accumulate());
                return;
            }
            for (Linear l : outputs) {
                CpuTensor o = act(l.out()), w = (CpuTensor) l.weight();
                checkProduct(o, in, w);
                float[] dst = l.accumulate() ? scratch(in.rows * o.cols) : o.data;
                product(dst, in, w);
                if (l.bias() != null) Reference.map(dst, Elementwise.ADD_ROW, dst, ((CpuTensor) l.bias()).floats(), in.rows, o.cols);
                if (l.accumulate()) add(o.data, o.data, dst, in.rows * o.cols);
            }
        } finally {
            guard.exit();
        }
    }

    private boolean fusedDecode(CpuTensor in, Linear[] outputs) {
        for (Linear l : outputs) {
            CpuTensor w = (CpuTensor) l.weight(), o = act(l.out());
            if (!decode(in, w) || l.bias() != null || l.accumulate() != outputs[0].accumulate() || o.rows != 1 || o.cols != w.rows) return false;
        }
        return true;
    }

    /** SwiGLU while decoding: gate, up and the activation in one parallel region. Otherwise two products and the gate op. */
    @Override
    public void gatedLinear(Tensor out, Tensor x, Tensor gate, Tensor up, Elementwise glu) {
        guard.enter();
        try {
            if (!glu.gate()) throw new IllegalArgumentException("gatedLinear takes SILU_MUL or GELU_MUL, not " + glu.kind());
            CpuTensor in = act(x), o = act(out), g = (CpuTensor) gate, u = (CpuTensor) up;
            checkProduct(o, in, g);
            checkProduct(o, in, u);
            float[] upOut = scratch(in.rows * o.cols);
            if (glu.kind() == Elementwise.Kind.SILU_MUL && decode(in, g) && decode(in, u)) {
                CpuGemv.gemvSwiglu(pool, CpuGemv.rows(g, in.data, in.cols), CpuGemv.rows(u, in.data, in.cols), g.rows, o.data, upOut);
                return;
            }
            product(o.data, in, g);
            product(upOut, in, u);
            map(o.data, glu, o.data, upOut, in.rows, o.cols);
        } finally {
            guard.exit();
        }
    }

    /** The decode GEMV path applies: FAST mode, one activation row as wide as the weight, a weight it has a kernel for. */
    private boolean decode(CpuTensor x, CpuTensor w) {
        return mode == Mode.FAST && x.rows == 1 && x.cols == w.cols && CpuGemv.hasRows(w);
    }

    private static void checkProduct(CpuTensor o, CpuTensor in, CpuTensor w) {
        if (in.cols != w.cols || o.cols != w.rows || o.rows != in.rows) {
            throw new IllegalArgumentException("matmul shapes: out " + o.rows + "×" + o.cols + ", x " + in.rows + "×" + in.cols
                    + ", " + w.name + " " + w.rows + "×" + w.cols);
        }
    }

    /** dst (in.rows × w.rows) = in · wᵀ, for every weight type. */
    private void product(float[] dst, CpuTensor in, CpuTensor w) {
        if (decode(in, w)) {
            CpuGemv.gemv(pool, new CpuGemv.Rows[] {CpuGemv.rows(w, in.data, in.cols)}, new int[] {w.rows}, new float[][] {dst}, false);
            return;
        }
        boolean ref = mode == Mode.REFERENCE;
        if (w.int8 != null) {
            Int8Weight q = w.int8;
            if (q.quantizeActivations()) {
                if (ref) Reference.matmulW8A8(dst, in.data, in.rows, in.cols, q.values(), q.scales(), q.smooth(), q.rows());
                else CpuGemm.matmulW8A8(pool, dst, in.data, in.rows, in.cols, q.values(), q.scales(), q.smooth(), q.rows());
            } else {
                if (ref) Reference.matmulW8A16(dst, in.data, in.rows, in.cols, q.values(), q.scales(), q.groupSize(), q.rows());
                else CpuGemm.matmulW8A16(pool, dst, in.data, in.rows, in.cols, q.values(), q.scales(), q.groupSize(), q.rows());
            }
            return;
        }
        if (ref) Reference.matmul(dst, in.data, in.rows, in.cols, w.weight, w.type, w.rows);
        else CpuGemm.matmul(pool, dst, in.data, in.rows, in.cols, w.weight, w.type, w.rows);
    }

    @Override
    public void map(Tensor out, Elementwise op, Tensor a, Tensor b) {
        guard.enter();
        try {
            CpuTensor o = act(out), x = act(a);
            if (o.rows != x.rows || o.cols != x.cols) throw new IllegalArgumentException(op.kind() + ": " + o.name + " and " + x.name + " differ in shape");
            float[] y = null;
            if (op.binary()) {
                CpuTensor bt = (CpuTensor) b;
                boolean row = op.kind() == Elementwise.Kind.ADD_ROW;
                if (row ? bt.cols != x.cols || bt.rows != 1 : bt.rows != x.rows || bt.cols != x.cols) {
                    throw new IllegalArgumentException(op.kind() + ": " + bt.name + " (" + bt.rows + "×" + bt.cols + ") does not fit " + x.name);
                }
                y = row ? bt.floats() : act(b).data;
            }
            map(o.data, op, x.data, y, x.rows, x.cols);
        } finally {
            guard.exit();
        }
    }

    /** The element-wise ops over host arrays: SwiGLU and additions vectorised in FAST mode, the rest scalar. */
    private void map(float[] out, Elementwise op, float[] a, float[] b, int rows, int cols) {
        int count = rows * cols;
        if (mode == Mode.FAST && op.kind() == Elementwise.Kind.SILU_MUL) CpuOps.swiglu(out, a, b, count);
        else if (op.kind() == Elementwise.Kind.ADD) add(out, a, b, count);
        else Reference.map(out, op, a, b, rows, cols);
    }

    private void add(float[] out, float[] a, float[] b, int count) {
        if (mode == Mode.FAST) CpuOps.add(out, a, b, count);
        else Reference.map(out, Elementwise.ADD, a, b, 1, count);
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec) {
        guard.enter();
        try {
            CpuKvCache c = (CpuKvCache) cache;
            CpuTensor o = out == null ? null : act(out), qt = q == null ? null : act(q), kt = k == null ? null : act(k), vt = v == null ? null : act(v);
            if (qt == null || kt == null || !spec.causal() || spec.bias() != null) {
                // T5: the encoder's unmasked attention, cross-attention over a filled cache, relative-position bias
                if (spec.rope() != null) throw new IllegalArgumentException("rotary positions with a bias, unmasked or one-sided attention");
                int heads = qt != null ? qt.cols / c.layout.headDim() : c.layout.kvHeads();
                if (qt != null && spec.bias() != null && (spec.bias().table().cols() != heads || spec.bias().table().rows() != spec.bias().buckets())) {
                    throw new IllegalArgumentException("relative-position bias table " + spec.bias().table().name() + " is " + spec.bias().table().rows() + "×"
                            + spec.bias().table().cols() + ", expected " + spec.bias().buckets() + " buckets × " + heads + " heads");
                }
                if ((kt == null) != (vt == null) || (qt == null) != (o == null) || (qt == null && kt == null)) {
                    throw new IllegalArgumentException("attention needs k and v together, q and out together, and one of the pairs");
                }
                float[] bias = spec.bias() == null ? null : act(spec.bias().table()).data;
                if (mode == Mode.REFERENCE) {
                    Reference.attention(o == null ? null : o.data, qt == null ? null : qt.data, kt == null ? null : kt.data, vt == null ? null : vt.data,
                            c.k[layer], c.v[layer], c.layout, batch, heads, spec, bias);
                } else {
                    CpuAttention.attention(pool, o == null ? null : o.data, qt == null ? null : qt.data, kt == null ? null : kt.data,
                            vt == null ? null : vt.data, c.k[layer], c.v[layer], c.layout, batch, heads, spec, bias);
                }
                return;
            }
            int heads = qt.cols / c.layout.headDim(), n = batch.size();
            if (spec.rope() != null) {
                if (mode == Mode.REFERENCE) {
                    Reference.rope(qt.data, n, qt.cols, batch.positions(), spec.rope());
                    Reference.rope(kt.data, n, kt.cols, batch.positions(), spec.rope());
                } else {
                    CpuOps.rope(qt.data, n, qt.cols, batch.positions(), spec.rope());
                    CpuOps.rope(kt.data, n, kt.cols, batch.positions(), spec.rope());
                }
            }
            if (mode == Mode.REFERENCE) {
                Reference.attention(o.data, qt.data, kt.data, vt.data, c.k[layer], c.v[layer], c.layout, batch, heads, spec);
            } else {
                CpuAttention.attention(pool, o.data, qt.data, kt.data, vt.data, c.k[layer], c.v[layer], c.layout, batch, heads, spec);
            }
        } finally {
            guard.exit();
        }
    }

    @Override
    public void copy(Tensor dst, Tensor src, int row, int col) {
        guard.enter();
        try {
            CpuTensor d = act(dst), s = act(src);
            if (row < 0 || col < 0 || row + d.rows > s.data.length / s.cols || col + d.cols > s.cols) {
                throw new IllegalArgumentException("copy: rows " + row + ".." + (row + d.rows) + ", columns " + col + ".." + (col + d.cols)
                        + " of " + s.name + " (" + s.cols + " wide) into " + d.name);
            }
            Reference.copy(d.data, d.rows, d.cols, s.data, s.cols, row, col);
        } finally {
            guard.exit();
        }
    }

    @Override
    public KvCache createKvCache(KvLayout layout) {
        guard.enter();
        try {
            return newKvCache(layout);
        } finally {
            guard.exit();
        }
    }

    private KvCache newKvCache(KvLayout layout) {
        long bytes = kvCacheBytes(layout);
        CpuKvCache cache;
        try {
            cache = new CpuKvCache(layout, () -> allocated -= bytes);
        } catch (OutOfMemoryError e) {
            // one large allocation failed (the arrays already made are garbage now): the caller's checks estimate
            // the heap's headroom, and this is where an estimate that was too kind ends, as a named error
            throw new DeviceOutOfMemoryException("the JVM heap (at most " + Capacity.bytes(Runtime.getRuntime().maxMemory())
                    + ") cannot hold a KV cache of " + Capacity.bytes(bytes) + " (" + layout.capacityTokens() + " positions); "
                    + moreMemoryHint() + ", a shorter context (-c) needs less", bytes, e);
        }
        allocated += bytes;
        return cache;
    }

    // ---- capacity: the KV cache and activations are float arrays on the JVM heap

    /** The longest float[] a JVM allocates (as java.util's array growth assumes): one layer's K or V is one array. */
    private static final long MAX_ARRAY_FLOATS = Integer.MAX_VALUE - 8;

    @Override
    public long kvCacheBytes(KvLayout layout) {
        return Math.multiplyExact(2L * layout.layers(), kvBufferBytes(layout));
    }

    @Override
    public long kvBufferBytes(KvLayout layout) {
        return Math.multiplyExact(layout.valuesPerLayer(), (long) Float.BYTES);
    }

    /**
     * The heap's headroom: its maximum (-Xmx) less what is in use (garbage included) and less a sixth of the maximum,
     * which a heap filled to the last byte does not give to arrays of this size: the collector keeps a reserve
     * (G1's G1ReservePercent, 10%) and the young generation, and the run allocates besides.
     */
    @Override
    public long freeBytes() {
        Runtime rt = Runtime.getRuntime();
        return rt.maxMemory() - (rt.totalMemory() - rt.freeMemory()) - rt.maxMemory() / 6;
    }

    @Override
    public long maxBufferBytes() {
        return MAX_ARRAY_FLOATS * Float.BYTES;
    }

    @Override
    public String memoryName() {
        return "the JVM heap (at most " + Capacity.bytes(Runtime.getRuntime().maxMemory()) + ")";
    }

    @Override
    public String moreMemoryHint() {
        return "a larger heap (-Xmx, e.g. JAVA_TOOL_OPTIONS=-Xmx16g) holds more";
    }

    @Override
    public double probeReadBandwidth() {
        guard.enter();
        try {
            return CpuParallel.probeReadBandwidth(pool != null ? pool : new ForkJoinPool(1), 256L << 20);
        } finally {
            guard.exit();
        }
    }

    /** Float FMA whatever the type: this backend widens every weight type to float for its products. */
    @Override
    public double probeMultiplyAddRate(dev.infercl.gguf.GgmlType type) {
        guard.enter();
        try {
            if (fmaRate == 0) fmaRate = CpuParallel.probeFmaRate(pool != null ? pool : new ForkJoinPool(1));
            return fmaRate;
        } finally {
            guard.exit();
        }
    }

    @Override
    public int kvBytesPerValue() {
        return Float.BYTES;
    }

    @Override
    public long allocatedBytes() {
        guard.enter();
        try {
            return allocated;
        } finally {
            guard.exit();
        }
    }

    @Override
    public void close() {
        guard.enter();
        try {
            if (pool != null) pool.shutdown();
        } finally {
            guard.exit();
        }
    }

    /** The scratch array, grown to at least {@code count} floats. */
    private float[] scratch(int count) {
        if (scratch.length < count) {
            allocated += 4L * (count - scratch.length);
            scratch = new float[count];
        }
        return scratch;
    }

    private static CpuTensor act(Tensor t) {
        CpuTensor c = (CpuTensor) t;
        if (c.data == null) throw new IllegalArgumentException(c.name + " is a weight, not an activation");
        if (c.freed()) throw new IllegalStateException("activation '" + c.name + "' was freed");
        return c;
    }
}
