package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.BackendUnavailableException;
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

    /** A backend on the default device, after {@link #requireOpenCl}. */
    public static ClBackend open(ClBackend.Options options) {
        requireOpenCl();
        return ClBackend.open(System.getProperty("infercl.test.device"), options);
    }

    /**
     * A backend with the kernel shapes GPUs take, forced on whatever device the tests run on through
     * {@code infercl.opencl.lanes}: a work-group of {@code lanes} work-items per one-token product output
     * (gemv_lanes.h) and per (KV head, chunk, row) of attention (attention_lanes.h).
     */
    public static ClBackend openWithLanes(int lanes, ClBackend.Options options) {
        System.setProperty("infercl.opencl.lanes", String.valueOf(lanes));
        try {
            ClBackend b = open(options);
            if (b.lanes() != lanes) fail("infercl.opencl.lanes=" + lanes + " gave " + b.lanes() + " lanes");
            return b;
        } finally {
            System.clearProperty("infercl.opencl.lanes");
        }
    }

    /** True under oclgrind (native/oclgrind-check.sh): tests keep their shapes small. */
    public static boolean small() {
        return Boolean.getBoolean("infercl.test.small");
    }
}
