package dev.infercl.backend.opencl;

import static org.jocl.CL.*;

import dev.infercl.backend.DeviceOutOfMemoryException;
import dev.infercl.backend.GgmlWeight;
import dev.infercl.backend.HostWeight;
import dev.infercl.backend.Int8Weight;
import dev.infercl.gguf.GgmlType;
import dev.infercl.tensor.Dequant;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jocl.Pointer;
import org.jocl.cl_mem;

/**
 * Puts weights on the device in their own type, never widened. Q8_0 is repacked into superblocks ({@link #q8RowBytes})
 * and Q4_0 into separate values and F16 scales, so the kernels' vector loads are aligned; INT8 weights keep int8
 * values with F32 scales beside them. On a CPU device a suitably aligned mapped weight is wrapped in place
 * ({@code CL_MEM_USE_HOST_PTR}); elsewhere it is copied once. A weight larger than the largest allocation is split
 * into row ranges ({@link ClTensor.Part}s).
 */
final class WeightUploader {
    private static final long STAGING_BYTES = 1L << 20;

    private final ClRuntime rt;
    private final boolean wrapHostMemory;
    private long wrappedBytes, copiedBytes;

    WeightUploader(ClRuntime rt, boolean wrapHostMemory) {
        this.rt = rt;
        this.wrapHostMemory = wrapHostMemory;
    }

    /** Bytes of weights wrapped in place / copied to the device so far. */
    long wrappedBytes() {
        return wrappedBytes;
    }

    long copiedBytes() {
        return copiedBytes;
    }

    ClTensor upload(HostWeight w) {
        return switch (w) {
            case GgmlWeight g -> upload(g);
            case Int8Weight q -> upload(q);
        };
    }

    private ClTensor upload(GgmlWeight w) {
        String name = w.name();
        GgmlType type = w.type();
        int rows = w.rows(), cols = w.cols();
        Dequant.requireComputable(type, name, "the OpenCL backend", ElementwiseLauncher.SUPPORTED);
        long rowBytes = type.byteSize(cols);
        boolean quant = type == GgmlType.Q8_0 || type == GgmlType.Q4_0;
        if (quant && cols % 32 != 0) throw new IllegalArgumentException(name + ": " + type + " rows must be a multiple of 32 values, got " + cols);
        long valueBytes = switch (type) { // bytes per row of the largest buffer of a part
            case Q8_0 -> q8RowBytes(cols);
            case Q4_0 -> cols / 2;
            default -> rowBytes;
        };
        int rowsPerPart = rowsPerPart(name, rows, valueBytes);
        List<ClTensor.Part> parts = new ArrayList<>();
        for (int r0 = 0; r0 < rows; r0 += rowsPerPart) {
            int n = Math.min(rowsPerPart, rows - r0);
            MemorySegment src = w.bytes().asSlice(r0 * rowBytes, n * rowBytes);
            String what = "weight '" + name + "' rows " + r0 + ".." + (r0 + n - 1);
            parts.add(type == GgmlType.Q8_0 ? uploadQ8(what, n, cols, r0, src)
                    : type == GgmlType.Q4_0 ? uploadQ4(what, n, cols, r0, src) : uploadDense(what, r0, n, src));
        }
        cl_mem vec = null;
        if (rows == 1 && (type == GgmlType.F16 || type == GgmlType.BF16)) {
            // a norm vector: the norm kernels read F32
            float[] f = new float[cols];
            Dequant.row(type, w.bytes(), 0, f, 0, cols);
            vec = rt.create("weight '" + name + "' as F32", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * cols, Pointer.to(f));
        }
        return new ClTensor(name, type, rows, cols, true, parts.toArray(ClTensor.Part[]::new), vec);
    }

    private ClTensor upload(Int8Weight w) {
        int rows = w.rows(), cols = w.cols(), groups = w.groups();
        int rowsPerPart = rowsPerPart(w.name(), rows, cols);
        List<ClTensor.Part> parts = new ArrayList<>();
        for (int r0 = 0; r0 < rows; r0 += rowsPerPart) {
            int n = Math.min(rowsPerPart, rows - r0);
            String what = "weight '" + w.name() + "' rows " + r0 + ".." + (r0 + n - 1);
            ClTensor.Part values = uploadDense(what + " int8 values", r0, n, w.values().asSlice((long) r0 * cols, (long) n * cols));
            float[] sc = Arrays.copyOfRange(w.scales(), r0 * groups, (r0 + n) * groups);
            cl_mem scales = rt.create(what + " scales", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * sc.length, Pointer.to(sc));
            copiedBytes += 4L * sc.length;
            parts.add(new ClTensor.Part(r0, n, values.data(), scales));
        }
        cl_mem smooth = w.smooth() == null ? null
                : rt.create("weight '" + w.name() + "' smoothing vector", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * cols, Pointer.to(w.smooth()));
        return new ClTensor(w.name(), GgmlType.I8, rows, cols, true, parts.toArray(ClTensor.Part[]::new), null,
                w.groupSize(), w.quantizeActivations(), smooth);
    }

    /** Rows per part: as many rows of {@code rowBytes} as the largest allocation holds (at least one must fit). */
    private int rowsPerPart(String name, int rows, long rowBytes) {
        if (rowBytes > rt.maxAlloc()) {
            throw new DeviceOutOfMemoryException(name + ": one row of " + rowBytes + " bytes exceeds the largest allocation (" + rt.maxAlloc()
                    + " bytes) of " + rt.info.name(), rowBytes, null);
        }
        return (int) Math.min(rows, rt.maxAlloc() / rowBytes);
    }

    private ClTensor.Part uploadDense(String what, int r0, int n, MemorySegment src) {
        long bytes = src.byteSize();
        boolean aligned = src.isNative() && src.address() % Math.max(rt.info.baseAddrAlignBytes(), 1) == 0;
        if (rt.info.isCpu() && wrapHostMemory && aligned) {
            wrappedBytes += bytes;
            return new ClTensor.Part(r0, n, rt.create(what, CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR, bytes, Pointer.to(src.asByteBuffer())), null);
        }
        copiedBytes += bytes;
        var part = new ClTensor.Part(r0, n, rt.create(what, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, hostPointer(src)), null);
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
     * Q8_0 into superblocks, one stream per row with every vector load 32-byte aligned; packed through one small
     * staging area, row range by row range (a staging copy of the whole part left tens of MB more resident after
     * loading: freed staging stays as holes in the C heap).
     */
    private ClTensor.Part uploadQ8(String what, int n, int cols, int r0, MemorySegment src) {
        int blocks = cols / 32;
        long rowBytes = q8RowBytes(cols);
        cl_mem q = rt.create(what + " superblocks", CL_MEM_READ_ONLY, n * rowBytes, null);
        int rowsPerChunk = (int) Math.max(1, Math.min(n, STAGING_BYTES / rowBytes));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate(rowsPerChunk * rowBytes, 32);
            for (int c0 = 0; c0 < n; c0 += rowsPerChunk) {
                int m = Math.min(rowsPerChunk, n - c0);
                MemorySegment chunk = staging.asSlice(0, m * rowBytes);
                packQ8(src.asSlice((long) c0 * blocks * 34), chunk, m, blocks, rowBytes);
                rt.write(q, c0 * rowBytes, chunk.byteSize(), Pointer.to(chunk.asByteBuffer()));
            }
        }
        copiedBytes += n * rowBytes;
        dropMappedPages(src); // the repacked copy is all the device reads: the file's pages need not stay resident
        return new ClTensor.Part(r0, n, q, null);
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

    /** Q4_0 into two arrays: all values of a row contiguous, the F16 scales apart; staged as Q8_0 is. */
    private ClTensor.Part uploadQ4(String what, int n, int cols, int r0, MemorySegment src) {
        int blocks = cols / 32;
        long valueRow = blocks * 16L, scaleRow = blocks * 2L;
        cl_mem q = rt.create(what + " values", CL_MEM_READ_ONLY, n * valueRow, null);
        cl_mem s = rt.create(what + " scales", CL_MEM_READ_ONLY, n * scaleRow, null);
        int rowsPerChunk = (int) Math.max(1, Math.min(n, STAGING_BYTES / (valueRow + scaleRow)));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment qs = arena.allocate(rowsPerChunk * valueRow, 32), d = arena.allocate(rowsPerChunk * scaleRow, 32);
            for (int c0 = 0; c0 < n; c0 += rowsPerChunk) {
                int m = Math.min(rowsPerChunk, n - c0);
                for (long b = 0; b < (long) m * blocks; b++) {
                    long from = ((long) c0 * blocks + b) * 18;
                    MemorySegment.copy(src, from, d, b * 2, 2);
                    MemorySegment.copy(src, from + 2, qs, b * 16, 16);
                }
                rt.write(q, c0 * valueRow, m * valueRow, Pointer.to(qs.asByteBuffer()));
                rt.write(s, c0 * scaleRow, m * scaleRow, Pointer.to(d.asByteBuffer()));
            }
        }
        copiedBytes += n * (valueRow + scaleRow);
        dropMappedPages(src);
        return new ClTensor.Part(r0, n, q, s);
    }

    /** An I8 weight read back and dequantized on the host (q · scale) into dst (rows × cols). */
    void readInt8(ClTensor s, float[] dst) {
        int gs = s.groupSize == 0 ? s.cols : s.groupSize, groups = s.cols / gs;
        for (ClTensor.Part p : s.parts) {
            int rows = Math.min(p.rows(), s.rows - p.row0());
            if (rows <= 0) continue;
            byte[] q = new byte[rows * s.cols];
            float[] sc = new float[rows * groups];
            rt.read(p.data(), 0, q.length, Pointer.to(q));
            rt.read(p.scales(), 0, 4L * sc.length, Pointer.to(sc));
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < s.cols; j++) dst[(p.row0() + r) * s.cols + j] = q[r * s.cols + j] * sc[r * groups + j / gs];
            }
        }
    }

    /** madvise, linked on first use (linking a downcall costs start-up time a backend that copies nothing need not pay). */
    private static final class Madvise {
        static final MethodHandle HANDLE = Linker.nativeLinker().defaultLookup().find("madvise")
                .map(a -> Linker.nativeLinker().downcallHandle(a, FunctionDescriptor.of(
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)))
                .orElse(null);
    }
    private static final int MADV_DONTNEED = 4, PAGE = 4096;

    /**
     * Tells the kernel the whole pages of a memory-mapped file region are not needed (Linux MADV_DONTNEED; a later
     * read faults them in again from the file). Keeps peak host memory at one copy of a repacked weight instead of the
     * copy plus the file's pages. No-op for heap or anonymous memory, or where madvise is missing.
     */
    private static void dropMappedPages(MemorySegment src) {
        if (!src.isNative() || !src.isMapped() || Madvise.HANDLE == null) return;
        long start = (src.address() + PAGE - 1) / PAGE * PAGE, end = (src.address() + src.byteSize()) / PAGE * PAGE;
        if (end <= start) return;
        try {
            int ignored = (int) Madvise.HANDLE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_DONTNEED);
        } catch (Throwable e) {
            // advisory only
        }
    }

    private static Pointer hostPointer(MemorySegment src) {
        if (src.isNative()) return Pointer.to(src.asByteBuffer());
        return Pointer.to(src.toArray(ValueLayout.JAVA_BYTE));
    }
}
