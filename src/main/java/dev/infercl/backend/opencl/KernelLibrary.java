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
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_platform_id;
import org.jocl.cl_program;

/**
 * Loads {@code /opencl-kernels/<stem>.cl} from the classpath, builds it for one device with {@code -D}
 * tunables, and caches the built program and its kernel under (device, driver version, file, options).
 * Kernel {@code kernel_<stem>} is the file's entry point. A failed build raises {@link KernelBuildException}
 * with the build log. The in-memory cache lives as long as the library (one per backend and context); programs
 * are built on first use only, and each program compiled from source is also kept on disk when the library closes
 * ({@link ProgramBinaryCache}), so the next process loads the driver's binary instead of compiling the source.
 *
 * <p>Compiler diagnostics: every build's log goes to this class's logger at FINE (the CLI's {@code --verbose}),
 * and a failed build's log into its {@link KernelBuildException}. Clang-based compilers (POCL among them) also
 * print a summary such as {@code 2 warnings generated.} straight to the process's stderr, which no OpenCL call
 * can redirect; so unless FINE is on, builds pass the standard option {@code -w} (no warnings: the log and that
 * line stay empty). With FINE on, warnings are compiled in, logged, and the driver's own line shows too.
 */
final class KernelLibrary implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(KernelLibrary.class.getName());

    private final cl_context context;
    private final cl_device_id device;
    private final ClDevice info;
    private final Map<String, String> deviceDefines;
    private final ProgramBinaryCache disk;
    private final String platformName, platformVersion; // part of the disk key (ClDevice has the platform's name only)
    private final Map<String, cl_program> programs = new HashMap<>();
    private final Map<String, cl_kernel> kernels = new HashMap<>();
    private int builtFromSource, loadedFromDisk;
    private final Map<String, cl_program> unstored = new java.util.LinkedHashMap<>(); // disk key → program built from source

    /**
     * deviceDefines: tunables chosen for this device, passed to every build (a file ignores those it does not use);
     * compiled programs are kept in {@code disk} (a disabled cache keeps them in memory only).
     */
    KernelLibrary(cl_context context, cl_device_id device, ClDevice info, Map<String, String> deviceDefines, ProgramBinaryCache disk) {
        this.context = context;
        this.device = device;
        this.info = info;
        this.deviceDefines = new TreeMap<>(deviceDefines);
        this.disk = disk;
        this.platformName = info.platform();
        this.platformVersion = disk.enabled() ? platformVersion(device) : "";
    }

    /** CL_PLATFORM_VERSION of the device's platform (POCL's names its LLVM), or a placeholder the driver refused. */
    private static String platformVersion(cl_device_id device) {
        try {
            var platform = new cl_platform_id();
            clGetDeviceInfo(device, CL_DEVICE_PLATFORM, Sizeof.cl_platform_id, Pointer.to(platform), null);
            return ClDevices.platformString(platform, CL_PLATFORM_VERSION);
        } catch (CLException e) {
            return "(no platform version: " + CL.stringFor_errorCode(e.getStatus()) + ")";
        }
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
        String opts = options(defines);
        String key = info.cacheKey() + " | " + stem + " | " + opts;
        cl_kernel k = kernels.get(key);
        if (k != null) return k;
        cl_program program = programs.computeIfAbsent(key, x -> build(stem, opts));
        k = clCreateKernel(program, "kernel_" + stem, null);
        kernels.put(key, k);
        return k;
    }

    cl_kernel kernel(String stem) {
        return kernel(stem, Map.of());
    }

    /** The build options for the device tunables plus {@code defines}: see the class comment for {@code -w}. */
    String options(Map<String, String> defines) {
        var all = new TreeMap<>(deviceDefines);
        all.putAll(defines);
        var opts = new StringBuilder("-cl-std=CL1.2");
        all.forEach((k, v) -> opts.append(" -D").append(k).append('=').append(v));
        if (!LOG.isLoggable(Level.FINE)) opts.append(" -w");
        return opts.toString();
    }

    /** Programs built so far (each distinct file and option set once). */
    int programCount() {
        return programs.size();
    }

    /** Programs this library compiled from source (a disk cache miss, or no disk cache). */
    int programsBuiltFromSource() {
        return builtFromSource;
    }

    /** Programs this library loaded as a binary from the disk cache. */
    int programsLoadedFromDisk() {
        return loadedFromDisk;
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
        String source = source(stem);
        String key = disk.enabled()
                ? ProgramBinaryCache.key(platformName, platformVersion, info.name(), info.driverVersion(), info.version(), source, options)
                : null;
        if (key != null) {
            long t0 = System.nanoTime();
            byte[] binary = disk.load(key);
            if (binary != null) {
                cl_program p;
                try (var guard = disk.loading(key)) {
                    p = fromBinary(stem, binary, options);
                }
                if (p != null) {
                    loadedFromDisk++;
                    LOG.fine(() -> String.format(java.util.Locale.ROOT, "%s.cl [%s]: loaded from %s in %.1f ms",
                            stem, options, disk.file(key), (System.nanoTime() - t0) / 1e6));
                    return p;
                }
                LOG.fine(() -> stem + ".cl [" + options + "]: the driver rejected the cached binary " + disk.file(key) + "; rebuilding from source");
                disk.evict(key);
            }
        }
        long t0 = System.nanoTime();
        cl_program p = fromSource(stem, source, options);
        builtFromSource++;
        if (LOG.isLoggable(Level.FINE)) {
            String log = buildLog(p).strip();
            LOG.fine(String.format(java.util.Locale.ROOT, "%s.cl [%s]: built from source in %.1f ms%s", stem, options,
                    (System.nanoTime() - t0) / 1e6, log.isEmpty() ? ", empty build log" : ", build log:\n" + log));
        }
        if (key != null) unstored.put(key, p);
        return p;
    }

    /**
     * Writes the binaries of the programs compiled from source since the last call to the disk cache. Deferred to
     * {@link #close} rather than done after each build: asking POCL for a binary compiles the program once more
     * (its kernels for any work-group size), 0.1–0.3 s each, which would otherwise delay the first token of every
     * start whose kernels are not cached yet.
     */
    void storeBuilt() {
        unstored.forEach((key, p) -> {
            byte[] binary = binary(p);
            if (binary != null) disk.store(key, binary);
        });
        unstored.clear();
    }

    private cl_program fromSource(String stem, String source, String options) {
        cl_program p = clCreateProgramWithSource(context, 1, new String[] {source}, null, null);
        try {
            clBuildProgram(p, 1, new cl_device_id[] {device}, options, null, null);
            return p;
        } catch (CLException e) {
            String log = buildLog(p);
            clReleaseProgram(p);
            throw new KernelBuildException(stem + ".cl", options, info.name(), CL.stringFor_errorCode(e.getStatus()), log);
        }
    }

    /**
     * The program made from a cached binary, built (OpenCL requires it even for binaries) and checked to hold the
     * file's kernel; null when the driver refuses any step, so the caller compiles the source instead.
     */
    private cl_program fromBinary(String stem, byte[] binary, String options) {
        cl_program p = null;
        try {
            int[] status = {CL_INVALID_BINARY};
            p = clCreateProgramWithBinary(context, 1, new cl_device_id[] {device}, new long[] {binary.length}, new byte[][] {binary}, status, null);
            if (status[0] != CL_SUCCESS) throw new CLException("binary status " + CL.stringFor_errorCode(status[0]), status[0]);
            clBuildProgram(p, 1, new cl_device_id[] {device}, options, null, null);
            clReleaseKernel(clCreateKernel(p, "kernel_" + stem, null));
            return p;
        } catch (CLException | IllegalArgumentException e) {
            LOG.log(Level.FINE, stem + ".cl: the cached binary did not load (" + e.getMessage() + ")");
            if (p != null) clReleaseProgram(p);
            return null;
        }
    }

    /** The driver's binary of a program built for this library's one device, or null when it offers none. */
    private byte[] binary(cl_program p) {
        try {
            int[] devices = new int[1];
            clGetProgramInfo(p, CL_PROGRAM_NUM_DEVICES, Sizeof.cl_uint, Pointer.to(devices), null);
            if (devices[0] != 1) return null; // a context of several devices: not how ClBackend builds
            long[] size = new long[1];
            clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, Sizeof.size_t, Pointer.to(size), null);
            if (size[0] <= 0 || size[0] > Integer.MAX_VALUE - ProgramBinaryCache.HEADER_BYTES) return null;
            byte[] binary = new byte[(int) size[0]];
            clGetProgramInfo(p, CL_PROGRAM_BINARIES, Sizeof.POINTER, Pointer.to(Pointer.to(binary)), null);
            return binary;
        } catch (CLException e) {
            LOG.log(Level.FINE, "no program binary to cache (" + e.getMessage() + ")");
            return null;
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
        try {
            storeBuilt();
        } finally {
            kernels.values().forEach(CL::clReleaseKernel);
            programs.values().forEach(CL::clReleaseProgram);
            requested.clear();
            kernels.clear();
            programs.clear();
            unstored.clear();
        }
    }
}
