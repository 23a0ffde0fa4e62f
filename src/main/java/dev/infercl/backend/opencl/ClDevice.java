package dev.infercl.backend.opencl;

import java.util.List;

/**
 * One OpenCL device as discovery sees it; plain values, no driver handles.
 *
 * @param index          position in {@link ClDevices#list()} (what {@code --device INDEX} names)
 * @param platform       platform name, e.g. {@code Portable Computing Language}
 * @param name           device name
 * @param type           {@code GPU}, {@code CPU}, {@code ACCELERATOR} or {@code OTHER}
 * @param computeUnits   CL_DEVICE_MAX_COMPUTE_UNITS
 * @param globalMemBytes CL_DEVICE_GLOBAL_MEM_SIZE
 * @param maxAllocBytes  CL_DEVICE_MAX_MEM_ALLOC_SIZE: the largest single buffer
 * @param version        CL_DEVICE_VERSION, e.g. {@code OpenCL 3.0 PoCL …}
 * @param cVersion       CL_DEVICE_OPENCL_C_VERSION
 * @param driverVersion  CL_DRIVER_VERSION
 * @param baseAddrAlignBytes CL_DEVICE_MEM_BASE_ADDR_ALIGN in bytes (host pointers wrapped in place must honour it)
 * @param extensions     every extension the device reports
 */
public record ClDevice(int index, String platform, String name, String type, int computeUnits, long globalMemBytes,
                       long maxAllocBytes, String version, String cVersion, String driverVersion,
                       int baseAddrAlignBytes, List<String> extensions) {

    /** Extensions InferCL can use as fast paths, or names of interest to a user. */
    public static final List<String> RELEVANT = List.of("cl_khr_fp16", "cl_khr_fp64", "cl_khr_subgroups",
            "cl_intel_subgroups", "cl_khr_integer_dot_product", "cl_khr_int64_base_atomics");

    public boolean isGpu() {
        return type.equals("GPU");
    }

    public boolean isCpu() {
        return type.equals("CPU");
    }

    public boolean hasExtension(String ext) {
        return extensions.contains(ext);
    }

    /** Device name and driver version: the key compiled programs are cached under. */
    public String cacheKey() {
        return platform + " / " + name + " / " + driverVersion;
    }

    /** One line, e.g. {@code #0 CPU pthread-… (Portable Computing Language), 2 CUs, 4.1 GiB, max alloc 2.0 GiB, OpenCL 3.0 …}. */
    public String summary() {
        var rel = extensions.stream().filter(RELEVANT::contains).toList();
        return "#" + index + " " + type + " " + name + " (" + platform + "), " + computeUnits + " compute units, "
                + gib(globalMemBytes) + " global, max alloc " + gib(maxAllocBytes) + ", " + version
                + ", driver " + driverVersion + (rel.isEmpty() ? "" : ", " + String.join(" ", rel));
    }

    static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}
