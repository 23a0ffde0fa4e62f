package dev.infercl;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs the llama.cpp binaries in ../shared/anchors/llama.cpp from tests; a test that needs them skips, saying so,
 * where they (or a C compiler for the shim below) are absent.
 *
 * <p>That build loads its CPU backend as a plugin (one libggml-cpu-*.so per instruction set), which
 * {@code llama-quantize} never asks for: without a registered CPU device it crashes (SIGSEGV in
 * ggml_backend_dev_backend_reg, from the loader's mmap set-up) before reading a tensor. A library preloaded with
 * LD_PRELOAD calls ggml_backend_load_all() from its constructor, as llama-cli does at start; it is compiled once per
 * test run with the system C compiler, and every binary runs with it (harmless where the binary loads its backends
 * itself).
 */
public final class LlamaCpp {
    private LlamaCpp() {}

    private static Path shim;

    /** The binary {@code name} (llama-quantize, llama-cli, …); skips the calling test when it is absent. */
    public static Path tool(String name) {
        return SharedData.require("anchors/llama.cpp/" + name);
    }

    /** The backend-loading shim, built on first use; skips the calling test where it cannot be built. */
    public static synchronized Path shim() throws IOException, InterruptedException {
        if (shim != null) return shim;
        Path dir = Files.createTempDirectory("infercl-llamacpp-shim");
        dir.toFile().deleteOnExit();
        Path src = dir.resolve("load_backends.c"), lib = dir.resolve("load_backends.so");
        Files.writeString(src, """
                #include <dlfcn.h>
                __attribute__((constructor)) static void load_backends(void) {
                    void (*load_all)(void) = (void (*)(void)) dlsym(RTLD_DEFAULT, "ggml_backend_load_all");
                    if (load_all) load_all();
                }
                """);
        src.toFile().deleteOnExit();
        Process p;
        try {
            p = new ProcessBuilder("cc", "-shared", "-fPIC", "-O1", "-o", lib.toString(), src.toString(), "-ldl")
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.assumeTrue(false, "skipped: no C compiler (cc) to build the backend-loading shim llama.cpp's tools need: " + e.getMessage());
            return null;
        }
        String out = new String(p.getInputStream().readAllBytes());
        Assumptions.assumeTrue(p.waitFor() == 0, () -> "skipped: cc could not build the backend-loading shim: " + out);
        lib.toFile().deleteOnExit();
        shim = lib;
        return lib;
    }

    /** What a finished run printed on stdout and stderr, and its exit status. */
    public record Run(int exitCode, String stdout, String stderr) {
        /** Both streams, stdout first. */
        public String output() {
            return stdout + stderr;
        }
    }

    /**
     * Runs {@code tool} with {@code args} (libraries from the binary's directory, the shim preloaded, no input) and
     * returns its exit status and output; fails the test when it does not finish within {@code timeoutSeconds}.
     */
    public static Run run(String tool, int timeoutSeconds, String... args) throws IOException, InterruptedException {
        Path bin = tool(tool);
        Path lib = shim();
        List<String> cmd = new ArrayList<>(List.of(bin.toString()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("infercl-" + tool, ".out"), err = Files.createTempFile("infercl-" + tool, ".err");
        try {
            var pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().put("LD_LIBRARY_PATH", bin.getParent().toString());
            pb.environment().put("LD_PRELOAD", lib.toString());
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(String.join(" ", cmd) + " did not finish in " + timeoutSeconds + " s:\n" + Files.readString(out) + Files.readString(err));
            }
            return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** {@link #run}, failing the test (with the output) when the tool exits with a status other than 0. */
    public static Run runOk(String tool, int timeoutSeconds, String... args) throws IOException, InterruptedException {
        Run r = run(tool, timeoutSeconds, args);
        if (r.exitCode() != 0) fail(tool + " " + String.join(" ", args) + " exited with " + r.exitCode() + ":\n" + r.output());
        return r;
    }
}
