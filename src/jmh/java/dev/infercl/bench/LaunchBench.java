package dev.infercl.bench;

import static org.jocl.CL.*;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_context_properties;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
import org.jocl.cl_platform_id;
import org.jocl.cl_program;
import org.lwjgl.PointerBuffer;
import org.lwjgl.opencl.CL10;
import org.lwjgl.system.MemoryStack;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Host cost of one kernel launch: four clSetKernelArg calls (a buffer, two ints, a float, as a
 * typical ClBackend launch) plus clEnqueueNDRangeKernel of a tiny kernel, {@value #N} times; the clFinish that
 * drains them runs outside the measured time. Through JOCL (as ClBackend's {@code -Dinfercl.opencl.binding=jocl}
 * path calls it) and through LWJGL 3's OpenCL binding (ClBackend's launch path, because it measured faster here),
 * on the same device: the first platform whose name contains {@code -Dlaunch.platform} (default "Portable", i.e.
 * POCL). {@code *SetArg} is one clSetKernelArg of an int alone. The C floor of the same loop is
 * {@code native/launchcost.c}. Results are ns per launch (or per setArg).
 *
 * <pre>mvn -Pjmh test-compile exec:exec -Djmh.args="LaunchBench -f 1 -wi 3 -i 5 -w 1s -r 1s"</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class LaunchBench {
    static final int N = 2000;
    static final String SOURCE = """
            __kernel void tiny(__global float* x, int a, int b, float c) {
                int i = get_global_id(0);
                if (i < a) x[i] = x[i] * c + b;
            }
            """;

    // JOCL handles
    private cl_context joclContext;
    private cl_command_queue joclQueue;
    private cl_program joclProgram;
    private cl_kernel joclKernel;
    private cl_mem joclBuffer;
    private final java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(16).order(java.nio.ByteOrder.nativeOrder());
    private final Pointer directPointer = Pointer.to(direct);
    // LWJGL handles (raw pointers)
    private long lwContext, lwQueue, lwProgram, lwKernel, lwBuffer;

    @Setup(Level.Trial)
    public void setup() {
        String want = System.getProperty("launch.platform", "Portable");
        setExceptionsEnabled(true);
        // JOCL side
        int[] count = new int[1];
        clGetPlatformIDs(0, null, count);
        cl_platform_id[] platforms = new cl_platform_id[count[0]];
        clGetPlatformIDs(count[0], platforms, null);
        int chosen = 0;
        for (int i = 0; i < platforms.length; i++) {
            byte[] name = new byte[256];
            long[] len = new long[1];
            clGetPlatformInfo(platforms[i], CL_PLATFORM_NAME, name.length, Pointer.to(name), len);
            if (new String(name, 0, (int) len[0], StandardCharsets.UTF_8).contains(want)) { chosen = i; break; }
        }
        cl_device_id[] dev = new cl_device_id[1];
        clGetDeviceIDs(platforms[chosen], CL_DEVICE_TYPE_ALL, 1, dev, null);
        var props = new cl_context_properties();
        props.addProperty(CL_CONTEXT_PLATFORM, platforms[chosen]);
        joclContext = clCreateContext(props, 1, dev, null, null, null);
        @SuppressWarnings("deprecation")
        cl_command_queue q = clCreateCommandQueue(joclContext, dev[0], 0, null);
        joclQueue = q;
        joclProgram = clCreateProgramWithSource(joclContext, 1, new String[] {SOURCE}, null, null);
        clBuildProgram(joclProgram, 0, null, null, null, null);
        joclKernel = clCreateKernel(joclProgram, "tiny", null);
        joclBuffer = clCreateBuffer(joclContext, CL_MEM_READ_WRITE, 4 * 64, null, null);

        // LWJGL side: the same platform index, its own context
        try (MemoryStack stack = MemoryStack.stackPush()) {
            var ids = stack.mallocPointer(platforms.length);
            CL10.clGetPlatformIDs(ids, (java.nio.IntBuffer) null);
            long platform = ids.get(chosen);
            var devs = stack.mallocPointer(1);
            CL10.clGetDeviceIDs(platform, CL10.CL_DEVICE_TYPE_ALL, devs, (java.nio.IntBuffer) null);
            long device = devs.get(0);
            var cprops = stack.mallocPointer(3).put(CL10.CL_CONTEXT_PLATFORM).put(platform).put(0).flip();
            var err = stack.mallocInt(1);
            lwContext = CL10.clCreateContext(cprops, device, null, 0, err);
            check(err.get(0), "clCreateContext");
            lwQueue = CL10.clCreateCommandQueue(lwContext, device, 0, err);
            check(err.get(0), "clCreateCommandQueue");
            lwProgram = CL10.clCreateProgramWithSource(lwContext, SOURCE, err);
            check(err.get(0), "clCreateProgramWithSource");
            check(CL10.clBuildProgram(lwProgram, device, "", null, 0), "clBuildProgram");
            lwKernel = CL10.clCreateKernel(lwProgram, "tiny", err);
            check(err.get(0), "clCreateKernel");
            lwBuffer = CL10.clCreateBuffer(lwContext, CL10.CL_MEM_READ_WRITE, 4 * 64, err);
            check(err.get(0), "clCreateBuffer");
        }
    }

    private static void check(int err, String what) {
        if (err != 0) throw new IllegalStateException(what + " failed: " + err);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        clReleaseMemObject(joclBuffer);
        clReleaseKernel(joclKernel);
        clReleaseProgram(joclProgram);
        clReleaseCommandQueue(joclQueue);
        clReleaseContext(joclContext);
        CL10.clReleaseMemObject(lwBuffer);
        CL10.clReleaseKernel(lwKernel);
        CL10.clReleaseProgram(lwProgram);
        CL10.clReleaseCommandQueue(lwQueue);
        CL10.clReleaseContext(lwContext);
    }

    /** Waits for the launches of the last invocation outside the measured time, so the launch figures are host cost only. */
    @TearDown(Level.Invocation)
    public void drain() {
        clFinish(joclQueue);
        CL10.clFinish(lwQueue);
    }

    /** As ClBackend.launch with the JOCL binding: a fresh Pointer per argument, fresh global/local arrays. */
    @Benchmark
    @OperationsPerInvocation(N)
    public void joclLaunch() {
        for (int i = 0; i < N; i++) {
            long[] global = {64}, local = {64};
            clSetKernelArg(joclKernel, 0, Sizeof.cl_mem, Pointer.to(joclBuffer));
            clSetKernelArg(joclKernel, 1, Sizeof.cl_int, Pointer.to(new int[] {64}));
            clSetKernelArg(joclKernel, 2, Sizeof.cl_int, Pointer.to(new int[] {i}));
            clSetKernelArg(joclKernel, 3, Sizeof.cl_float, Pointer.to(new float[] {1f}));
            clEnqueueNDRangeKernel(joclQueue, joclKernel, 1, null, global, local, 0, null, null);
        }
    }

    /** The LWJGL equivalent: typed setters (no boxing, no Pointer objects), sizes on LWJGL's thread-local stack. */
    @Benchmark
    @OperationsPerInvocation(N)
    public void lwjglLaunch() {
        for (int i = 0; i < N; i++) {
            try (MemoryStack stack = MemoryStack.stackPush()) {
                PointerBuffer global = stack.mallocPointer(1).put(0, 64), local = stack.mallocPointer(1).put(0, 64);
                CL10.clSetKernelArg1p(lwKernel, 0, lwBuffer);
                CL10.clSetKernelArg1i(lwKernel, 1, 64);
                CL10.clSetKernelArg1i(lwKernel, 2, i);
                CL10.clSetKernelArg1f(lwKernel, 3, 1f);
                CL10.clEnqueueNDRangeKernel(lwQueue, lwKernel, 1, null, global, local, null, null);
            }
        }
    }

    /** One JOCL clSetKernelArg of an int, as ClBackend.launch makes it. */
    @Benchmark
    @OperationsPerInvocation(N)
    public void joclSetArg() {
        for (int i = 0; i < N; i++) clSetKernelArg(joclKernel, 2, Sizeof.cl_int, Pointer.to(new int[] {i}));
    }

    /** One JOCL clSetKernelArg of an int from a direct buffer (JOCL reads its address; no array pinning). */
    @Benchmark
    @OperationsPerInvocation(N)
    public void joclSetArgDirect() {
        for (int i = 0; i < N; i++) {
            direct.putInt(0, i);
            clSetKernelArg(joclKernel, 2, Sizeof.cl_int, directPointer);
        }
    }

    /** One LWJGL clSetKernelArg1i. */
    @Benchmark
    @OperationsPerInvocation(N)
    public void lwjglSetArg() {
        for (int i = 0; i < N; i++) CL10.clSetKernelArg1i(lwKernel, 2, i);
    }
}
