package dev.infercl.backend.opencl;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Whether this process may use Intel's AMX tile unit, which matmul_q8_0_q8_0_amx drives through inline assembly on a
 * CPU device. Two things must hold, and the first tile instruction kills the process with SIGILL where either does
 * not: the CPU has AMX-TILE and AMX-INT8 (Linux's /proc/cpuinfo flags), and the kernel has granted this process the
 * tile state, which Linux hands out only on request ({@code arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)},
 * once per process, for all its threads, POCL's workers included). {@link #reason()} asks once and keeps the answer.
 */
final class Amx {
    private static final long SYS_ARCH_PRCTL = 158, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    private static String reason;   // null until asked; "" when usable

    private Amx() {}

    /** True when the tile unit is there and this process may use it. */
    static boolean usable() {
        return reason().isEmpty();
    }

    /** Empty when usable, else why not (for a message). */
    static synchronized String reason() {
        if (reason == null) reason = ask();
        return reason;
    }

    private static String ask() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT), arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) return "not Linux on x86-64 (" + os + ", " + arch + ")";
        String flags;
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            flags = lines.filter(l -> l.startsWith("flags")).findFirst().orElse("");
        } catch (IOException | RuntimeException e) {
            return "/proc/cpuinfo is unreadable: " + e.getMessage();
        }
        if (!(" " + flags + " ").contains(" amx_tile ") || !(" " + flags + " ").contains(" amx_int8 ")) return "the CPU has no AMX-INT8";
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle syscall = linker.downcallHandle(linker.defaultLookup().find("syscall").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                    Linker.Option.firstVariadicArg(1));
            long rc = (long) syscall.invokeExact(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
            return rc == 0 ? "" : "the kernel refused the tile state (arch_prctl returned " + rc + ")";
        } catch (Throwable e) {
            return "the tile state could not be requested: " + e;
        }
    }
}
