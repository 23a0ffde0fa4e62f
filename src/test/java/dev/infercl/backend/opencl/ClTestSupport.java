package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.BackendUnavailableException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Assumptions;

/**
 * The one rule for OpenCL tests: they run wherever a platform exists; where none does they are skipped with the
 * reason, unless {@code INFERCL_REQUIRE_OPENCL=1} (CI), where a missing platform fails them.
 */
public final class ClTestSupport {
    private ClTestSupport() {}

    /** Skips (or, with INFERCL_REQUIRE_OPENCL=1, fails) the calling test when no OpenCL device is usable. */
    public static void requireOpenCl() {
        String why;
        try {
            if (!ClDevices.list().isEmpty()) return;
            why = "no OpenCL device";
        } catch (BackendUnavailableException e) {
            why = e.getMessage();
        }
        if ("1".equals(System.getenv("INFERCL_REQUIRE_OPENCL"))) fail("INFERCL_REQUIRE_OPENCL=1 but " + why);
        Assumptions.abort("skipped: " + why + " (set INFERCL_REQUIRE_OPENCL=1 to make this a failure)");
    }

    /** Every backend the tests opened in this JVM: {@link KernelCoverageTest} reads which kernels they launched. */
    private static final List<ClBackend> OPENED = new CopyOnWriteArrayList<>();

    /** A backend on the default device, after {@link #requireOpenCl}. */
    public static ClBackend open(ClOptions options) {
        requireOpenCl();
        ClBackend b = ClBackend.open(System.getProperty("infercl.test.device"), options);
        OPENED.add(b);
        return b;
    }

    /** Stems of every kernel file launched by the backends opened so far (closed ones included). */
    static Set<String> kernelsLaunched() {
        var all = new TreeSet<String>();
        for (ClBackend b : OPENED) all.addAll(b.kernelsUsed());
        return all;
    }

    /**
     * A backend with the kernel shapes GPUs take, forced on whatever device the tests run on: a work-group of
     * {@code lanes} work-items per one-token product output (gemv_lanes.h) and per (KV head, chunk, row) of
     * attention (attention_lanes.h).
     */
    public static ClBackend openWithLanes(int lanes, ClOptions options) {
        ClBackend b = open(options.withLanes(lanes));
        if (b.lanes() != lanes) fail("lanes " + lanes + " gave " + b.lanes() + " lanes");
        return b;
    }

    /** True under oclgrind (native/oclgrind-check.sh): tests keep their shapes small. */
    public static boolean small() {
        return Boolean.getBoolean("infercl.test.small");
    }
}
