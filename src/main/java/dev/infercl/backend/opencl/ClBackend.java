package dev.infercl.backend.opencl;

import static org.jocl.CL.*;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.DeviceOutOfMemoryException;
import dev.infercl.backend.Int8Weight;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.KvType;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_context_properties;
import org.jocl.cl_device_id;
import org.jocl.cl_event;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
import org.lwjgl.PointerBuffer;
import org.lwjgl.opencl.CL10;
import org.lwjgl.system.MemoryStack;

/**
 * The OpenCL backend: every activation, weight and the KV cache live on one device; each op is one or two
 * kernel launches on an in-order queue; {@link #read} is the only point where the host waits.
 *
 * <p>Weights keep their file type (Q8_0 is repacked into superblocks, Q4_0 into values + F16 scales; never widened). On a CPU
 * device a suitably aligned mapped weight is wrapped in place ({@code CL_MEM_USE_HOST_PTR}); elsewhere it is
 * copied once. A weight larger than the maximum allocation is split into row ranges.
 */
public final class ClBackend implements Backend {

    /** Matrix-product kernels; see {@link #matmulKernel}. */
    public enum MatmulKernel { GEMV, GEMM }

    /** Attention kernels; see {@link #attentionKernel}. */
    public enum AttentionKernel { FUSED, SPLIT, LANES }

    /**
     * Construction options.
     *
     * @param maxAllocBytes   largest buffer to allocate (≤ 0: the device's CL_DEVICE_MAX_MEM_ALLOC_SIZE); lowering
     *                        it forces weights to be split (system property {@code infercl.opencl.maxAlloc})
     * @param forceMatmul     use this matmul kernel whatever the shape (null: choose)
     * @param forceAttention  use this attention kernel whatever the shape (null: choose; system property
     *                        {@code infercl.opencl.attention=fused|split|lanes} for A/B measurements)
     * @param wrapHostMemory  on a CPU device, wrap aligned mapped weights instead of copying them
     * @param kvType          how the KV cache is stored: FP16, F32 (twice the memory, exact keys and values) or INT8
     *                        with a scale per (block, head) (half of FP16); null: FP16 on every device (on POCL
     *                        too since session 8: attention at 2048 positions reads half the bytes and ran 3.6–4.3
     *                        against 6.0 ms per 1b token with F32; docs/PERFORMANCE.md); F32 keeps logits within
     *                        ~1e-5 of exact arithmetic instead of ~1e-2; system property
     *                        {@code infercl.opencl.kvCache=f16|f32|i8}
     */
    public record Options(long maxAllocBytes, MatmulKernel forceMatmul, AttentionKernel forceAttention, boolean wrapHostMemory,
                          KvType kvType) {
        public static Options defaults() {
            String attention = System.getProperty("infercl.opencl.attention");
            return new Options(Long.getLong("infercl.opencl.maxAlloc", 0L), null,
                    attention == null ? null : AttentionKernel.valueOf(attention.toUpperCase(java.util.Locale.ROOT)), true,
                    System.getProperty("infercl.opencl.kvCache") == null ? null : KvType.parse(System.getProperty("infercl.opencl.kvCache")));
        }

        public Options withKvType(KvType type) {
            return new Options(maxAllocBytes, forceMatmul, forceAttention, wrapHostMemory, type);
        }

        /** F32 (true) or FP16 (false). */
        public Options withKvCacheF32(boolean f32) {
            return withKvType(f32 ? KvType.F32 : KvType.F16);
        }

        public Options withMaxAlloc(long bytes) {
            return new Options(bytes, forceMatmul, forceAttention, wrapHostMemory, kvType);
        }

        public Options withMatmul(MatmulKernel k) {
            return new Options(maxAllocBytes, k, forceAttention, wrapHostMemory, kvType);
        }

        public Options withAttention(AttentionKernel k) {
            return new Options(maxAllocBytes, forceMatmul, k, wrapHostMemory, kvType);
        }
    }

    // host-side tunables (the kernel files hold the matching -D defaults)
    private static final int GEMV_LOCAL = 32;    // rows per work-group of the GEMV kernels (notes/pocl-gemv.md)
    private static final int TILE_R = 32;        // GEMM: work-items per work-group
    private static final int SPLIT_CHUNK = 256;  // split attention: positions per split
    private static final Map<String, String> PER_VALUE = Map.of("PER_VALUE", "1"); // the combine's GPU shape
    private static final int KV_LOCAL = 32;      // kvwrite_i8_f32: work-items per (block, head) group
    private static final int ELEMENT_LOCAL = 64; // element-wise kernels: work-group size
    private static final long PROBE_BYTES = 256L << 20; // bandwidth probe: buffer size (capped by maxAlloc)

    private final ClDevice info;
    private final Options options;
    private final KvType kvType;   // resolved: the option, else FP16
    private final long maxAlloc;
    private final cl_context context;
    private final cl_command_queue queue;
    private final long queueAddress;  // the queue's native handle, for the LWJGL launch path
    private final KernelLibrary kernels;
    private final int normLocal;
    private final int gemmRows, gemmTokens;  // every GEMM's register tile per work-item: weight rows × tokens
    private final int lanes;                 // GPU-shaped kernels' work-group: 0 on CPU devices (see the constructor)
    private final IdentityHashMap<cl_mem, Long> buffers = new IdentityHashMap<>(); // every live buffer → bytes
    private final Map<RopeKey, cl_mem> invFreqs = new HashMap<>();                 // rope tables (ropeDims/2) F32 per RopeKey
    private final IntRing ints;
    private cl_mem quantScratch;                                                   // W8A8: (tokens, in) int8 activations
    private long quantScratchBytes;
    private cl_mem tokenScales;                                                    // W8A8: (tokens) F32 activation scales
    private long tokenScalesBytes;
    private cl_mem splitScratch;                                                   // split attention partials
    private long splitScratchBytes;
    private long wrappedBytes, copiedBytes;

    /**
     * A rope table's identity. A record compares an array component by reference, so a model's rope_freqs
     * factors (one array per loaded model) map to one uploaded table, never one per call.
     */
    private record RopeKey(int ropeDims, float base, float[] factors) {}

    /**
     * Debug switch {@code -Dinfercl.opencl.profile=true}: the queue records an event per launch, so
     * {@link #takeProfile} can report device time per kernel stem. Off by default: events cost a little per launch.
     */
    static final boolean FUSE = !"false".equals(System.getProperty("infercl.opencl.fuse")); // -Dinfercl.opencl.fuse=false: general kernels only (A/B)
    static final boolean PROFILE = Boolean.getBoolean("infercl.opencl.profile");
    /**
     * Kernel launches (set the arguments, enqueue) go through LWJGL's OpenCL binding: a JOCL clSetKernelArg costs
     * ~1–1.7 µs of host time (a Pointer and an array per argument, pinned in JNI), LWJGL's ~0.05 µs, and a one-token
     * forward sets about a thousand arguments (LaunchBench, docs/PERFORMANCE.md). Everything else stays on JOCL.
     * {@code -Dinfercl.opencl.binding=jocl} launches through JOCL too (A/B); the profiling queue always does.
     */
    static final boolean LWJGL = !"jocl".equals(System.getProperty("infercl.opencl.binding")) && lwjglLoads();

    /**
     * LWJGL ships its native library per platform (the build carries linux x86-64 only); where it cannot load, the
     * launches stay on JOCL, which works everywhere the backend does, and one log line says so.
     */
    private static boolean lwjglLoads() {
        try {
            org.lwjgl.opencl.CL.getFunctionProvider(); // loads LWJGL's natives and binds the system's OpenCL loader
            return true;
        } catch (LinkageError | RuntimeException e) {
            java.util.logging.Logger.getLogger(ClBackend.class.getName()).info(
                    "LWJGL's OpenCL binding did not load (" + e + "); kernel launches go through JOCL");
            return false;
        }
    }
    private final List<String> profiledStems = new ArrayList<>();
    private final List<cl_event> profiledEvents = new ArrayList<>();

    private final java.util.Set<String> kernelsUsed = new java.util.TreeSet<>(); // stems launched so far (tests check coverage)

    /** Opens the device {@code selector} names (index, name fragment, or null for the best). */
    public static ClBackend open(String selector) {
        return open(selector, Options.defaults());
    }

    public static ClBackend open(String selector, Options options) {
        return new ClBackend(ClDevices.choose(selector), options);
    }

    private ClBackend(ClDevices.Found found, Options options) {
        this.info = found.info();
        this.options = options;
        this.kvType = options.kvType() != null ? options.kvType() : KvType.F16;
        long deviceMax = Math.min(info.maxAllocBytes(), Integer.MAX_VALUE & ~0xfffL); // a part must fit one ByteBuffer
        this.maxAlloc = options.maxAllocBytes() > 0 ? Math.min(options.maxAllocBytes(), deviceMax) : deviceMax;
        var props = new cl_context_properties();
        props.addProperty(CL_CONTEXT_PLATFORM, found.platform());
        this.context = clCreateContext(props, 1, new cl_device_id[] {found.device()}, null, null, null);
        @SuppressWarnings("deprecation")
        cl_command_queue q = clCreateCommandQueue(context, found.device(), PROFILE ? CL_QUEUE_PROFILING_ENABLE : 0, null); // in-order: ops need no events
        this.queue = q;
        this.queueAddress = q.getNativePointer();
        this.normLocal = info.isGpu() ? 256 : 64;
        var defines = new HashMap<>(Map.of("LOCAL", String.valueOf(normLocal), "TILE_R", String.valueOf(TILE_R),
                "CHUNK", String.valueOf(SPLIT_CHUNK)));
        if (kvType == KvType.F32) defines.put("KV_F32", "1");
        if (kvType == KvType.I8) defines.put("KV_I8", "1");
        // GEMM: GPUs stage x in local memory (coalesced); CPUs read it directly. -Dinfercl.opencl.stageX=true forces
        // the staged path on a CPU device, so the parity tests cover it.
        if (info.isGpu() || Boolean.getBoolean("infercl.opencl.stageX")) defines.put("STAGE_X", "1");
        // GEMM tile: 3 rows × 8 tokens (24 float16 accumulators of AVX-512's 32 registers) was fastest on
        // POCL of 4×4, 2×8, 4×6, 2×12 and 3×8 (A/B on the 1b FFN shape); GPUs keep one row × 16 tokens per item.
        this.gemmRows = info.isGpu() ? 1 : 3;
        this.gemmTokens = info.isGpu() ? 16 : 8;
        // GPUs: a work-group of `lanes` work-items shares each one-token product's output value (gemv_lanes.h) and
        // each (KV head, chunk, row) of attention (attention_lanes.h): coalesced reads and enough work-items in flight.
        // CPU devices keep one work-item per output or per (KV head, row). -Dinfercl.opencl.lanes=N forces N lanes
        // (0: off), so the parity tests cover the GPU shapes on a CPU device.
        this.lanes = lanes(info);
        if (lanes > 0) defines.put("GEMV_LANES", String.valueOf(lanes));
        this.kernels = new KernelLibrary(context, found.device(), info, defines);
        this.ints = new IntRing(1 << 16);
    }

    /** Lanes of the GPU-shaped kernels: {@code infercl.opencl.lanes} if set (0, or a power of two 2–256), else 32 on GPUs, 0 elsewhere. */
    static int lanes(ClDevice info) {
        String forced = System.getProperty("infercl.opencl.lanes");
        if (forced == null) return info.isGpu() ? 32 : 0;
        int lanes;
        try {
            lanes = Integer.parseInt(forced.trim());
        } catch (NumberFormatException e) {
            lanes = -1;
        }
        if (lanes != 0 && (lanes < 2 || lanes > 256 || Integer.bitCount(lanes) != 1)) {
            throw new IllegalArgumentException("infercl.opencl.lanes must be 0 or a power of two from 2 to 256, not '" + forced + "'");
        }
        return lanes;
    }

    public ClDevice device() {
        return info;
    }

    /**
     * Work-items that share each output value of a one-token product and each (KV head, chunk, row) of attention:
     * 0 (one work-item each, the CPU-device shapes) or a power of two (the GPU shapes).
     */
    public int lanes() {
        return lanes;
    }

    @Override
    public String name() {
        return "opencl: " + info.name() + " (" + info.platform() + "), " + kvType.name().toLowerCase(java.util.Locale.ROOT) + " KV cache"
                + (lanes > 0 ? ", " + lanes + "-lane kernels" : "");
    }

    /** Bytes of weights wrapped in place / copied to the device so far. */
    long wrappedBytes() {
        return wrappedBytes;
    }

    long copiedBytes() {
        return copiedBytes;
    }

    long maxAlloc() {
        return maxAlloc;
    }

    java.util.Set<String> kernelsUsed() {
        return kernelsUsed;
    }

    KernelLibrary kernels() {
        return kernels;
    }

    // ---------------------------------------------------------------- buffers

    private cl_mem create(String what, long flags, long bytes, Pointer host) {
        if (bytes > maxAlloc) {
            throw new DeviceOutOfMemoryException(what + " needs " + bytes + " bytes in one buffer, more than the largest allocation ("
                    + maxAlloc + " bytes) of " + info.name(), bytes, null);
        }
        try {
            cl_mem m = clCreateBuffer(context, flags, Math.max(bytes, 4), host, null);
            buffers.put(m, bytes);
            return m;
        } catch (CLException e) {
            throw outOfMemory(what, bytes, e);
        }
    }

    private RuntimeException outOfMemory(String what, long bytes, CLException e) {
        int s = e.getStatus();
        if (s == CL_MEM_OBJECT_ALLOCATION_FAILURE || s == CL_OUT_OF_RESOURCES || s == CL_OUT_OF_HOST_MEMORY || s == CL_INVALID_BUFFER_SIZE) {
            long held = buffers.values().stream().mapToLong(Long::longValue).sum();
            return new DeviceOutOfMemoryException("device " + info.name() + " is out of memory (" + CL.stringFor_errorCode(s) + ") for " + what
                    + (bytes > 0 ? ": needs " + bytes + " more bytes" : "") + " with " + held + " bytes already allocated of "
                    + info.globalMemBytes() + " global", bytes, e);
        }
        return e;
    }

    private void release(cl_mem m) {
        if (buffers.remove(m) != null) clReleaseMemObject(m);
    }

    @Override
    public Tensor upload(String name, GgmlType type, int rows, int cols, MemorySegment bytes) {
        Dequant.requireComputable(type, name);
        long rowBytes = type.byteSize(cols);
        long need = Math.multiplyExact(rowBytes, (long) rows);
        if (bytes.byteSize() < need) throw new IllegalArgumentException(name + ": " + bytes.byteSize() + " bytes, need " + need);
        boolean quant = type == GgmlType.Q8_0 || type == GgmlType.Q4_0;
        if (quant && cols % 32 != 0) throw new IllegalArgumentException(name + ": " + type + " rows must be a multiple of 32 values, got " + cols);
        long valueBytes = switch (type) { // bytes per row of the largest buffer of a part
            case Q8_0 -> q8RowBytes(cols);
            case Q4_0 -> cols / 2;
            default -> rowBytes;
        };
        if (valueBytes > maxAlloc) {
            throw new DeviceOutOfMemoryException(name + ": one row of " + valueBytes + " bytes exceeds the largest allocation (" + maxAlloc
                    + " bytes) of " + info.name(), valueBytes, null);
        }
        int rowsPerPart = (int) Math.min(rows, maxAlloc / valueBytes);
        List<ClTensor.Part> parts = new ArrayList<>();
        for (int r0 = 0; r0 < rows; r0 += rowsPerPart) {
            int n = Math.min(rowsPerPart, rows - r0);
            MemorySegment src = bytes.asSlice(r0 * rowBytes, n * rowBytes);
            String what = "weight '" + name + "' rows " + r0 + ".." + (r0 + n - 1);
            parts.add(quant ? uploadQuant(what, type, n, cols, r0, src) : uploadDense(what, r0, n, src));
        }
        cl_mem vec = null;
        if (rows == 1 && (type == GgmlType.F16 || type == GgmlType.BF16)) {
            float[] f = new float[cols];
            Dequant.row(type, bytes, 0, f, 0, cols);
            vec = create("weight '" + name + "' as F32", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * cols, Pointer.to(f));
        }
        return new ClTensor(name, type, rows, cols, true, parts.toArray(ClTensor.Part[]::new), vec);
    }

    private ClTensor.Part uploadDense(String what, int r0, int n, MemorySegment src) {
        long bytes = src.byteSize();
        boolean aligned = src.isNative() && src.address() % Math.max(info.baseAddrAlignBytes(), 1) == 0;
        if (info.isCpu() && options.wrapHostMemory() && aligned) {
            wrappedBytes += bytes;
            return new ClTensor.Part(r0, n, create(what, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR, bytes, Pointer.to(src.asByteBuffer())), null);
        }
        copiedBytes += bytes;
        var part = new ClTensor.Part(r0, n, create(what, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, hostPointer(src)), null);
        dropMappedPages(src); // copied at creation: the device reads its copy, the file's pages need not stay resident
        return part;
    }

    /**
     * Bytes of one Q8_0 row in the superblock layout of the Q8_0 kernels: per 16 blocks, their 16 F16 scales (32
     * bytes, zero past the row's last block) followed by their values (32 bytes each).
     */
    static long q8RowBytes(int cols) {
        return cols + 32L * ((cols / 32 + 15) / 16);
    }

    /**
     * Repacks GGML blocks (scale, values). Q8_0 into superblocks ({@link #q8RowBytes}): one stream per row, every
     * vector load 32-byte aligned. Q4_0 into two arrays: all values of a row contiguous, the scales apart.
     */
    private ClTensor.Part uploadQuant(String what, GgmlType type, int n, int cols, int r0, MemorySegment src) {
        int blocks = cols / 32;
        if (type == GgmlType.Q8_0) {
            long rowBytes = q8RowBytes(cols), bytes = n * rowBytes;
            cl_mem q = create(what + " superblocks", CL_MEM_READ_ONLY, bytes, null);
            // Packed through one small staging area (1 MiB), written row range by row range. A staging copy of the whole
            // part, or of 16 MiB, left ~65 MB more resident after loading 1b Q8_0 on POCL (1.31 → 1.39 GB: the freed
            // staging stays as holes in the C heap); a buffer mapping needs none, but JOCL waits for each unmap on a
            // thread of its own, which crashed oclgrind.
            int rowsPerChunk = (int) Math.max(1, Math.min(n, (1L << 20) / rowBytes));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment staging = arena.allocate(rowsPerChunk * rowBytes, 32);
                for (int c0 = 0; c0 < n; c0 += rowsPerChunk) {
                    int m = Math.min(rowsPerChunk, n - c0);
                    MemorySegment chunk = staging.asSlice(0, m * rowBytes);
                    packQ8(src.asSlice((long) c0 * blocks * 34), chunk, m, blocks, rowBytes);
                    clEnqueueWriteBuffer(queue, q, CL_TRUE, c0 * rowBytes, chunk.byteSize(), Pointer.to(chunk.asByteBuffer()), 0, null, null);
                }
            }
            copiedBytes += bytes;
            dropMappedPages(src); // the repacked copy is all the device reads: the file's pages need not stay resident
            return new ClTensor.Part(r0, n, q, null);
        }
        // Q4_0: values and scales packed row range by row range through 1 MiB of staging, like Q8_0
        long valueRow = blocks * 16L, scaleRow = blocks * 2L;
        cl_mem q = create(what + " values", CL_MEM_READ_ONLY, n * valueRow, null);
        cl_mem s = create(what + " scales", CL_MEM_READ_ONLY, n * scaleRow, null);
        int rowsPerChunk = (int) Math.max(1, Math.min(n, (1L << 20) / (valueRow + scaleRow)));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment qs = arena.allocate(rowsPerChunk * valueRow, 32), d = arena.allocate(rowsPerChunk * scaleRow, 32);
            for (int c0 = 0; c0 < n; c0 += rowsPerChunk) {
                int m = Math.min(rowsPerChunk, n - c0);
                for (long b = 0; b < (long) m * blocks; b++) {
                    long from = ((long) c0 * blocks + b) * 18;
                    MemorySegment.copy(src, from, d, b * 2, 2);
                    MemorySegment.copy(src, from + 2, qs, b * 16, 16);
                }
                clEnqueueWriteBuffer(queue, q, CL_TRUE, c0 * valueRow, m * valueRow, Pointer.to(qs.asByteBuffer()), 0, null, null);
                clEnqueueWriteBuffer(queue, s, CL_TRUE, c0 * scaleRow, m * scaleRow, Pointer.to(d.asByteBuffer()), 0, null, null);
            }
        }
        copiedBytes += n * (valueRow + scaleRow);
        dropMappedPages(src); // the repacked copy is all the device reads: the file's pages need not stay resident
        return new ClTensor.Part(r0, n, q, s);
    }

    /** rows GGML Q8_0 rows of src into dst in the superblock layout ({@link #q8RowBytes}), unused scale slots zeroed. */
    private static void packQ8(MemorySegment src, MemorySegment dst, int rows, int blocks, long rowBytes) {
        for (long r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                long from = (r * blocks + b) * 34, sb = r * rowBytes + (b / 16) * 544L;
                MemorySegment.copy(src, from, dst, sb + (b % 16) * 2, 2);
                MemorySegment.copy(src, from + 2, dst, sb + 32 + (b % 16) * 32, 32);
            }
            if (blocks % 16 != 0) dst.asSlice(r * rowBytes + (blocks / 16) * 544L + (blocks % 16) * 2, 32 - (blocks % 16) * 2).fill((byte) 0);
        }
    }

    @Override
    public Tensor uploadInt8(Int8Weight w) {
        int rows = w.rows(), cols = w.cols(), groups = w.groups();
        if (cols > maxAlloc) {
            throw new DeviceOutOfMemoryException(w.name() + ": one row of " + cols + " bytes exceeds the largest allocation (" + maxAlloc
                    + " bytes) of " + info.name(), cols, null);
        }
        int rowsPerPart = (int) Math.min(rows, maxAlloc / cols);
        List<ClTensor.Part> parts = new ArrayList<>();
        for (int r0 = 0; r0 < rows; r0 += rowsPerPart) {
            int n = Math.min(rowsPerPart, rows - r0);
            String what = "weight '" + w.name() + "' rows " + r0 + ".." + (r0 + n - 1);
            ClTensor.Part values = uploadDense(what + " int8 values", r0, n, w.values().asSlice((long) r0 * cols, (long) n * cols));
            float[] sc = Arrays.copyOfRange(w.scales(), r0 * groups, (r0 + n) * groups);
            cl_mem scales = create(what + " scales", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * sc.length, Pointer.to(sc));
            copiedBytes += 4L * sc.length;
            parts.add(new ClTensor.Part(r0, n, values.data(), scales));
        }
        cl_mem smooth = w.smooth() == null ? null
                : create("weight '" + w.name() + "' smoothing vector", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * cols, Pointer.to(w.smooth()));
        return new ClTensor(w.name(), GgmlType.I8, rows, cols, true, parts.toArray(ClTensor.Part[]::new), null,
                w.groupSize(), w.quantizeActivations(), smooth);
    }

    /** An I8 weight read back and dequantized on the host (q · scale). */
    private void readInt8(ClTensor s, float[] dst) {
        int gs = s.groupSize == 0 ? s.cols : s.groupSize, groups = s.cols / gs;
        for (ClTensor.Part p : s.parts) {
            int rows = Math.min(p.rows(), s.rows - p.row0());
            if (rows <= 0) continue;
            byte[] q = new byte[rows * s.cols];
            float[] sc = new float[rows * groups];
            clEnqueueReadBuffer(queue, p.data(), CL_TRUE, 0, q.length, Pointer.to(q), 0, null, null);
            clEnqueueReadBuffer(queue, p.scales(), CL_TRUE, 0, 4L * sc.length, Pointer.to(sc), 0, null, null);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < s.cols; j++) dst[(p.row0() + r) * s.cols + j] = q[r * s.cols + j] * sc[r * groups + j / gs];
            }
        }
    }

    private static final java.lang.invoke.MethodHandle MADVISE = java.lang.foreign.Linker.nativeLinker().defaultLookup().find("madvise")
            .map(a -> java.lang.foreign.Linker.nativeLinker().downcallHandle(a, java.lang.foreign.FunctionDescriptor.of(
                    java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_LONG,
                    java.lang.foreign.ValueLayout.JAVA_INT)))
            .orElse(null);
    private static final int MADV_DONTNEED = 4, PAGE = 4096;

    /**
     * Tells the kernel the whole pages of a memory-mapped file region are not needed (Linux MADV_DONTNEED; a
     * later read faults them in again from the file). Keeps peak host memory at one copy of a repacked weight
     * instead of the copy plus the file's pages. No-op for heap or anonymous memory, or where madvise is missing.
     */
    private static void dropMappedPages(MemorySegment src) {
        if (MADVISE == null || !src.isNative() || !src.isMapped()) return;
        long start = (src.address() + PAGE - 1) / PAGE * PAGE, end = (src.address() + src.byteSize()) / PAGE * PAGE;
        if (end <= start) return;
        try {
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_DONTNEED);
        } catch (Throwable e) {
            // advisory only
        }
    }

    private static Pointer hostPointer(MemorySegment src) {
        if (src.isNative()) return Pointer.to(src.asByteBuffer());
        return Pointer.to(src.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    @Override
    public Tensor allocate(String name, int rows, int cols) {
        long bytes = 4L * rows * cols;
        cl_mem m = create("activation '" + name + "' (" + rows + " × " + cols + " F32)", CL_MEM_READ_WRITE, bytes, null);
        return new ClTensor(name, GgmlType.F32, rows, cols, false, new ClTensor.Part[] {new ClTensor.Part(0, rows, m, null)}, null);
    }

    @Override
    public void write(Tensor dst, float[] src) {
        ClTensor d = (ClTensor) dst;
        if (src.length > (long) d.parts[0].rows() * d.cols) throw new IllegalArgumentException(d.name + ": " + src.length + " values do not fit");
        if (src.length == 0) return;
        clEnqueueWriteBuffer(queue, d.act(), CL_TRUE, 0, 4L * src.length, Pointer.to(src), 0, null, null);
    }

    @Override
    public void read(Tensor src, float[] dst) {
        ClTensor s = (ClTensor) src;
        int count = s.rows * s.cols;
        if (count == 0) return;
        if (!s.weight) {
            enqueueRead(s.act(), count, dst);
            return;
        }
        if (s.type == GgmlType.I8) {
            readInt8(s, dst);
            return;
        }
        // a weight: dequantize on the device through the embedding gather of every row
        ClTensor tmp = (ClTensor) allocate(s.name + " (read)", s.rows, s.cols);
        try {
            embed(tmp, s, IntStream.range(0, s.rows).toArray());
            enqueueRead(tmp.act(), count, dst);
        } finally {
            release(tmp.act());
        }
    }

    private void enqueueRead(cl_mem m, int count, float[] dst) {
        try {
            clEnqueueReadBuffer(queue, m, CL_TRUE, 0, 4L * count, Pointer.to(dst), 0, null, null);
        } catch (CLException e) {
            throw outOfMemory("the queued kernels", 0, e);
        }
    }

    // ---------------------------------------------------------------- kernel launches

    private void launch(cl_kernel k, String what, long[] global, long[] local, Object... args) {
        for (long g : global) if (g == 0) return;
        if (LWJGL && !PROFILE) {
            launchLwjgl(k.getNativePointer(), what, global, local, args);
            return;
        }
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case cl_mem m -> clSetKernelArg(k, i, Sizeof.cl_mem, Pointer.to(m));
                    case Integer v -> clSetKernelArg(k, i, Sizeof.cl_int, Pointer.to(new int[] {v}));
                    case Float v -> clSetKernelArg(k, i, Sizeof.cl_float, Pointer.to(new float[] {v}));
                    default -> throw new IllegalArgumentException("kernel argument " + args[i]);
                }
            }
            if (PROFILE) {
                cl_event ev = new cl_event();
                clEnqueueNDRangeKernel(queue, k, global.length, null, global, local, 0, null, ev);
                profiledStems.add(what);
                profiledEvents.add(ev);
            } else {
                clEnqueueNDRangeKernel(queue, k, global.length, null, global, local, 0, null, null);
            }
        } catch (CLException e) {
            throw outOfMemory(what, 0, e);
        }
    }

    /**
     * {@link #launch} through LWJGL's binding on the same native handles (both bindings call the one ICD loader):
     * typed setters without boxing or Pointer objects, sizes on LWJGL's thread-local stack.
     */
    private void launchLwjgl(long k, String what, long[] global, long[] local, Object... args) {
        for (int i = 0; i < args.length; i++) {
            int err = switch (args[i]) {
                case cl_mem m -> CL10.clSetKernelArg1p(k, i, m.getNativePointer());
                case Integer v -> CL10.clSetKernelArg1i(k, i, v);
                case Float v -> CL10.clSetKernelArg1f(k, i, v);
                default -> throw new IllegalArgumentException("kernel argument " + args[i]);
            };
            if (err != CL_SUCCESS) throw outOfMemory(what, 0, new CLException(CL.stringFor_errorCode(err), err));
        }
        try (MemoryStack stack = MemoryStack.stackPush()) {
            PointerBuffer g = stack.mallocPointer(global.length), l = local == null ? null : stack.mallocPointer(local.length);
            for (int d = 0; d < global.length; d++) {
                g.put(d, global[d]);
                if (l != null) l.put(d, local[d]);
            }
            int err = CL10.clEnqueueNDRangeKernel(queueAddress, k, global.length, null, g, l, null, null);
            if (err != CL_SUCCESS) throw outOfMemory(what, 0, new CLException(CL.stringFor_errorCode(err), err));
        }
    }

    /**
     * With {@link #PROFILE}: waits for the queue, then returns device nanoseconds and launch counts per launch
     * label since the last call ({label → [nanos, count]}) and forgets them. Empty when profiling is off.
     */
    Map<String, long[]> takeProfile() {
        Map<String, long[]> out = new java.util.TreeMap<>();
        if (!PROFILE) return out;
        clFinish(queue);
        long[] t = new long[1];
        for (int i = 0; i < profiledEvents.size(); i++) {
            cl_event ev = profiledEvents.get(i);
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, Sizeof.cl_ulong, Pointer.to(t), null);
            long start = t[0];
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, Sizeof.cl_ulong, Pointer.to(t), null);
            long[] acc = out.computeIfAbsent(profiledStems.get(i).replaceAll(" on '.*'", ""), x -> new long[2]);
            acc[0] += t[0] - start;
            acc[1]++;
            clReleaseEvent(ev);
        }
        profiledEvents.clear();
        profiledStems.clear();
        return out;
    }

    private cl_kernel kernel(String stem) {
        return kernel(stem, Map.of());
    }

    private cl_kernel kernel(String stem, Map<String, String> defines) {
        kernelsUsed.add(stem);
        return kernels.kernel(stem, defines);
    }

    private static long roundUp(long v, long m) {
        return (v + m - 1) / m * m;
    }

    private static ClTensor act(Tensor t) {
        ClTensor c = (ClTensor) t;
        c.act();
        return c;
    }

    @Override
    public void embed(Tensor out, Tensor table, int[] tokens) {
        ClTensor o = act(out), w = (ClTensor) table;
        for (int tok : tokens) {
            if (tok < 0 || tok >= w.rows) throw new IllegalArgumentException("token id " + tok + " outside the vocabulary [0, " + w.rows + ")");
        }
        if (tokens.length > o.rows || o.cols != w.cols) throw new IllegalArgumentException("embed: out " + o.rows + "×" + o.cols + " for " + tokens.length + " tokens of " + w.name);
        int off = ints.upload(tokens);
        String stem = "embed_" + typeName(w.type) + "_f32";
        cl_kernel k = kernel(stem);
        long[] global = {roundUp(w.cols, ELEMENT_LOCAL), tokens.length};
        long[] local = {ELEMENT_LOCAL, 1};
        for (ClTensor.Part p : w.parts) {
            if (p.scales() == null) launch(k, stem, global, local, p.data(), ints.buffer(), off, p.row0(), p.rows(), w.cols, tokens.length, o.act());
            else launch(k, stem, global, local, p.data(), p.scales(), ints.buffer(), off, p.row0(), p.rows(), w.cols, tokens.length, o.act());
        }
    }

    static String typeName(GgmlType type) {
        return switch (type) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            case Q8_0 -> "q8_0";
            case Q4_0 -> "q4_0";
            default -> throw new IllegalArgumentException("no OpenCL kernels for " + type);
        };
    }

    @Override
    public void rmsNorm(Tensor out, Tensor x, Tensor weight, float eps) {
        ClTensor o = act(out), in = act(x), w = (ClTensor) weight;
        if (w.cols == 0 || in.cols % w.cols != 0 || o.cols != in.cols || o.rows < in.rows) {
            throw new IllegalArgumentException("rmsNorm shapes: " + o.name + ", " + in.name + ", " + w.name + " (" + w.cols + " wide, must divide " + in.cols + ")");
        }
        long groups = (long) in.rows * (in.cols / w.cols); // a row, or one head of a row
        launch(kernel("rmsnorm_f32_f32"), "rmsnorm", new long[] {normLocal * groups}, new long[] {normLocal},
                in.act(), w.vector(), o.act(), w.cols, eps);
    }

    /**
     * The one place that picks a matrix-product kernel. Preconditions, by name:
     * <ul>
     *   <li>{@code decode}: one token: every weight is read once whatever the kernel; the GEMV wastes nothing;</li>
     *   <li>{@code batch}: several tokens: the tiled GEMM reads each weight once per gemmTokens tokens.</li>
     * </ul>
     * Both kernels accept every shape (the GEMV is the general fallback; the GEMM guards partial tiles).
     */
    MatmulKernel matmulKernel(int tokens) {
        if (options.forceMatmul() != null) return options.forceMatmul();
        boolean decode = tokens == 1;
        return decode ? MatmulKernel.GEMV : MatmulKernel.GEMM;
    }

    @Override
    public void matmul(Tensor out, Tensor x, Tensor w) {
        ClTensor o = act(out), in = act(x), wt = (ClTensor) w;
        if (in.cols != wt.cols || o.cols != wt.rows || o.rows != in.rows) {
            throw new IllegalArgumentException("matmul shapes: out " + o.rows + "×" + o.cols + ", x " + in.rows + "×" + in.cols
                    + ", " + wt.name + " " + wt.rows + "×" + wt.cols);
        }
        int n = in.rows;
        MatmulKernel kind = matmulKernel(n);
        if (wt.type == GgmlType.I8) {
            matmulInt8(o, in, wt, n, kind);
            return;
        }
        String stem = "matmul_" + typeName(wt.type) + "_f32_" + kind.name().toLowerCase(java.util.Locale.ROOT);
        boolean gemm = kind == MatmulKernel.GEMM;
        cl_kernel k = matmulClKernel(stem, kind);
        for (ClTensor.Part p : wt.parts) {
            int rows = Math.min(p.rows(), wt.rows - p.row0());
            if (rows <= 0) continue;
            long[] global = matmulGlobal(kind, rows, n);
            long[] local = gemm ? new long[] {TILE_R, 1} : gemvLocal();
            String what = stem + " on '" + wt.name + "'";
            if (p.scales() == null) launch(k, what, global, local, in.act(), p.data(), o.act(), n, in.cols, rows, o.cols, p.row0());
            else launch(k, what, global, local, in.act(), p.data(), p.scales(), o.act(), n, in.cols, rows, o.cols, p.row0());
        }
    }

    /**
     * W8A16: the int8 × float kernels. W8A8: {@link #quantizeActivations}, then the int8 × int8 kernels accumulate in
     * int32 and rescale.
     */
    private void matmulInt8(ClTensor o, ClTensor in, ClTensor wt, int n, MatmulKernel kind) {
        String variant = kind.name().toLowerCase(java.util.Locale.ROOT);
        long[] local = kind == MatmulKernel.GEMV ? gemvLocal() : new long[] {TILE_R, 1};
        if (!wt.w8a8) {
            String stem = "matmul_i8_f32_" + variant;
            cl_kernel k = matmulClKernel(stem, kind);
            for (ClTensor.Part p : wt.parts) {
                int rows = Math.min(p.rows(), wt.rows - p.row0());
                if (rows <= 0) continue;
                launch(k, stem + " on '" + wt.name + "'", matmulGlobal(kind, rows, n), local,
                        in.act(), p.data(), p.scales(), o.act(), n, in.cols, rows, o.cols, p.row0(), wt.groupSize);
            }
            return;
        }
        quantizeActivations(in, wt, n);
        String stem = "matmul_i8_i8_" + variant;
        cl_kernel k = matmulClKernel(stem, kind);
        for (ClTensor.Part p : wt.parts) {
            int rows = Math.min(p.rows(), wt.rows - p.row0());
            if (rows <= 0) continue;
            launch(k, stem + " on '" + wt.name + "'", matmulGlobal(kind, rows, n), local,
                    quantScratch, tokenScales, p.data(), p.scales(), o.act(), n, in.cols, rows, o.cols, p.row0());
        }
    }

    /**
     * W8A8: quantize_f32_i8 turns the first n rows of x into int8 plus one scale per token (dividing by wt's smoothing
     * vector first) in scratch buffers that grow on demand and are reused by every call.
     */
    private void quantizeActivations(ClTensor in, ClTensor wt, int n) {
        long qBytes = (long) n * in.cols, sBytes = 4L * n;
        if (qBytes > quantScratchBytes) {
            if (quantScratch != null) release(quantScratch);
            quantScratch = create("W8A8 activation scratch", CL_MEM_READ_WRITE, qBytes, null);
            quantScratchBytes = qBytes;
        }
        if (sBytes > tokenScalesBytes) {
            if (tokenScales != null) release(tokenScales);
            tokenScales = create("W8A8 token scales", CL_MEM_READ_WRITE, sBytes, null);
            tokenScalesBytes = sBytes;
        }
        launch(kernel("quantize_f32_i8"), "quantize_f32_i8 on '" + wt.name + "'", new long[] {(long) normLocal * n}, new long[] {normLocal},
                in.act(), wt.smooth != null ? wt.smooth : tokenScales, wt.smooth != null ? 1 : 0, quantScratch, tokenScales, in.cols);
    }

    /** The GEMV kernel, or the GEMM built for this device's register tile (gemmRows × gemmTokens per work-item). */
    private cl_kernel matmulClKernel(String stem, MatmulKernel kind) {
        return kind == MatmulKernel.GEMM ? kernel(stem, Map.of("ITEM_R", String.valueOf(gemmRows), "TILE_T", String.valueOf(gemmTokens))) : kernel(stem);
    }

    /** GEMV: see {@link #gemvGlobal}; GEMM: one work-item per gemmRows rows × gemmTokens tokens, TILE_R per group. */
    private long[] matmulGlobal(MatmulKernel kind, int rows, int n) {
        return kind == MatmulKernel.GEMV ? gemvGlobal(rows, n)
                : new long[] {roundUp((rows + gemmRows - 1) / gemmRows, TILE_R), (n + gemmTokens - 1) / gemmTokens};
    }

    /** Every GEMV kernel's global size for rows outputs × n tokens: one work-item per output, or `lanes` per output. */
    private long[] gemvGlobal(long rows, int n) {
        return lanes > 0 ? new long[] {rows * lanes, n} : new long[] {roundUp(rows, GEMV_LOCAL), n};
    }

    /** Every GEMV kernel's local size: GEMV_LOCAL outputs per group, or the lanes of one output. */
    private long[] gemvLocal() {
        return new long[] {lanes > 0 ? lanes : GEMV_LOCAL, 1};
    }

    /**
     * The precondition of the fused one-token kernels ({@code gemvmulti}, {@code gemvswiglu}): one input row on
     * the GEMV path, weights of one type that has the fused kernel (Q8_0, F16, I8), each in one part, as wide as x.
     * I8 weights must also agree on the scheme and group size, and W8A8 ones on the smoothing vector (the one
     * quantized copy of x serves them all). Anything else takes the general kernels (the interface's default).
     */
    boolean fusedGemv(ClTensor in, Tensor... ws) {
        if (!FUSE || in.rows != 1 || matmulKernel(1) != MatmulKernel.GEMV) return false;
        ClTensor first = (ClTensor) ws[0];
        if (first.type != GgmlType.Q8_0 && first.type != GgmlType.Q4_0 && first.type != GgmlType.F16 && first.type != GgmlType.I8) return false;
        for (Tensor w : ws) {
            ClTensor c = (ClTensor) w;
            if (c.type != first.type || c.parts.length != 1 || c.cols != in.cols) return false;
            if (c.type == GgmlType.I8 && (c.w8a8 != first.w8a8 || c.groupSize != first.groupSize || c.smooth != first.smooth)) return false;
        }
        return true;
    }

    /** The fused kernels' stem: matmul_{q8_0,q4_0,f16}_f32_, matmul_i8_f32_ (W8A16) or matmul_i8_i8_ (W8A8), then the variant. */
    private static String fusedStem(ClTensor w, String variant) {
        if (w.type != GgmlType.I8) return "matmul_" + typeName(w.type) + "_f32_" + variant;
        return (w.w8a8 ? "matmul_i8_i8_" : "matmul_i8_f32_") + variant;
    }

    @Override
    public void matmulMany(Tensor[] outs, Tensor x, Tensor[] ws, boolean accumulate, Tensor[] scratch) {
        ClTensor in = act(x);
        if (ws.length > 3 || !fusedGemv(in, ws)) {
            Backend.super.matmulMany(outs, x, ws, accumulate, scratch);
            return;
        }
        ClTensor[] o = new ClTensor[3];
        ClTensor[] w = new ClTensor[3];
        int total = 0;
        for (int j = 0; j < 3; j++) {
            int src = Math.min(j, ws.length - 1);   // a missing weight repeats the last one with 0 rows
            o[j] = act(outs[src]);
            w[j] = (ClTensor) ws[src];
            if (o[j].rows != 1 || o[j].cols != w[j].rows) throw new IllegalArgumentException("matmul shapes: out " + o[j].name + " for " + w[j].name);
            if (j < ws.length) total += w[j].rows;
        }
        int ra = w[0].rows, rb = ws.length > 1 ? w[1].rows : 0, rc = ws.length > 2 ? w[2].rows : 0;
        String stem = fusedStem(w[0], "gemvmulti");
        long[] global = {gemvGlobal(total, 1)[0]}, local = {gemvLocal()[0]};
        if (w[0].type == GgmlType.I8 && w[0].w8a8) {
            quantizeActivations(in, w[0], 1);
            launch(kernel(stem), stem, global, local, quantScratch, tokenScales, in.cols, accumulate ? 1 : 0,
                    w[0].parts[0].data(), w[0].parts[0].scales(), o[0].act(), ra,
                    w[1].parts[0].data(), w[1].parts[0].scales(), o[1].act(), rb,
                    w[2].parts[0].data(), w[2].parts[0].scales(), o[2].act(), rc);
        } else if (w[0].type == GgmlType.I8) {
            launch(kernel(stem), stem, global, local, in.act(), in.cols, w[0].groupSize, accumulate ? 1 : 0,
                    w[0].parts[0].data(), w[0].parts[0].scales(), o[0].act(), ra,
                    w[1].parts[0].data(), w[1].parts[0].scales(), o[1].act(), rb,
                    w[2].parts[0].data(), w[2].parts[0].scales(), o[2].act(), rc);
        } else if (w[0].type == GgmlType.Q4_0) {
            launch(kernel(stem), stem, global, local, in.act(), in.cols, accumulate ? 1 : 0,
                    w[0].parts[0].data(), w[0].parts[0].scales(), o[0].act(), ra,
                    w[1].parts[0].data(), w[1].parts[0].scales(), o[1].act(), rb,
                    w[2].parts[0].data(), w[2].parts[0].scales(), o[2].act(), rc);
        } else {
            launch(kernel(stem), stem, global, local, in.act(), in.cols, accumulate ? 1 : 0,
                    w[0].parts[0].data(), o[0].act(), ra, w[1].parts[0].data(), o[1].act(), rb, w[2].parts[0].data(), o[2].act(), rc);
        }
    }

    @Override
    public void matmulSwiglu(Tensor out, Tensor x, Tensor gate, Tensor up, Tensor scratch) {
        ClTensor in = act(x), o = act(out), g = (ClTensor) gate, u = (ClTensor) up;
        if (!fusedGemv(in, gate, up) || g.rows != u.rows || o.rows != 1 || o.cols != g.rows) {
            Backend.super.matmulSwiglu(out, x, gate, up, scratch);
            return;
        }
        String stem = fusedStem(g, "gemvswiglu");
        long[] global = {gemvGlobal(g.rows, 1)[0]}, local = {gemvLocal()[0]};
        var gp = g.parts[0];
        var up0 = u.parts[0];
        if (g.type == GgmlType.I8 && g.w8a8) {
            quantizeActivations(in, g, 1);
            launch(kernel(stem), stem, global, local, quantScratch, tokenScales, in.cols, g.rows, gp.data(), gp.scales(), up0.data(), up0.scales(), o.act());
        } else if (g.type == GgmlType.I8) {
            launch(kernel(stem), stem, global, local, in.act(), in.cols, g.groupSize, g.rows, gp.data(), gp.scales(), up0.data(), up0.scales(), o.act());
        } else if (g.type == GgmlType.Q4_0) {
            launch(kernel(stem), stem, global, local, in.act(), in.cols, g.rows, gp.data(), gp.scales(), up0.data(), up0.scales(), o.act());
        } else {
            launch(kernel(stem), stem, global, local, in.act(), in.cols, g.rows, gp.data(), up0.data(), o.act());
        }
    }

    @Override
    public void ropeQk(Tensor q, Tensor k, int[] positions, RopeSpec spec) {
        ClTensor qt = act(q), kt = act(k);
        int n = Math.min(Math.min(qt.rows, kt.rows), positions.length);
        if (!FUSE || qt.cols % spec.headDim() != 0 || kt.cols % spec.headDim() != 0 || qt.rows != kt.rows) {
            Backend.super.ropeQk(q, k, positions, spec);
            return;
        }
        cl_mem inv = ropeTable(spec);
        int off = ints.upload(positions);
        int qHeads = qt.cols / spec.headDim(), kHeads = kt.cols / spec.headDim();
        launch(kernel("rope_f32_f32_qk"), "rope (q and k)", new long[] {spec.ropeDims() / 2, n}, null,
                qt.act(), kt.act(), ints.buffer(), off, inv, qHeads, kHeads, spec.headDim(), spec.ropeDims(), spec.neox() ? 1 : 0);
    }

    private cl_mem ropeTable(RopeSpec spec) {
        return invFreqs.computeIfAbsent(new RopeKey(spec.ropeDims(), spec.base(), spec.freqFactors()), key -> {
            float[] f = new float[spec.ropeDims() / 2];
            for (int i = 0; i < f.length; i++) f[i] = (float) spec.theta(i); // base^(−2i/ropeDims) / factor_i, in double
            return create("rope frequencies", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * f.length, Pointer.to(f));
        });
    }

    @Override
    public void rope(Tensor x, int[] positions, RopeSpec spec) {
        ClTensor t = act(x);
        int n = Math.min(t.rows, positions.length);
        if (t.cols % spec.headDim() != 0) throw new IllegalArgumentException("rope: " + t.name + " width " + t.cols + " is not a multiple of head dim " + spec.headDim());
        cl_mem inv = ropeTable(spec);
        int off = ints.upload(positions);
        launch(kernel("rope_f32_f32"), "rope", new long[] {spec.ropeDims() / 2, t.cols / spec.headDim(), n}, null,
                t.act(), ints.buffer(), off, inv, t.cols, spec.headDim(), spec.ropeDims(), spec.neox() ? 1 : 0);
    }

    /**
     * The one place that picks an attention kernel. Both kernels run one work-item per (KV head, row) for all query
     * heads of its group (the split one also per chunk of the context). Preconditions, by name:
     * <ul>
     *   <li>{@code fewItems}: rows × KV heads work-items leave compute units idle (fewer than 2 per unit). On POCL with
     *       2 cores the 1b preset's 4 KV heads keep both busy, and the fused kernel saves the combine launch (measured
     *       fused 0.76–1.6 ms vs split 1.2–3.2 ms + combine 0.13–0.73 ms per launch at 2048 positions under load 11);
     *       a GPU's dozens of compute units would split (GPUs take the lanes kernel instead, below);</li>
     *   <li>{@code longContext}: the longest row attends to at least two chunks of {@value #SPLIT_CHUNK} positions.</li>
     * </ul>
     * Both hold: split over the context and combine; otherwise the fused kernel (the general fallback). With
     * {@link #lanes} (GPUs) the lanes kernel: a work-group per (KV head, chunk, row), chunks sized by
     * {@link #laneChunk}, then the combine.
     */
    AttentionKernel attentionKernel(int tokens, int kvHeads, int longest) {
        if (options.forceAttention() != null) return options.forceAttention();
        if (lanes > 0) return AttentionKernel.LANES;
        boolean fewItems = (long) tokens * kvHeads < 2L * info.computeUnits();
        boolean longContext = longest >= 2 * SPLIT_CHUNK;
        return fewItems && longContext ? AttentionKernel.SPLIT : AttentionKernel.FUSED;
    }

    @Override
    public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec) {
        attention(out, q, k, v, cache, layer, batch, spec, null);
    }

    /** With an FP16 or F32 cache, kvwrite_f16_f32_rope rotates q and k as it writes the cache (one launch less). */
    @Override
    public void ropeAttention(Tensor out, Tensor q, Tensor k, Tensor v, RopeSpec rope, KvCache cache, int layer, Batch batch, AttentionSpec spec) {
        ClTensor qt = act(q), kt = act(k);
        if (!FUSE || ((ClKvCache) cache).ks != null || qt.cols % rope.headDim() != 0 || rope.headDim() != ((ClKvCache) cache).layout.headDim()
                || qt.rows < batch.size() || kt.rows < batch.size()) {
            Backend.super.ropeAttention(out, q, k, v, rope, cache, layer, batch, spec);
            return;
        }
        attention(out, q, k, v, cache, layer, batch, spec, rope);
    }

    /** attention, with the cache write fused with rope(q, k) when {@code rope} is not null (F16/F32 caches only). */
    private void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec, RopeSpec rope) {
        float scale = spec.scale();
        ClKvCache c = (ClKvCache) cache;
        ClTensor o = act(out), qt = act(q), kt = act(k), vt = act(v);
        KvLayout lay = c.layout;
        int hd = lay.headDim(), kvHeads = lay.kvHeads(), heads = qt.cols / hd, n = batch.size();
        if (kt.cols != kvHeads * hd || vt.cols != kt.cols || o.cols != qt.cols || heads % kvHeads != 0) {
            throw new IllegalArgumentException("attention shapes: q " + qt.cols + ", k " + kt.cols + ", v " + vt.cols + " for " + kvHeads + " KV heads of " + hd);
        }
        int[] positions = batch.positions();
        int longest = 0;
        for (int p : positions) longest = Math.max(longest, p + 1);
        int[] work = c.ks != null ? kvWriteWork(positions, batch.table(), lay.blockSize()) : new int[0];
        int[] offsets = ints.uploadAll(positions, batch.table().blocks(), work);
        int posOff = offsets[0], tabOff = offsets[1];
        if (c.ks != null) {
            attentionInt8(o, qt, kt, vt, c, layer, batch, spec, heads, longest, posOff, tabOff, work, offsets[2]);
            return;
        }
        if (rope == null) {
            launch(kernel("kvwrite_f16_f32"), "kv-cache write", new long[] {hd, kvHeads, n}, null,
                    kt.act(), vt.act(), c.k[layer], c.v[layer], ints.buffer(), posOff, tabOff, kvHeads, lay.blockSize(), lay.numBlocks(), hd);
        } else {
            launch(kernel("kvwrite_f16_f32_rope"), "rope (q and k) + kv-cache write", new long[] {hd / 2, n}, null,
                    qt.act(), kt.act(), vt.act(), c.k[layer], c.v[layer], ints.buffer(), posOff, tabOff, ropeTable(rope),
                    heads, kvHeads, lay.blockSize(), lay.numBlocks(), hd, rope.ropeDims(), rope.neox() ? 1 : 0);
        }
        var shape = attentionDefines(hd, heads / kvHeads, lay.blockSize());
        AttentionKernel variant = attentionKernel(n, kvHeads, longest);
        if (variant == AttentionKernel.LANES) {
            int al = attentionLanes(), chunk = laneChunk(n, kvHeads, longest), splits = (longest + chunk - 1) / chunk;
            launch(kernel("attention_kv_f32_lanes", lanesDefines(hd, heads / kvHeads, lay.blockSize())), "attention (lanes)", new long[] {(long) al * kvHeads, splits, n},
                    new long[] {al, 1, 1}, qt.act(), c.k[layer], c.v[layer], c.k[layer], c.v[layer], splitScratch(n, heads, splits, hd), ints.buffer(), posOff, tabOff,
                    heads, kvHeads, lay.numBlocks(), scale, splits, chunk, spec.softcap(), spec.window());
            combineSplits(o, n, heads, hd, splits);
            return;
        }
        if (variant == AttentionKernel.FUSED) {
            launch(kernel("attention_kv_f32", shape), "attention", new long[] {kvHeads, n}, n == 1 ? new long[] {1, 1} : null,
                    qt.act(), c.k[layer], c.v[layer], c.k[layer], c.v[layer], o.act(), ints.buffer(), posOff, tabOff, heads, kvHeads, lay.numBlocks(), scale,
                    spec.softcap(), spec.window());
            return;
        }
        int splits = (longest + SPLIT_CHUNK - 1) / SPLIT_CHUNK;
        launch(kernel("attention_kv_f32_split", shape), "attention (split)", new long[] {kvHeads, splits, n}, new long[] {1, 1, 1},
                qt.act(), c.k[layer], c.v[layer], c.k[layer], c.v[layer], splitScratch(n, heads, splits, hd), ints.buffer(), posOff, tabOff, heads, kvHeads,
                lay.numBlocks(), scale, splits, spec.softcap(), spec.window());
        combineSplits(o, n, heads, hd, splits);
    }

    /**
     * The attention kernels' compile-time shape: head size and query heads per KV head (their private arrays), and
     * positions per cache block (so a transposed key row's offsets are constants).
     */
    private static Map<String, String> attentionDefines(int headDim, int group, int blockSize) {
        return Map.of("HEAD_DIM", String.valueOf(headDim), "GROUP", String.valueOf(group), "BLOCK", String.valueOf(blockSize));
    }

    /**
     * attention_f32_f32_combine: merges the split or lanes kernels' partials (in splitScratch) into out; with
     * {@link #lanes} one work-item per output value (GPUs), else one per (query head, row) (CPU devices, where POCL
     * does not vectorise the per-value form).
     */
    private void combineSplits(ClTensor o, int n, int heads, int hd, int splits) {
        boolean perValue = lanes > 0;
        launch(kernel("attention_f32_f32_combine", perValue ? PER_VALUE : Map.of()), "attention (combine)",
                perValue ? new long[] {hd, heads, n} : new long[] {heads, n}, null, splitScratch, o.act(), heads, hd, splits);
    }

    /** The lanes attention kernels' work-group size: {@link #lanes}, or 32 where only {@code withAttention(LANES)} asked for them. */
    private int attentionLanes() {
        return lanes > 0 ? lanes : 32;
    }

    /** The lanes kernels' compile-time shape: attentionDefines plus ATT_LANES. */
    private Map<String, String> lanesDefines(int headDim, int group, int blockSize) {
        return Map.of("HEAD_DIM", String.valueOf(headDim), "GROUP", String.valueOf(group), "BLOCK", String.valueOf(blockSize),
                "ATT_LANES", String.valueOf(attentionLanes()));
    }

    /**
     * Positions per work-group of the lanes attention: the context cut so that rows × KV heads × chunks give every
     * compute unit about four work-groups (decode of one row at 2048 positions with 4 KV heads on 132 compute units:
     * chunks of 32, 256 groups), and a whole number of tiles. Not yet tuned on a GPU.
     */
    int laneChunk(int tokens, int kvHeads, int longest) {
        long groups = (long) tokens * kvHeads;
        long splits = Math.max(1, (4L * Math.max(info.computeUnits(), 1) + groups - 1) / groups);
        int al = attentionLanes();
        long chunk = (longest + splits - 1) / splits;
        return (int) Math.max(al, roundUp(chunk, al));
    }

    /** The split kernels' partials (n, heads, splits, headDim + 2) F32, grown on demand and kept. */
    private cl_mem splitScratch(int n, int heads, int splits, int headDim) {
        long bytes = 4L * n * heads * splits * (headDim + 2);
        if (bytes > splitScratchBytes) {
            if (splitScratch != null) release(splitScratch);
            splitScratch = create("split-attention partials", CL_MEM_READ_WRITE, bytes, null);
            splitScratchBytes = bytes;
        }
        return splitScratch;
    }

    /** Launches a kernel with one work-item per value over {@code count} values. */
    private void elementwise(String stem, int count, Object... args) {
        launch(kernel(stem), stem, new long[] {roundUp(count, ELEMENT_LOCAL)}, new long[] {ELEMENT_LOCAL}, args);
    }

    @Override
    public void swiglu(Tensor out, Tensor gate, Tensor up) {
        ClTensor o = act(out);
        int count = o.rows * o.cols;
        elementwise("swiglu_f32_f32", count, o.act(), act(gate).act(), act(up).act(), count);
    }

    @Override
    public void add(Tensor x, Tensor y) {
        ClTensor a = act(x);
        int count = a.rows * a.cols;
        elementwise("add_f32_f32", count, a.act(), act(y).act(), count);
    }

    @Override
    public void copyRows(Tensor dst, Tensor src, int from, int count) {
        ClTensor d = act(dst), s = act(src);
        if (count == 0) return;
        if (d.cols != s.cols || from + count > s.parts[0].rows() || count > d.parts[0].rows()) throw new IllegalArgumentException("copyRows out of range");
        clEnqueueCopyBuffer(queue, s.act(), d.act(), 4L * from * s.cols, 0, 4L * count * s.cols, 0, null, null);
    }

    @Override
    public KvCache createKvCache(KvLayout layout) {
        if (layout.blockSize() % 16 != 0) {
            // the attention kernels score aligned tiles of 16 positions, which must not straddle two blocks
            throw new IllegalArgumentException("the OpenCL " + kvType + " KV cache needs a block size that is a multiple of 16, not " + layout.blockSize());
        }
        long bytes = kvType.bytesPerValue() * layout.valuesPerLayer();
        cl_mem[] k = new cl_mem[layout.layers()], v = new cl_mem[layout.layers()];
        for (int l = 0; l < layout.layers(); l++) {
            k[l] = create("KV cache layer " + l + " keys", CL_MEM_READ_WRITE, bytes, null);
            v[l] = create("KV cache layer " + l + " values", CL_MEM_READ_WRITE, bytes, null);
        }
        if (kvType != KvType.I8) return new ClKvCache(layout, k, v, null, null, this::release);
        cl_mem[] ks = new cl_mem[layout.layers()], vs = new cl_mem[layout.layers()];
        long scaleBytes = 4L * layout.numBlocks() * layout.kvHeads();
        ByteBuffer zero = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, 0f);
        for (int l = 0; l < layout.layers(); l++) {
            ks[l] = create("KV cache layer " + l + " key scales", CL_MEM_READ_WRITE, scaleBytes, null);
            vs[l] = create("KV cache layer " + l + " value scales", CL_MEM_READ_WRITE, scaleBytes, null);
            for (cl_mem m : new cl_mem[] {ks[l], vs[l]}) clEnqueueFillBuffer(queue, m, Pointer.to(zero), Sizeof.cl_float, 0, scaleBytes, 0, null, null);
        }
        clFinish(queue); // the fill pattern lives in a direct buffer local to this call
        return new ClKvCache(layout, k, v, ks, vs, this::release);
    }

    /**
     * The INT8 KV cache path of {@link #attention}: kvwrite_i8_f32 with one work-group per (touched block, KV head)
     * walking that block's rows in batch order (requantizing the block when its scale grows), then the INT8
     * attention kernels, fused or split as {@link #attentionKernel} chooses.
     */
    private void attentionInt8(ClTensor o, ClTensor qt, ClTensor kt, ClTensor vt, ClKvCache c, int layer, Batch batch,
                               AttentionSpec spec, int heads, int longest, int posOff, int tabOff, int[] work, int workOff) {
        KvLayout lay = c.layout;
        int hd = lay.headDim(), kvHeads = lay.kvHeads(), n = batch.size();
        int items = (work.length - n) / 3;
        launch(kernel("kvwrite_i8_f32", Map.of("KV_LOCAL", String.valueOf(KV_LOCAL))), "kv-cache write (int8)", new long[] {KV_LOCAL, kvHeads, items}, new long[] {KV_LOCAL, 1, 1},
                kt.act(), vt.act(), c.k[layer], c.v[layer], c.ks[layer], c.vs[layer], ints.buffer(), posOff, workOff, kvHeads, lay.blockSize(),
                lay.numBlocks(), hd);
        var shape = attentionDefines(hd, heads / kvHeads, lay.blockSize());
        AttentionKernel variant = attentionKernel(n, kvHeads, longest);
        if (variant == AttentionKernel.LANES) {
            int al = attentionLanes(), chunk = laneChunk(n, kvHeads, longest), splits = (longest + chunk - 1) / chunk;
            launch(kernel("attention_kv_f32_lanes", lanesDefines(hd, heads / kvHeads, lay.blockSize())), "attention (lanes, int8 cache)", new long[] {(long) al * kvHeads, splits, n},
                    new long[] {al, 1, 1}, qt.act(), c.k[layer], c.v[layer], c.ks[layer], c.vs[layer], splitScratch(n, heads, splits, hd), ints.buffer(),
                    posOff, tabOff, heads, kvHeads, lay.numBlocks(), spec.scale(), splits, chunk, spec.softcap(), spec.window());
            combineSplits(o, n, heads, hd, splits);
            return;
        }
        if (variant == AttentionKernel.FUSED) {
            launch(kernel("attention_kv_f32", shape), "attention (int8 cache)", new long[] {kvHeads, n}, n == 1 ? new long[] {1, 1} : null,
                    qt.act(), c.k[layer], c.v[layer], c.ks[layer], c.vs[layer], o.act(), ints.buffer(), posOff, tabOff, heads, kvHeads,
                    lay.numBlocks(), spec.scale(), spec.softcap(), spec.window());
            return;
        }
        int splits = (longest + SPLIT_CHUNK - 1) / SPLIT_CHUNK;
        launch(kernel("attention_kv_f32_split", shape), "attention (split, int8 cache)", new long[] {kvHeads, splits, n}, new long[] {1, 1, 1},
                qt.act(), c.k[layer], c.v[layer], c.ks[layer], c.vs[layer], splitScratch(n, heads, splits, hd), ints.buffer(), posOff, tabOff,
                heads, kvHeads, lay.numBlocks(), spec.scale(), splits, spec.softcap(), spec.window());
        combineSplits(o, n, heads, hd, splits);
    }

    /**
     * kvwrite_i8_f32's work list: the physical blocks the batch's rows land in, in order of first appearance, as
     * (block, list, count) triples, followed by the row indices grouped by block in batch order; {@code list} is
     * where a block's rows start, relative to the start of this array (the kernel adds the upload offset). Rows of one block stay in batch order, so a block is written exactly as token-by-token decode
     * would write it.
     */
    static int[] kvWriteWork(int[] positions, dev.infercl.backend.BlockTable table, int blockSize) {
        int n = positions.length;
        var order = new java.util.LinkedHashMap<Integer, List<Integer>>();
        for (int t = 0; t < n; t++) order.computeIfAbsent(table.block(positions[t] / blockSize), b -> new ArrayList<>()).add(t);
        int items = order.size();
        int[] work = new int[3 * items + n];
        int i = 0, next = 3 * items;
        for (var e : order.entrySet()) {
            work[3 * i] = e.getKey();
            work[3 * i + 1] = next;
            work[3 * i + 2] = e.getValue().size();
            for (int t : e.getValue()) work[next++] = t;
            i++;
        }
        return work;
    }

    /**
     * The INT8 cache of one layer read back in the reference layout: values (numBlocks, kvHeads, blockSize, headDim)
     * and scales (numBlocks, kvHeads). On the device the values are KV-head-major with keys transposed within each
     * block (see attention_tiles.h); this reorders them.
     */
    void readKvInt8(KvCache cache, int layer, byte[] k, byte[] v, float[] ks, float[] vs) {
        ClKvCache c = (ClKvCache) cache;
        if (c.ks == null) throw new IllegalStateException("not an INT8 KV cache");
        KvLayout l = c.layout;
        byte[] kd = new byte[k.length], vd = new byte[v.length];
        clEnqueueReadBuffer(queue, c.k[layer], CL_TRUE, 0, kd.length, Pointer.to(kd), 0, null, null);
        clEnqueueReadBuffer(queue, c.v[layer], CL_TRUE, 0, vd.length, Pointer.to(vd), 0, null, null);
        clEnqueueReadBuffer(queue, c.ks[layer], CL_TRUE, 0, 4L * ks.length, Pointer.to(ks), 0, null, null);
        clEnqueueReadBuffer(queue, c.vs[layer], CL_TRUE, 0, 4L * vs.length, Pointer.to(vs), 0, null, null);
        int bs = l.blockSize(), hd = l.headDim();
        for (int b = 0; b < l.numBlocks(); b++) {
            for (int g = 0; g < l.kvHeads(); g++) {
                int ref = (b * l.kvHeads() + g) * bs * hd, dev = (g * l.numBlocks() + b) * bs * hd;
                for (int s = 0; s < bs; s++) {
                    for (int i = 0; i < hd; i++) {
                        k[ref + s * hd + i] = kd[dev + i * bs + s];
                        v[ref + s * hd + i] = vd[dev + s * hd + i];
                    }
                }
            }
        }
    }

    @Override
    public void layerNorm(Tensor out, Tensor x, Tensor weight, Tensor bias, float eps) {
        ClTensor o = act(out), in = act(x), w = (ClTensor) weight, b = (ClTensor) bias;
        if (w.cols != in.cols || b.cols != in.cols || o.cols != in.cols || o.rows < in.rows) {
            throw new IllegalArgumentException("layerNorm shapes: " + o.name + ", " + in.name + ", " + w.name + ", " + b.name);
        }
        launch(kernel("layernorm_f32_f32"), "layernorm", new long[] {(long) normLocal * in.rows}, new long[] {normLocal},
                in.act(), w.vector(), b.vector(), o.act(), in.cols, eps);
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        ClTensor a = act(x), b = (ClTensor) bias;
        if (b.cols != a.cols) throw new IllegalArgumentException("addBias: " + b.name + " has " + b.cols + " values for rows of " + a.cols);
        launch(kernel("addbias_f32_f32"), "addbias", new long[] {roundUp(a.cols, ELEMENT_LOCAL), a.rows}, new long[] {ELEMENT_LOCAL, 1},
                a.act(), b.vector(), a.cols);
    }

    @Override
    public void geglu(Tensor out, Tensor gate, Tensor up) {
        ClTensor o = act(out);
        int count = o.rows * o.cols;
        elementwise("geglu_f32_f32", count, o.act(), act(gate).act(), act(up).act(), count);
    }

    @Override
    public void gelu(Tensor out, Tensor x) {
        ClTensor o = act(out);
        int count = o.rows * o.cols;
        elementwise("gelu_f32_f32", count, o.act(), act(x).act(), count);
    }

    @Override
    public void scale(Tensor x, float s) {
        ClTensor a = act(x);
        int count = a.rows * a.cols;
        elementwise("scale_f32_f32", count, a.act(), s, count);
    }

    @Override
    public void softcap(Tensor x, float cap) {
        ClTensor a = act(x);
        int count = a.rows * a.cols;
        elementwise("softcap_f32_f32", count, a.act(), cap, count);
    }

    @Override
    public void copyColumns(Tensor dst, Tensor src, int from) {
        ClTensor d = act(dst), s = act(src);
        if (from < 0 || from + d.cols > s.cols || d.rows > s.parts[0].rows()) {
            throw new IllegalArgumentException("copyColumns: columns " + from + ".." + (from + d.cols) + " of " + s.name + " (" + s.cols + " wide) into " + d.name);
        }
        launch(kernel("copycols_f32_f32"), "copycols", new long[] {roundUp(d.cols, ELEMENT_LOCAL), d.rows}, new long[] {ELEMENT_LOCAL, 1},
                d.act(), s.act(), d.cols, s.cols, from);
    }

    @Override
    public double probeReadBandwidth() {
        return probeReadBandwidth(PROBE_BYTES);
    }

    /**
     * Streams a buffer of about {@code bytes} (capped by the largest allocation and a quarter of global memory)
     * through bwprobe_f32_f32: one warm-up pass, then the best of five passes timed around clFinish.
     */
    double probeReadBandwidth(long bytes) {
        final int vec = 4, local = 64;
        long size = Math.min(bytes, Math.min(maxAlloc, info.globalMemBytes() / 4)) / (4L * vec * local) * (4L * vec * local);
        if (size <= 0) throw new IllegalArgumentException("bandwidth probe: " + bytes + " bytes is too small");
        long items = Math.min(size / (4L * vec), (long) Math.max(info.computeUnits(), 1) * (info.isGpu() ? 4096 : 256));
        items = Math.max(local, items / local * local);
        clFinish(queue);
        cl_mem in = create("bandwidth probe input", CL_MEM_READ_ONLY, size, null);
        cl_mem out = null;
        try {
            out = create("bandwidth probe output", CL_MEM_WRITE_ONLY, 4L * items, null);
            // written once so every page is really backed (reading untouched memory can hit a shared zero page)
            // (the pattern in direct memory: JOCL would pin a Java array with a waiter thread until the fill ends)
            ByteBuffer one = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, 1f);
            clEnqueueFillBuffer(queue, in, Pointer.to(one), Sizeof.cl_float, 0, size, 0, null, null);
            var defines = new HashMap<>(Map.of("VEC", String.valueOf(vec)));
            if (info.isCpu()) defines.put("CONTIGUOUS", "1"); // one sequential stream per thread
            cl_kernel k = kernel("bwprobe_f32_f32", defines);
            int vectors = (int) (size / (4L * vec));
            long best = Long.MAX_VALUE;
            for (int run = 0; run < 6; run++) { // run 0 warms up
                clFinish(queue);
                long t0 = System.nanoTime();
                launch(k, "bandwidth probe", new long[] {items}, new long[] {local}, in, vectors, out);
                clFinish(queue);
                long dt = System.nanoTime() - t0;
                if (run > 0) best = Math.min(best, dt);
            }
            return size / (best / 1e9);
        } finally {
            release(in);
            if (out != null) release(out);
        }
    }

    @Override
    public int kvBytesPerValue() {
        return kvType.bytesPerValue();
    }

    @Override
    public long allocatedBytes() {
        return buffers.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Waits for every queued command (tests and benchmarks; the model never needs it). */
    void finish() {
        clFinish(queue);
    }

    @Override
    public void close() {
        try {
            clFinish(queue);
        } finally {
            kernels.close();
            for (cl_mem m : new ArrayList<>(buffers.keySet())) release(m);
            ints.close();
            clReleaseCommandQueue(queue);
            clReleaseContext(context);
        }
    }

    /**
     * Small int arrays (token ids, positions, block tables) go to the device through one ring buffer with
     * non-blocking writes from pinned host memory, so uploading them never waits for the queue. A region is
     * reused only after the queue drained (on wrap-around); an array equal to a recent upload is not sent again.
     */
    private final class IntRing implements AutoCloseable {
        private int capacity;
        private cl_mem device;
        private ByteBuffer host;
        private int cursor;
        private final List<int[]> recent = new ArrayList<>();
        private final List<Integer> recentOffsets = new ArrayList<>();

        IntRing(int capacity) {
            allocate(capacity);
        }

        private void allocate(int cap) {
            capacity = cap;
            device = clCreateBuffer(context, CL_MEM_READ_ONLY, 4L * cap, null, null);
            host = ByteBuffer.allocateDirect(4 * cap).order(ByteOrder.nativeOrder());
        }

        cl_mem buffer() {
            return device;
        }

        /** Uploads one array (or finds it among the last few) and returns its offset in {@link #buffer()}. */
        int upload(int[] values) {
            return uploadAll(values)[0];
        }

        /**
         * Uploads several arrays one kernel launch needs together: room for all of them is made first, so a wrap
         * (or a grown buffer) can never invalidate an offset handed out earlier in the same call.
         */
        int[] uploadAll(int[]... arrays) {
            int need = 0;
            for (int[] a : arrays) if (find(a) < 0) need += Math.max(a.length, 1);
            if (cursor + need > capacity) {
                clFinish(queue);               // the device is done with everything in the ring
                recent.clear();
                recentOffsets.clear();
                cursor = 0;
                int all = 0;
                for (int[] a : arrays) all += Math.max(a.length, 1);
                if (all > capacity) {
                    clReleaseMemObject(device);
                    allocate(Integer.highestOneBit(all) * 2);
                }
            }
            int[] offsets = new int[arrays.length];
            for (int i = 0; i < arrays.length; i++) {
                int found = find(arrays[i]);
                offsets[i] = found >= 0 ? found : put(arrays[i]);
            }
            return offsets;
        }

        private int find(int[] values) {
            for (int i = recent.size() - 1; i >= 0; i--) {
                if (Arrays.equals(recent.get(i), values)) return recentOffsets.get(i);
            }
            return -1;
        }

        private int put(int[] values) {
            int off = cursor;
            host.asIntBuffer().put(off, values);
            if (values.length > 0) {
                // Blocking on purpose: JOCL follows every non-blocking transfer with a thread that waits for its
                // event (to keep the host buffer reachable) — a thread hand-off per call, and concurrent calls into
                // runtimes that are not thread-safe (oclgrind crashed on it). A few ints, once per forward call.
                clEnqueueWriteBuffer(queue, device, CL_TRUE, 4L * off, 4L * values.length, Pointer.to(host).withByteOffset(4L * off), 0, null, null);
            }
            cursor += Math.max(values.length, 1);
            if (recent.size() == 4) {
                recent.removeFirst();
                recentOffsets.removeFirst();
            }
            recent.add(values.clone());
            recentOffsets.add(off);
            return off;
        }

        @Override
        public void close() {
            clReleaseMemObject(device);
        }
    }
}
