package dev.infercl.backend;

import dev.infercl.api.BackendKind;
import dev.infercl.backend.cpu.CpuBackend;
import dev.infercl.backend.opencl.ClBackend;
import java.util.function.Consumer;

/** Creates the backend a user asked for; the one place that chooses between them. */
public final class Backends {
    private Backends() {}

    /**
     * {@code OPENCL} opens the device {@code device} names (index or name fragment; null: a GPU first, then any
     * device) or throws {@link BackendUnavailableException}; {@code AUTO} does the same but falls back to the
     * CPU backend, telling {@code notices} why in one line.
     */
    public static Backend create(BackendKind kind, String device, int threads, Consumer<String> notices) {
        return create(kind, device, threads, false, notices);
    }

    /** As above; {@code kvCacheF32} keeps an OpenCL device's KV cache in F32 rather than FP16. */
    public static Backend create(BackendKind kind, String device, int threads, boolean kvCacheF32, Consumer<String> notices) {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        var cl = kvCacheF32 ? ClBackend.Options.defaults().withKvCacheF32(true) : ClBackend.Options.defaults();
        return switch (kind) {
            case CPU -> new CpuBackend(CpuBackend.Mode.FAST, n);
            case REFERENCE -> new CpuBackend(CpuBackend.Mode.REFERENCE, 1);
            case OPENCL -> ClBackend.open(device, cl);
            case AUTO -> {
                try {
                    yield ClBackend.open(device, cl);
                } catch (BackendUnavailableException e) {
                    if (notices != null) notices.accept(e.getMessage() + "; using the CPU backend");
                    yield new CpuBackend(CpuBackend.Mode.FAST, n);
                }
            }
        };
    }
}
