package dev.infercl.backend.opencl;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jocl.cl_kernel;

/** The kernels the launchers ask for, built on first use by the {@link KernelLibrary}, and which files were launched. */
final class Kernels {
    private final KernelLibrary library;
    private final Set<String> used = new TreeSet<>();

    Kernels(KernelLibrary library) {
        this.library = library;
    }

    /** The entry point of {@code stem}.cl built with the device's defines plus {@code defines}. */
    cl_kernel get(String stem, Map<String, String> defines) {
        cl_kernel k = library.kernel(stem, defines);
        used.add(stem);
        return k;
    }

    cl_kernel get(String stem) {
        return get(stem, Map.of());
    }

    /** Stems of every kernel file asked for so far (the tests check that every file is launched by some test). */
    Set<String> used() {
        return used;
    }

    KernelLibrary library() {
        return library;
    }
}
