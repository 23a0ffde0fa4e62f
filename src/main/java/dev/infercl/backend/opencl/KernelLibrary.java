package dev.infercl.backend.opencl;

import static org.jocl.CL.*;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_program;

/**
 * Loads {@code /opencl-kernels/<stem>.cl} from the classpath, builds it for one device with {@code -D}
 * tunables, and caches the built program and its kernel under (device, driver version, file, options).
 * Kernel {@code kernel_<stem>} is the file's entry point. A failed build raises {@link KernelBuildException}
 * with the build log. The cache lives as long as the library (one per backend and context).
 */
final class KernelLibrary implements AutoCloseable {
    private final cl_context context;
    private final cl_device_id device;
    private final ClDevice info;
    private final Map<String, String> deviceDefines;
    private final Map<String, cl_program> programs = new HashMap<>();
    private final Map<String, cl_kernel> kernels = new HashMap<>();

    /** deviceDefines: tunables chosen for this device, passed to every build (a file ignores those it does not use). */
    KernelLibrary(cl_context context, cl_device_id device, ClDevice info, Map<String, String> deviceDefines) {
        this.context = context;
        this.device = device;
        this.info = info;
        this.deviceDefines = new TreeMap<>(deviceDefines);
    }

    /** A kernel as the backend asks for it: looked up once per launch, so without building the option string. */
    private record Request(String stem, Map<String, String> defines) {}
    private final Map<Request, cl_kernel> requested = new HashMap<>();

    /** The kernel of {@code stem}.cl built with the device tunables plus {@code defines} (which win). */
    cl_kernel kernel(String stem, Map<String, String> defines) {
        var request = new Request(stem, defines);
        cl_kernel known = requested.get(request);
        if (known != null) return known;
        cl_kernel k = createKernel(stem, defines);
        requested.put(new Request(stem, Map.copyOf(defines)), k);
        return k;
    }

    private cl_kernel createKernel(String stem, Map<String, String> defines) {
        var all = new TreeMap<>(deviceDefines);
        all.putAll(defines);
        var opts = new StringBuilder("-cl-std=CL1.2");
        all.forEach((k, v) -> opts.append(" -D").append(k).append('=').append(v));
        String key = info.cacheKey() + " | " + stem + " | " + opts;
        cl_kernel k = kernels.get(key);
        if (k != null) return k;
        cl_program program = programs.computeIfAbsent(key, x -> build(stem, opts.toString()));
        k = clCreateKernel(program, "kernel_" + stem, null);
        kernels.put(key, k);
        return k;
    }

    cl_kernel kernel(String stem) {
        return kernel(stem, Map.of());
    }

    /** Programs built so far (each distinct file and option set once). */
    int programCount() {
        return programs.size();
    }

    /**
     * The source of {@code stem}.cl with every {@code #include "name.h"} line replaced by that header's text (from
     * the same folder, recursively), so the device compiler needs no include path. Helpers two kernels share (a dot
     * product, an attention tile) live once in a header; a kernel file still builds standalone with
     * {@code -I opencl-kernels}.
     */
    static String source(String stem) {
        return expand(stem + ".cl", new ArrayDeque<>());
    }

    private static final Pattern INCLUDE = Pattern.compile("^[ \\t]*#[ \\t]*include[ \\t]+\"([A-Za-z0-9_]+\\.h)\"[ \\t]*$", Pattern.MULTILINE);

    private static String expand(String file, ArrayDeque<String> including) {
        if (including.contains(file)) throw new IllegalStateException("kernel headers include each other: " + String.join(" → ", including) + " → " + file);
        including.push(file);
        String text = read("/opencl-kernels/" + file);
        var out = new StringBuilder();
        Matcher m = INCLUDE.matcher(text);
        int at = 0;
        while (m.find()) {
            out.append(text, at, m.start()).append(expand(m.group(1), including));
            at = m.end();
        }
        including.pop();
        return out.append(text, at, text.length()).toString();
    }

    private static String read(String path) {
        try (InputStream in = KernelLibrary.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalStateException("kernel source " + path + " is not on the classpath");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + path, e);
        }
    }

    private cl_program build(String stem, String options) {
        cl_program p = clCreateProgramWithSource(context, 1, new String[] {source(stem)}, null, null);
        try {
            clBuildProgram(p, 1, new cl_device_id[] {device}, options, null, null);
            return p;
        } catch (CLException e) {
            String log = buildLog(p);
            clReleaseProgram(p);
            throw new KernelBuildException(stem + ".cl", options, info.name(), CL.stringFor_errorCode(e.getStatus()), log);
        }
    }

    private String buildLog(cl_program p) {
        try {
            long[] size = new long[1];
            clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, 0, null, size);
            byte[] buf = new byte[(int) size[0]];
            clGetProgramBuildInfo(p, device, CL_PROGRAM_BUILD_LOG, buf.length, Pointer.to(buf), null);
            return ClDevices.cString(buf);
        } catch (CLException e) {
            return "(no build log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        kernels.values().forEach(CL::clReleaseKernel);
        programs.values().forEach(CL::clReleaseProgram);
        requested.clear();
        kernels.clear();
        programs.clear();
    }
}
