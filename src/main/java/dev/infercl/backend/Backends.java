package dev.infercl.backend;

import dev.infercl.api.BackendKind;
import dev.infercl.backend.cpu.CpuBackend;
import java.util.function.Consumer;

/** Creates the backend a user asked for; the one place that chooses between them. */
public final class Backends {
    private Backends() {}

    public static Backend create(BackendKind kind, String device, int threads, Consumer<String> notices) {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        return switch (kind) {
            case CPU, AUTO -> new CpuBackend(CpuBackend.Mode.FAST, n);
            case REFERENCE -> new CpuBackend(CpuBackend.Mode.REFERENCE, 1);
            case OPENCL -> throw new BackendUnavailableException("the OpenCL backend is not built yet");
        };
    }
}
