package dev.infercl.api;

import dev.infercl.backend.Backend;
import dev.infercl.backend.BackendUnavailableException;
import dev.infercl.backend.KvType;
import dev.infercl.backend.cpu.CpuBackend;
import dev.infercl.backend.opencl.ClBackend;
import dev.infercl.backend.opencl.ClOptions;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.logging.Logger;

/** Creates the backend a user asked for; the one place that chooses between them. */
public final class Backends {
    private Backends() {}

    private static final Logger LOG = Logger.getLogger(Backends.class.getName());
    private static final AtomicBoolean SAID_NO_VECTOR_API = new AtomicBoolean();

    /**
     * {@code OPENCL} opens the device {@code device} names (index or name fragment; null: a GPU first, then any
     * device) or throws {@link BackendUnavailableException}; {@code AUTO} does the same but falls back to the
     * CPU backend, telling {@code notices} why in one line. {@code CPU} needs the Vector API (JVM flag
     * {@code --add-modules jdk.incubator.vector}) and throws {@link BackendUnavailableException} naming the flag
     * without it; {@code AUTO} then falls back to the scalar reference backend instead, saying so to {@code notices},
     * or without them once through java.util.logging.
     */
    public static Backend create(BackendKind kind, String device, int threads, Consumer<String> notices) {
        return create(kind, device, threads, (KvType) null, notices);
    }

    /**
     * As above, with the KV cache type of an OpenCL device ({@code null}: the default, FP16). The CPU backends
     * always keep an F32 cache (they are the oracle); asking them for {@link KvType#I8} is said in one line to
     * {@code notices} rather than silently ignored.
     */
    public static Backend create(BackendKind kind, String device, int threads, KvType kvType, Consumer<String> notices) {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        var cl = kvType == null ? ClOptions.defaults() : ClOptions.defaults().withKvType(kvType);
        Backend b = switch (kind) {
            case CPU -> new CpuBackend(CpuBackend.Mode.FAST, n);
            case REFERENCE -> new CpuBackend(CpuBackend.Mode.REFERENCE, 1);
            case OPENCL -> ClBackend.open(device, cl);
            case AUTO -> {
                try {
                    yield ClBackend.open(device, cl);
                } catch (BackendUnavailableException e) {
                    if (!CpuBackend.vectorApiAvailable()) {
                        String why = e.getMessage() + "; the CPU backend needs the Vector API, which this JVM was started"
                                + " without (JVM flag " + CpuBackend.VECTOR_API_FLAG + "): using the scalar reference backend,"
                                + " which is much slower";
                        if (notices != null) notices.accept(why);
                        else if (SAID_NO_VECTOR_API.compareAndSet(false, true)) LOG.warning(why);
                        yield new CpuBackend(CpuBackend.Mode.REFERENCE, 1);
                    }
                    if (notices != null) notices.accept(e.getMessage() + "; using the CPU backend");
                    yield new CpuBackend(CpuBackend.Mode.FAST, n);
                }
            }
        };
        if (kvType == KvType.I8 && b instanceof CpuBackend && notices != null) {
            notices.accept("the CPU backend keeps its KV cache in F32 (it is the reference); the INT8 KV cache applies to OpenCL only");
        }
        return b;
    }
}
