package dev.infercl.backend.opencl;

import static org.jocl.CL.*;

import dev.infercl.backend.DeviceOutOfMemoryException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
 * The device surface the OpenCL backend stands on: one context and one in-order queue on one device, buffers (each
 * accounted, so an allocation failure can say what was already held), transfers, kernel launches with typed
 * arguments, and per-kernel device time when profiling. Nothing here knows what a kernel computes.
 *
 * <p>Launches go through LWJGL's binding (typed setters, no boxing: a one-token forward sets about a thousand
 * arguments) on JOCL's own handles — both call the one ICD loader; everything else is JOCL.
 */
final class ClRuntime implements AutoCloseable {
    final ClDevice info;
    final cl_device_id device;
    final cl_context context;
    private final cl_command_queue queue;
    private final long queueAddress;      // the queue's native handle, for LWJGL
    private final boolean lwjgl, profile;
    private final long maxAlloc;          // largest single buffer: the device's, the option's, and what a ByteBuffer can hold
    private final IdentityHashMap<cl_mem, Long> buffers = new IdentityHashMap<>(); // every live buffer → bytes
    private final List<String> profiledLabels = new ArrayList<>();
    private final List<cl_event> profiledEvents = new ArrayList<>();

    ClRuntime(ClDevices.Found found, ClOptions options) {
        this.info = found.info();
        this.device = found.device();
        this.profile = options.profile();
        this.lwjgl = options.lwjgl() && !profile && lwjglLoads();
        long deviceMax = Math.min(info.maxAllocBytes(), Integer.MAX_VALUE & ~0xfffL);
        this.maxAlloc = options.maxAllocBytes() > 0 ? Math.min(options.maxAllocBytes(), deviceMax) : deviceMax;
        var props = new cl_context_properties();
        props.addProperty(CL_CONTEXT_PLATFORM, found.platform());
        this.context = clCreateContext(props, 1, new cl_device_id[] {device}, null, null, null);
        @SuppressWarnings("deprecation")
        cl_command_queue q = clCreateCommandQueue(context, device, profile ? CL_QUEUE_PROFILING_ENABLE : 0, null); // in-order: ops need no events
        this.queue = q;
        this.queueAddress = q.getNativePointer();
    }

    /**
     * LWJGL ships its native library per platform (the build carries Linux x86-64 only); where it cannot load, the
     * launches stay on JOCL, which works everywhere the backend does, and one log line says so.
     */
    private static boolean lwjglLoads() {
        try {
            org.lwjgl.opencl.CL.getFunctionProvider(); // loads LWJGL's natives and binds the system's OpenCL loader
            return true;
        } catch (LinkageError | RuntimeException e) {
            java.util.logging.Logger.getLogger(ClRuntime.class.getName()).info(
                    "LWJGL's OpenCL binding did not load (" + e + "); kernel launches go through JOCL");
            return false;
        }
    }

    long maxAlloc() {
        return maxAlloc;
    }

    // ---------------------------------------------------------------- buffers

    /** A buffer of {@code bytes} (one larger than the largest allocation is refused, naming {@code what}). */
    cl_mem create(String what, long flags, long bytes, Pointer host) {
        if (bytes > maxAlloc) {
            throw new DeviceOutOfMemoryException(what + " needs " + bytes + " bytes in one buffer, more than the largest allocation ("
                    + maxAlloc + " bytes) of " + info.name(), bytes, null);
        }
        try {
            cl_mem m = clCreateBuffer(context, flags, Math.max(bytes, 4), host, null);
            buffers.put(m, bytes);
            return m;
        } catch (CLException e) {
            throw failure(what, bytes, e);
        }
    }

    /** A read-write buffer, or {@code old} when it already holds {@code bytes}: scratch that grows on demand. */
    cl_mem grow(cl_mem old, String what, long bytes) {
        if (old != null && buffers.getOrDefault(old, 0L) >= bytes) return old;
        if (old != null) release(old);
        return create(what, CL_MEM_READ_WRITE, bytes, null);
    }

    void release(cl_mem m) {
        if (m != null && buffers.remove(m) != null) clReleaseMemObject(m);
    }

    long allocatedBytes() {
        return buffers.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * An OpenCL error as the user should read it: allocation failures become {@link DeviceOutOfMemoryException}
     * with what was being allocated and what is already held; anything else is returned as it is.
     */
    RuntimeException failure(String what, long bytes, CLException e) {
        int s = e.getStatus();
        if (s == CL_MEM_OBJECT_ALLOCATION_FAILURE || s == CL_OUT_OF_RESOURCES || s == CL_OUT_OF_HOST_MEMORY || s == CL_INVALID_BUFFER_SIZE) {
            return new DeviceOutOfMemoryException("device " + info.name() + " is out of memory (" + CL.stringFor_errorCode(s) + ") for " + what
                    + (bytes > 0 ? ": needs " + bytes + " more bytes" : "") + " with " + allocatedBytes() + " bytes already allocated of "
                    + info.globalMemBytes() + " global", bytes, e);
        }
        return e;
    }

    // ---------------------------------------------------------------- transfers (blocking: see IntRing)

    void write(cl_mem dst, long offset, long bytes, Pointer src) {
        clEnqueueWriteBuffer(queue, dst, CL_TRUE, offset, bytes, src, 0, null, null);
    }

    void read(cl_mem src, long offset, long bytes, Pointer dst) {
        try {
            clEnqueueReadBuffer(queue, src, CL_TRUE, offset, bytes, dst, 0, null, null);
        } catch (CLException e) {
            throw failure("the queued kernels", 0, e);
        }
    }

    void copy(cl_mem src, cl_mem dst, long srcOffset, long dstOffset, long bytes) {
        clEnqueueCopyBuffer(queue, src, dst, srcOffset, dstOffset, bytes, 0, null, null);
    }

    /** Fills {@code bytes} of m with the float {@code value}, and waits (the pattern lives in a local direct buffer). */
    void fill(cl_mem m, float value, long bytes) {
        ByteBuffer pattern = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, value);
        clEnqueueFillBuffer(queue, m, Pointer.to(pattern), Sizeof.cl_float, 0, bytes, 0, null, null);
        clFinish(queue);
    }

    /** Waits for every queued command. */
    void finish() {
        clFinish(queue);
    }

    // ---------------------------------------------------------------- launches

    /** Starts a launch of {@code kernel}: set its arguments in order with the typed setters, then {@link Launch#run}. */
    Launch launch(cl_kernel kernel, String what) {
        return new Launch(kernel, what);
    }

    /**
     * The arguments and enqueue of one kernel launch. Arguments are set on the kernel as they are given, so one
     * launch of a kernel must end with {@link #run} before the next launch of the same kernel starts.
     */
    final class Launch {
        private final cl_kernel kernel;
        private final long handle;
        private final String what;
        private int index;

        private Launch(cl_kernel k, String label) {
            kernel = k;
            handle = k.getNativePointer();
            what = label;
        }

        Launch mem(cl_mem m) {
            if (lwjgl) check(CL10.clSetKernelArg1p(handle, index, m.getNativePointer()));
            else clSetKernelArg(kernel, index, Sizeof.cl_mem, Pointer.to(m));
            index++;
            return this;
        }

        Launch i(int v) {
            if (lwjgl) check(CL10.clSetKernelArg1i(handle, index, v));
            else clSetKernelArg(kernel, index, Sizeof.cl_int, Pointer.to(new int[] {v}));
            index++;
            return this;
        }

        Launch f(float v) {
            if (lwjgl) check(CL10.clSetKernelArg1f(handle, index, v));
            else clSetKernelArg(kernel, index, Sizeof.cl_float, Pointer.to(new float[] {v}));
            index++;
            return this;
        }

        /** The attention kernels' two ENC_DEC arguments (relBias, keys) when built with it; nothing otherwise. */
        Launch encDec(boolean on, cl_mem relBias, int keys) {
            return on ? mem(relBias).i(keys) : this;
        }

        /** Enqueues over {@code global} work-items in groups of {@code local} (null: the runtime's choice); nothing when a size is 0. */
        void run(long[] global, long[] local) {
            for (long g : global) if (g == 0) return;
            if (lwjgl) {
                try (MemoryStack stack = MemoryStack.stackPush()) {
                    PointerBuffer g = stack.mallocPointer(global.length), l = local == null ? null : stack.mallocPointer(local.length);
                    for (int d = 0; d < global.length; d++) {
                        g.put(d, global[d]);
                        if (l != null) l.put(d, local[d]);
                    }
                    check(CL10.clEnqueueNDRangeKernel(queueAddress, handle, global.length, null, g, l, null, null));
                }
                return;
            }
            try {
                cl_event ev = profile ? new cl_event() : null;
                clEnqueueNDRangeKernel(queue, kernel, global.length, null, global, local, 0, null, ev);
                if (profile) {
                    profiledLabels.add(what);
                    profiledEvents.add(ev);
                }
            } catch (CLException e) {
                throw failure(what, 0, e);
            }
        }

        private void check(int err) {
            if (err != CL_SUCCESS) throw failure(what, 0, new CLException(CL.stringFor_errorCode(err), err));
        }
    }

    /**
     * With profiling on: waits for the queue, then returns device nanoseconds and launch counts per launch label since
     * the last call ({label → [nanos, count]}; a weight's name in the label is dropped) and forgets them. Empty otherwise.
     */
    Map<String, long[]> takeProfile() {
        Map<String, long[]> out = new TreeMap<>();
        if (!profile) return out;
        clFinish(queue);
        long[] t = new long[1];
        for (int i = 0; i < profiledEvents.size(); i++) {
            cl_event ev = profiledEvents.get(i);
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, Sizeof.cl_ulong, Pointer.to(t), null);
            long start = t[0];
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, Sizeof.cl_ulong, Pointer.to(t), null);
            long[] acc = out.computeIfAbsent(profiledLabels.get(i).replaceAll(" on '.*'", ""), x -> new long[2]);
            acc[0] += t[0] - start;
            acc[1]++;
            clReleaseEvent(ev);
        }
        profiledEvents.clear();
        profiledLabels.clear();
        return out;
    }

    @Override
    public void close() {
        try {
            clFinish(queue);
        } finally {
            for (cl_mem m : new ArrayList<>(buffers.keySet())) release(m);
            clReleaseCommandQueue(queue);
            clReleaseContext(context);
        }
    }
}
