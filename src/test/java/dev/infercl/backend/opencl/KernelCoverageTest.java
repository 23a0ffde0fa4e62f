package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * Every kernel file in opencl-kernels/ was launched by some test of this run: the union of what the backends the
 * tests opened ({@link ClTestSupport#open}) actually launched, so a kernel no test reaches is noticed. Runs after the
 * other classes (junit-platform.properties orders classes by {@link Order}); skipped when no OpenCL test ran in this
 * JVM (a run of selected tests, or no OpenCL platform).
 */
@Order(Integer.MAX_VALUE)
class KernelCoverageTest {

    @Test
    void everyKernelFileWasLaunched() throws IOException {
        Set<String> launched = ClTestSupport.kernelsLaunched();
        Assumptions.assumeTrue(launched.contains("matmul_q8_0_f32_gemv") && launched.contains("kvwrite_i8_f32"),
                "skipped: the OpenCL parity tests did not run in this JVM (launched: " + launched + ")");
        var files = new TreeSet<String>();
        try (var s = Files.list(Path.of(System.getProperty("user.dir"), "opencl-kernels"))) {
            s.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".cl")).forEach(f -> files.add(f.substring(0, f.length() - 3)));
        }
        var missing = new TreeSet<>(files);
        missing.removeAll(launched);
        if (!Amx.usable()) missing.removeAll(ClAmxTest.KERNELS); // they run only where the CPU has AMX
        assertEquals(Set.of(), missing, "kernel files no test launched");
        var unknown = new TreeSet<>(launched);
        unknown.removeAll(files);
        assertEquals(Set.of(), unknown, "launched stems without a kernel file");
    }
}
