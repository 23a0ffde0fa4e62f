package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static org.jocl.CL.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_context_properties;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kernel sources as the device compiler gets them (shared headers pasted in place of their #include lines), and
 * compiled programs kept on disk: a second library loads them instead of compiling, a corrupt entry is rebuilt.
 */
class KernelLibraryTest {
    @TempDir Path cacheDir;

    @Test
    void includedHeadersArePastedInPlace() throws IOException {
        String source = KernelLibrary.source("attention_kv_f32");
        assertFalse(source.contains("#include"), "an #include line reached the compiler");
        Path dir = Path.of(System.getProperty("user.dir"), "opencl-kernels");
        String common = Files.readString(dir.resolve("common.h")), header = Files.readString(dir.resolve("attention_tiles.h"));
        String file = Files.readString(dir.resolve("attention_kv_f32.cl"));
        // attention_tiles.h includes common.h: pasted where its line stood, recursively
        String tiles = header.replace("#include \"common.h\"\n", common + "\n");
        assertEquals(file.replace("#include \"attention_tiles.h\"\n", tiles + "\n"), source);
        assertTrue(KernelLibrary.source("matmul_f16_f32_gemm").contains("void GEMM_KERNEL("));
    }

    @Test
    void aMissingOrCircularHeaderIsNamed() {
        var missing = assertThrows(IllegalStateException.class, () -> KernelLibrary.source("include_missing_test"));
        assertTrue(missing.getMessage().contains("no_such_header.h"), missing.getMessage());
        var cycle = assertThrows(IllegalStateException.class, () -> KernelLibrary.source("include_cycle_test"));
        assertTrue(cycle.getMessage().contains("include each other") && cycle.getMessage().contains("include_cycle_test.h"), cycle.getMessage());
    }

    @Test
    void aSecondLibraryLoadsTheProgramFromDiskAndACorruptEntryIsRebuilt() throws IOException {
        ClTestSupport.requireOpenCl();
        var found = ClDevices.choose(System.getProperty("infercl.test.device"));
        var props = new cl_context_properties();
        props.addProperty(CL_CONTEXT_PLATFORM, found.platform());
        cl_context context = clCreateContext(props, 1, new cl_device_id[] {found.device()}, null, null, null);
        try {
            var disk = ProgramBinaryCache.at(cacheDir);
            try (var first = new KernelLibrary(context, found.device(), found.info(), Map.of("LOCAL", "64"), disk)) {
                assertAdds(context, found.device(), first.kernel("elementwise_f32_f32"));
                assertEquals(1, first.programsBuiltFromSource());
                assertEquals(0, first.programsLoadedFromDisk());
            }
            Path entry = onlyEntry();

            try (var second = new KernelLibrary(context, found.device(), found.info(), Map.of("LOCAL", "64"), disk)) {
                assertAdds(context, found.device(), second.kernel("elementwise_f32_f32"));
                assertEquals(0, second.programsBuiltFromSource(), "the second start compiles nothing");
                assertEquals(1, second.programsLoadedFromDisk());
            }

            byte[] bytes = Files.readAllBytes(entry);
            bytes[bytes.length / 2] ^= 0x10; // a flipped bit inside the driver's binary
            Files.write(entry, bytes);
            try (var third = new KernelLibrary(context, found.device(), found.info(), Map.of("LOCAL", "64"), disk)) {
                assertAdds(context, found.device(), third.kernel("elementwise_f32_f32"));
                assertEquals(1, third.programsBuiltFromSource(), "a corrupt entry is rebuilt from source, never trusted");
                assertEquals(0, third.programsLoadedFromDisk());
            }
            assertEquals(entry, onlyEntry());
            assertTrue(ProgramBinaryCache.check(Files.readAllBytes(entry), entry.getFileName().toString().replace(".clbin", "")) == null,
                    "the rebuilt program replaced the corrupt entry");

            // an entry whose header checks out but whose payload is no binary of this driver's: the driver refuses it
            String key = entry.getFileName().toString().replace(".clbin", "");
            disk.store(key, "not a program binary".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            try (var fourth = new KernelLibrary(context, found.device(), found.info(), Map.of("LOCAL", "64"), disk)) {
                assertAdds(context, found.device(), fourth.kernel("elementwise_f32_f32"));
                assertEquals(1, fourth.programsBuiltFromSource(), "a binary the driver rejects is rebuilt from source");
            }
            try (var fifth = new KernelLibrary(context, found.device(), found.info(), Map.of("LOCAL", "64"), disk)) {
                assertAdds(context, found.device(), fifth.kernel("elementwise_f32_f32"));
                assertEquals(1, fifth.programsLoadedFromDisk(), "and the rebuilt binary replaced it");
            }

            try (var other = new KernelLibrary(context, found.device(), found.info(), Map.of("LOCAL", "32"), disk)) {
                other.kernel("elementwise_f32_f32");
                assertEquals(1, other.programsBuiltFromSource(), "other build options are another entry");
            }
            try (var off = new KernelLibrary(context, found.device(), found.info(), Map.of("LOCAL", "64"), ProgramBinaryCache.disabled())) {
                assertAdds(context, found.device(), off.kernel("elementwise_f32_f32"));
                assertEquals(1, off.programsBuiltFromSource());
            }
        } finally {
            clReleaseContext(context);
        }
    }

    @Test
    void warningsAreCompiledOnlyWhenTheLogShowsThem() {
        ClTestSupport.requireOpenCl();
        var found = ClDevices.choose(System.getProperty("infercl.test.device"));
        var props = new cl_context_properties();
        props.addProperty(CL_CONTEXT_PLATFORM, found.platform());
        cl_context context = clCreateContext(props, 1, new cl_device_id[] {found.device()}, null, null, null);
        Logger log = Logger.getLogger(KernelLibrary.class.getName());
        Level level = log.getLevel();
        var records = new ArrayList<String>();
        Handler keep = new Handler() {
            @Override
            public void publish(LogRecord r) {
                records.add(r.getMessage());
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        try (var quiet = new KernelLibrary(context, found.device(), found.info(), Map.of(), ProgramBinaryCache.disabled())) {
            // by default the standard option -w: clang-based drivers (POCL) print "N warnings generated." to stderr themselves
            assertTrue(quiet.options(Map.of()).endsWith(" -w"), quiet.options(Map.of()));
            quiet.kernel("warning_test");
            log.setLevel(Level.FINE);
            log.addHandler(keep);
            try (var verbose = new KernelLibrary(context, found.device(), found.info(), Map.of(), ProgramBinaryCache.disabled())) {
                assertFalse(verbose.options(Map.of()).contains("-w"), verbose.options(Map.of()));
                verbose.kernel("warning_test");
            }
        } finally {
            log.removeHandler(keep);
            log.setLevel(level);
            clReleaseContext(context);
        }
        assertEquals(1, records.size(), records.toString());
        assertTrue(records.getFirst().contains("warning_test.cl") && records.getFirst().contains("built from source"), records.getFirst());
        if (found.info().platform().contains("Portable Computing Language")) {
            assertTrue(records.getFirst().contains("warning:"), "POCL's build log carries the warning: " + records.getFirst());
        }
    }

    private Path onlyEntry() throws IOException {
        try (Stream<Path> files = Files.list(cacheDir)) {
            var all = files.filter(f -> f.toString().endsWith(".clbin")).toList();
            assertEquals(1, all.size(), all.toString());
            return all.getFirst();
        }
    }

    /** Runs kernel_elementwise_f32_f32 (its default OP: x = x + y) on 100 values and checks every sum. */
    private static void assertAdds(cl_context context, cl_device_id device, cl_kernel add) {
        int n = 100;
        float[] x = new float[n], y = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i;
            y[i] = 0.5f * i;
        }
        @SuppressWarnings("deprecation")
        cl_command_queue queue = clCreateCommandQueue(context, device, 0, null);
        cl_mem xb = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, 4L * n, Pointer.to(x), null);
        cl_mem yb = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * n, Pointer.to(y), null);
        try {
            clSetKernelArg(add, 0, Sizeof.cl_mem, Pointer.to(xb));
            clSetKernelArg(add, 1, Sizeof.cl_mem, Pointer.to(xb));
            clSetKernelArg(add, 2, Sizeof.cl_mem, Pointer.to(yb));
            clSetKernelArg(add, 3, Sizeof.cl_float, Pointer.to(new float[] {0f}));
            clSetKernelArg(add, 4, Sizeof.cl_int, Pointer.to(new int[] {n}));
            clSetKernelArg(add, 5, Sizeof.cl_int, Pointer.to(new int[] {n}));
            clEnqueueNDRangeKernel(queue, add, 1, null, new long[] {128}, new long[] {64}, 0, null, null);
            float[] out = new float[n];
            clEnqueueReadBuffer(queue, xb, CL_TRUE, 0, 4L * n, Pointer.to(out), 0, null, null);
            for (int i = 0; i < n; i++) assertEquals(1.5f * i, out[i], "x[" + i + "]");
        } finally {
            clReleaseMemObject(xb);
            clReleaseMemObject(yb);
            clReleaseCommandQueue(queue);
        }
    }
}
