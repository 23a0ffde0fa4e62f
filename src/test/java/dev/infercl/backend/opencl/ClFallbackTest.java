package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With no OpenCL platform (OCL_ICD_VENDORS pointing at an empty directory, set for a child JVM since a process
 * cannot change its own environment): AUTO falls back to the CPU backend with one notice saying why, and
 * OPENCL fails with BackendUnavailableException. In a JVM without the Vector API, AUTO falls back to the reference
 * backend instead, the notice naming the missing flag.
 */
class ClFallbackTest {

    @Test
    void withoutAnyPlatformAutoFallsBackAndOpenclFails(@TempDir Path empty) throws Exception {
        String out = probe(empty, "--add-modules", "jdk.incubator.vector");
        assertTrue(out.contains("auto: cpu (1 threads, Vector API)"), out);
        long notices = out.lines().filter(l -> l.startsWith("notice: ")).count();
        assertEquals(1, notices, out);
        // with an ICD loader present: CL_PLATFORM_NOT_FOUND_KHR; without libOpenCL at all: the runtime could not be loaded
        assertTrue(out.contains("notice: no OpenCL platform found (CL_PLATFORM_NOT_FOUND_KHR); using the CPU backend")
                || out.contains("notice: no OpenCL runtime could be loaded"), out);
        assertTrue(out.contains("opencl error: no OpenCL"), out);
        assertTrue(Files.list(empty).findAny().isEmpty());
    }

    @Test
    void withoutTheVectorApiAutoFallsBackToTheReference(@TempDir Path empty) throws Exception {
        String out = probe(empty);
        assertTrue(out.contains("auto: cpu reference (scalar)"), out);
        var notices = out.lines().filter(l -> l.startsWith("notice: ")).toList();
        assertEquals(1, notices.size(), out);
        assertTrue(notices.getFirst().contains("JVM flag --add-modules jdk.incubator.vector")
                && notices.getFirst().contains("using the scalar reference backend"), out);
    }

    /** Runs {@link ClFallbackProbe} in a JVM that sees no OpenCL platform; its output, after checking it exits 3. */
    private static String probe(Path empty, String... flags) throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        var cmd = new ArrayList<>(List.of(javaBin.toString(), "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(List.of(flags));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ClFallbackProbe.class.getName()));
        var pb = new ProcessBuilder(cmd);
        pb.environment().put("OCL_ICD_VENDORS", empty.toString());
        pb.environment().remove("OPENCL_VENDOR_PATH");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "probe finished");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(3, p.exitValue(), out);
        return out;
    }
}
