package dev.infercl.backend.opencl;

import static org.jocl.CL.CL_MEM_READ_ONLY;
import static org.jocl.CL.CL_MEM_WRITE_ONLY;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.Capacity;
import dev.infercl.backend.ConfinementGuard;
import dev.infercl.backend.Elementwise;
import dev.infercl.backend.HostWeight;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.KvType;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Measurable;
import dev.infercl.backend.Norm;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.jocl.Pointer;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;

/**
 * The OpenCL backend: every activation, weight and the KV cache live on one device; each op is one or a few kernel
 * launches on an in-order queue; {@link #read} is the only point where the host waits.
 *
 * <p>It is assembled from small parts: {@link ClRuntime} (context, queue, buffers, launches), {@link KernelLibrary}
 * (sources, builds, program cache), {@link KernelChooser} (every tunable and variant choice), {@link WeightUploader}
 * (weights in their own type, repacked for aligned loads), and the launchers per op family
 * ({@link ElementwiseLauncher}, {@link MatmulLauncher}, {@link AttentionLauncher}).
 */
public final class ClBackend implements Backend, Measurable, Capacity {
    private final Map<String, Double> multiplyAddRates = new java.util.HashMap<>(); // probe kernel → multiply-adds/s
    private static final long PROBE_BYTES = 256L << 20; // bandwidth probe: buffer size (capped by maxAlloc and memory)

    private final ClRuntime rt;
    private final KernelChooser choose;
    private final Kernels kernels;
    private final IntRing ints;
    private final WeightUploader weights;
    private final ElementwiseLauncher elementwise;
    private final MatmulLauncher matmul;
    private final AttentionLauncher attention;
    private final ConfinementGuard guard; // one thread at a time: two in the queue and kernel arguments crash the driver

    /** Opens the device {@code selector} names (index, name fragment, or null for the best) with the default options. */
    public static ClBackend open(String selector) {
        return open(selector, ClOptions.defaults());
    }

    public static ClBackend open(String selector, ClOptions options) {
        return new ClBackend(ClDevices.choose(selector), options);
    }

    private ClBackend(ClDevices.Found found, ClOptions options) {
        this.rt = new ClRuntime(found, options);
        this.choose = new KernelChooser(rt.info, options);
        this.kernels = new Kernels(new KernelLibrary(rt.context, rt.device, rt.info, choose.deviceDefines(),
                ProgramBinaryCache.atOrDisabled(options.programCache())));
        this.ints = new IntRing(rt, (int) Math.min(1 << 16, rt.maxAlloc() / 4)); // grows when a batch needs more
        this.weights = new WeightUploader(rt, options.wrapHostMemory());
        this.elementwise = new ElementwiseLauncher(rt, choose, kernels, ints);
        this.matmul = new MatmulLauncher(rt, choose, kernels, elementwise);
        this.attention = new AttentionLauncher(rt, choose, kernels, ints);
        this.guard = new ConfinementGuard("the OpenCL backend on " + rt.info.name());
    }

    public ClDevice device() {
        return rt.info;
    }

    /** Work-items that share each output value of a one-token product and each (KV head, chunk, row) of attention: 0 or a power of two. */
    public int lanes() {
        return choose.lanes;
    }

    @Override
    public String name() {
        return "opencl: " + rt.info.name() + " (" + rt.info.platform() + "), " + choose.kvType.name().toLowerCase(Locale.ROOT) + " KV cache"
                + (choose.lanes > 0 ? ", " + choose.lanes + "-lane kernels" : "");
    }

    // ---------------------------------------------------------------- what tests and benchmarks look at

    KernelChooser chooser() {
        return choose;
    }

    KernelLibrary library() {
        return kernels.library();
    }

    /** Stems of every kernel file launched so far. */
    Set<String> kernelsUsed() {
        return kernels.used();
    }

    long wrappedBytes() {
        return weights.wrappedBytes();
    }

    long copiedBytes() {
        return weights.copiedBytes();
    }

    long maxAlloc() {
        return rt.maxAlloc();
    }

    /** Waits for every queued command (tests and benchmarks; the model never needs it). */
    void finish() {
        rt.finish();
    }

    /** With {@link ClOptions#profile}: device nanoseconds and launch counts per launch label since the last call. */
    Map<String, long[]> takeProfile() {
        return rt.takeProfile();
    }

    /** Rotates q and k in place (rope_f32_f32, as attention does before an INT8 cache write): the tests' way to that kernel. */
    void rope(Tensor q, Tensor k, int[] positions, RopeSpec spec) {
        attention.rope(act(q), act(k), positions, spec);
    }

    /** One layer of an INT8 cache in the reference layout (see {@link AttentionLauncher#readKvInt8}). */
    void readKvInt8(KvCache cache, int layer, byte[] k, byte[] v, float[] ks, float[] vs) {
        attention.readKvInt8((ClKvCache) cache, layer, k, v, ks, vs);
    }

    // ---------------------------------------------------------------- the Backend ops

    @Override
    public Tensor upload(HostWeight w) {
        guard.enter();
        try {
            return weights.upload(w);
        } finally {
            guard.exit();
        }
    }

    @Override
    public Tensor allocate(String name, int rows, int cols) {
        guard.enter();
        try {
            cl_mem m = rt.create("activation '" + name + "' (" + rows + " × " + cols + " F32)", org.jocl.CL.CL_MEM_READ_WRITE, 4L * rows * cols, null);
            return ClTensor.activation(name, rows, cols, m);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void free(Tensor activation) {
        guard.enter();
        try {
            rt.release(act(activation).markFreed());
        } finally {
            guard.exit();
        }
    }

    @Override
    public void write(Tensor dst, float[] src) {
        ClTensor d = act(dst);
        if (src.length > (long) d.parts[0].rows() * d.cols) throw new IllegalArgumentException(d.name + ": " + src.length + " values do not fit");
        guard.enter();
        try {
            if (src.length > 0) rt.write(d.act(), 0, 4L * src.length, Pointer.to(src));
        } finally {
            guard.exit();
        }
    }

    @Override
    public void read(Tensor src, float[] dst) {
        guard.enter();
        try {
            readGuarded((ClTensor) src, dst);
        } finally {
            guard.exit();
        }
    }

    private void readGuarded(ClTensor s, float[] dst) {
        int count = s.rows * s.cols;
        if (count == 0) return;
        if (!s.weight) {
            rt.read(s.act(), 0, 4L * count, Pointer.to(dst));
        } else if (s.type == GgmlType.I8) {
            weights.readInt8(s, dst);
        } else {
            // a weight: dequantized on the device by the embedding gather of every row
            ClTensor tmp = (ClTensor) allocate(s.name + " (read)", s.rows, s.cols);
            try {
                elementwise.embed(tmp, s, IntStream.range(0, s.rows).toArray());
                rt.read(tmp.act(), 0, 4L * count, Pointer.to(dst));
            } finally {
                rt.release(tmp.act());
            }
        }
    }

    @Override
    public void embed(Tensor out, Tensor table, int[] tokens) {
        guard.enter();
        try {
            elementwise.embed(act(out), (ClTensor) table, tokens);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void norm(Tensor out, Tensor x, Norm norm) {
        guard.enter();
        try {
            elementwise.norm(act(out), act(x), norm);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void linear(Tensor x, Linear... outputs) {
        guard.enter();
        try {
            matmul.linear(act(x), outputs);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void gatedLinear(Tensor out, Tensor x, Tensor gate, Tensor up, Elementwise glu) {
        guard.enter();
        try {
            matmul.gated(act(out), act(x), (ClTensor) gate, (ClTensor) up, glu);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void map(Tensor out, Elementwise op, Tensor a, Tensor b) {
        guard.enter();
        try {
            elementwise.map(act(out), op, act(a), (ClTensor) b);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec) {
        guard.enter();
        try {
            attention.attention(out == null ? null : act(out), q == null ? null : act(q), k == null ? null : act(k), v == null ? null : act(v),
                    (ClKvCache) cache, layer, batch, spec);
        } finally {
            guard.exit();
        }
    }

    @Override
    public void copy(Tensor dst, Tensor src, int row, int col) {
        guard.enter();
        try {
            elementwise.copy(act(dst), act(src), row, col);
        } finally {
            guard.exit();
        }
    }

    @Override
    public KvCache createKvCache(KvLayout layout) {
        guard.enter();
        try {
            return attention.createCache(layout, this::releaseCacheBuffer);
        } finally {
            guard.exit();
        }
    }

    /** A cache's buffer, freed when its session closes: under the guard, since it changes the runtime's buffer table. */
    private void releaseCacheBuffer(cl_mem m) {
        guard.enter();
        try {
            rt.release(m);
        } finally {
            guard.exit();
        }
    }

    // ---------------------------------------------------------------- measurement

    @Override
    public double probeReadBandwidth() {
        guard.enter();
        try {
            return probeReadBandwidth(PROBE_BYTES);
        } finally {
            guard.exit();
        }
    }

    /**
     * Streams a buffer of about {@code bytes} (capped by the largest allocation and a quarter of global memory)
     * through bwprobe_f32_f32 with each of {@link KernelChooser#PROBE_VECS} floats per load: per width one warm-up
     * pass, then five timed around clFinish; the best pass of all. The widths differ by device: narrow loads leave a
     * CPU thread issuing loads rather than waiting on memory, while a GPU coalesces narrow ones.
     */
    double probeReadBandwidth(long bytes) {
        int widest = java.util.Arrays.stream(KernelChooser.PROBE_VECS).max().orElseThrow(), local = KernelChooser.PROBE_LOCAL;
        ClDevice info = rt.info;
        long size = Math.min(bytes, Math.min(rt.maxAlloc(), info.globalMemBytes() / 4)) / (4L * widest * local) * (4L * widest * local);
        if (size <= 0) throw new IllegalArgumentException("bandwidth probe: " + bytes + " bytes is too small");
        rt.finish();
        cl_mem in = rt.create("bandwidth probe input", CL_MEM_READ_ONLY, size, null);
        cl_mem out = null;
        try {
            long most = Math.max(local, Math.max(info.computeUnits(), 1) * (info.isGpu() ? 4096L : 256L));
            out = rt.create("bandwidth probe output", CL_MEM_WRITE_ONLY, 4L * most, null);
            rt.fill(in, 1f, size); // written once so every page is really backed (untouched memory can read a shared zero page)
            long best = Long.MAX_VALUE;
            for (int vec : KernelChooser.PROBE_VECS) {
                long items = Math.min(size / (4L * vec), most);
                items = Math.max(local, items / local * local);
                Map<String, String> defines = info.isCpu() ? Map.of("VEC", String.valueOf(vec), "CONTIGUOUS", "1") // one sequential stream per thread
                        : Map.of("VEC", String.valueOf(vec));
                cl_kernel k = kernels.get("bwprobe_f32_f32", defines);
                int vectors = (int) (size / (4L * vec));
                for (int run = 0; run < 6; run++) { // run 0 warms up
                    rt.finish();
                    long t0 = System.nanoTime();
                    rt.launch(k, "bandwidth probe").mem(in).i(vectors).mem(out).run(new long[] {items}, new long[] {local});
                    rt.finish();
                    long dt = System.nanoTime() - t0;
                    if (run > 0) best = Math.min(best, dt);
                }
            }
            return size / (best / 1e9);
        } finally {
            rt.release(in);
            rt.release(out);
        }
    }

    /**
     * The rate of the arithmetic this backend's products of many tokens use for {@code type}: AMX's int8 tile products
     * for Q8_0 where matmul_q8_0_q8_0_amx takes them, pmaddubsw's int8 products for the K-quants where
     * blocks_q8k.h does, float FMA otherwise (computeprobe_*). Each probe runs once per backend.
     */
    @Override
    public double probeMultiplyAddRate(dev.infercl.gguf.GgmlType type) {
        guard.enter();
        try {
            String probe = choose.amx(type, Integer.MAX_VALUE, false) ? "computeprobe_i8_i8_amx" : choose.q8k(type) ? "computeprobe_i8_i8" : "computeprobe_f32_f32";
            Double rate = multiplyAddRates.get(probe);
            if (rate == null) {
                try {
                    rate = probeMultiplyAddRate(probe);
                } catch (KernelBuildException e) { // the int8 paths fall back to float where their kernels do not build
                    probe = "computeprobe_f32_f32";
                    rate = multiplyAddRates.containsKey(probe) ? multiplyAddRates.get(probe) : probeMultiplyAddRate(probe);
                }
                multiplyAddRates.put(probe, rate);
            }
            return rate;
        } finally {
            guard.exit();
        }
    }

    /** One probe kernel: iterations doubled until a launch takes 50 ms, then the best of three launches. */
    private double probeMultiplyAddRate(String probe) {
        ClDevice info = rt.info;
        boolean amx = probe.endsWith("_amx");
        int local = info.isGpu() ? 64 : 1;
        long items = (long) Math.max(info.computeUnits(), 1) * (info.isGpu() ? 2048 : 4);
        Map<String, String> defines = probe.equals("computeprobe_i8_i8") && choose.q8k > 0 ? Map.of("Q8K_BYTES", String.valueOf(choose.q8k)) : Map.of();
        cl_kernel k = kernels.get(probe, defines);
        int vectorBytes = probe.equals("computeprobe_i8_i8") ? (choose.q8k > 0 ? choose.q8k : 64) : 0;
        // multiply-adds per iteration and work-item, as each kernel's header states
        double perIteration = amx ? 65536 : vectorBytes > 0 ? 8.0 * vectorBytes : 128;
        rt.finish();
        cl_mem in = rt.create("compute probe input", CL_MEM_READ_ONLY, 2048, null), out = null;
        try {
            out = rt.create("compute probe output", CL_MEM_WRITE_ONLY, (amx ? 1024L : 4L) * items, null);
            rt.fill(in, 1f, 2048);
            int iterations = 1 << 10;
            long best = Long.MAX_VALUE;
            for (int run = -1; run < 3; run++) { // run -1 warms up (the device compiles the kernel for its launch shape)
                rt.finish();
                long t0 = System.nanoTime();
                var launch = rt.launch(k, "compute probe").i(iterations);
                if (!probe.equals("computeprobe_f32_f32")) launch.mem(in).mem(out);
                else launch.f(0.999f).mem(out);
                launch.run(new long[] {items}, new long[] {local});
                rt.finish();
                long dt = System.nanoTime() - t0;
                if (run < 0) continue;
                if (best == Long.MAX_VALUE && dt < 50_000_000L && iterations < 1 << 28) {
                    iterations *= 2; // calibrating: the three counted runs start once a launch takes 50 ms
                    run = -1;
                } else {
                    best = Math.min(best, dt);
                }
            }
            return items * (double) iterations * perIteration / (best / 1e9);
        } finally {
            rt.release(in);
            rt.release(out);
        }
    }

    // ---------------------------------------------------------------- capacity

    @Override
    public long kvCacheBytes(KvLayout layout) {
        // per layer K and V, and for INT8 their F32 scales per (block, KV head)
        long scales = choose.kvType == KvType.I8 ? Math.multiplyExact(4L * layout.numBlocks(), (long) layout.kvHeads()) : 0;
        return Math.multiplyExact(2L * layout.layers(), Math.addExact(kvBufferBytes(layout), scales));
    }

    @Override
    public long kvBufferBytes(KvLayout layout) {
        return Math.multiplyExact(layout.valuesPerLayer(), (long) choose.kvType.bytesPerValue());
    }

    /** The device's global memory less what this backend holds (what other processes hold is not known here). */
    @Override
    public long freeBytes() {
        return rt.info.globalMemBytes() - rt.allocatedBytes();
    }

    @Override
    public long maxBufferBytes() {
        return rt.maxAlloc();
    }

    @Override
    public String memoryName() {
        return "device " + rt.info.name() + " (" + Capacity.bytes(rt.info.globalMemBytes()) + " global memory, buffers of at most "
                + Capacity.bytes(rt.maxAlloc()) + ")";
    }

    @Override
    public String moreMemoryHint() {
        return switch (choose.kvType) {
            case F32 -> "a smaller KV cache type holds more (--kv-type f16, or i8)";
            case F16 -> "the INT8 KV cache holds twice as much (--kv-type i8)";
            default -> "";
        };
    }

    @Override
    public int kvBytesPerValue() {
        return choose.kvType.bytesPerValue();
    }

    @Override
    public long allocatedBytes() {
        guard.enter();
        try {
            return rt.allocatedBytes();
        } finally {
            guard.exit();
        }
    }

    @Override
    public void close() {
        guard.enter();
        try {
            rt.finish();
        } finally {
            try {
                kernels.library().close();
                rt.close();
            } finally {
                guard.exit();
            }
        }
    }

    /** A tensor the op reads or writes as an activation (a weight here is a caller's mistake, named). */
    static ClTensor act(Tensor t) {
        ClTensor c = (ClTensor) t;
        c.act();
        return c;
    }
}
