package dev.infercl.backend.opencl;

import static org.jocl.CL.*;

import dev.infercl.backend.BackendUnavailableException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

/**
 * Device discovery: every device of every OpenCL platform, in a stable order (platform, then device).
 * Without a usable OpenCL runtime (no libOpenCL, no ICD, zero platforms) every method throws
 * {@link BackendUnavailableException} saying why.
 */
public final class ClDevices {
    private ClDevices() {}

    /** A device together with the driver handles needed to open it. */
    record Found(ClDevice info, cl_platform_id platform, cl_device_id device) {}

    /** Every OpenCL device on this machine. */
    public static List<ClDevice> list() {
        return find().stream().map(Found::info).toList();
    }

    /** A printable table of platforms and devices (what {@code infercl devices} shows). */
    public static String describe() {
        List<ClDevice> devices;
        try {
            devices = list();
        } catch (BackendUnavailableException e) {
            return e.getMessage();
        }
        var sb = new StringBuilder();
        String platform = null;
        for (ClDevice d : devices) {
            if (!d.platform().equals(platform)) {
                platform = d.platform();
                sb.append("platform: ").append(platform).append('\n');
            }
            sb.append("  #").append(d.index()).append(' ').append(d.name()).append('\n')
              .append("      type ").append(d.type()).append(", ").append(d.computeUnits()).append(" compute units, ")
              .append(ClDevice.gib(d.globalMemBytes())).append(" global memory, max allocation ")
              .append(ClDevice.gib(d.maxAllocBytes())).append('\n')
              .append("      ").append(d.version()).append(" (").append(d.cVersion()).append("), driver ")
              .append(d.driverVersion()).append('\n');
            var rel = d.extensions().stream().filter(ClDevice.RELEVANT::contains).toList();
            sb.append("      extensions of interest: ").append(rel.isEmpty() ? "none" : String.join(" ", rel)).append('\n');
        }
        return sb.toString();
    }

    /**
     * The device {@code selector} names: null or blank picks the best (a GPU first, then any device); digits
     * pick by index; anything else is a case-insensitive fragment of the device or platform name.
     */
    static Found choose(String selector) {
        List<Found> all = find();
        if (selector == null || selector.isBlank()) {
            return all.stream().filter(f -> f.info().isGpu()).findFirst().orElse(all.getFirst());
        }
        String s = selector.strip();
        if (s.chars().allMatch(Character::isDigit)) {
            int i = Integer.parseInt(s);
            if (i >= all.size()) throw new BackendUnavailableException("no OpenCL device #" + i + " (found " + all.size() + ": " + names(all) + ")");
            return all.get(i);
        }
        String frag = s.toLowerCase(Locale.ROOT);
        return all.stream()
                .filter(f -> f.info().name().toLowerCase(Locale.ROOT).contains(frag) || f.info().platform().toLowerCase(Locale.ROOT).contains(frag))
                .findFirst()
                .orElseThrow(() -> new BackendUnavailableException("no OpenCL device matches '" + s + "' (found: " + names(all) + ")"));
    }

    private static String names(List<Found> all) {
        return String.join(", ", all.stream().map(f -> "#" + f.info().index() + " " + f.info().name()).toList());
    }

    static List<Found> find() {
        try {
            CL.setExceptionsEnabled(true);
            int[] count = new int[1];
            try {
                clGetPlatformIDs(0, null, count);
            } catch (CLException e) {
                throw new BackendUnavailableException("no OpenCL platform found (" + CL.stringFor_errorCode(e.getStatus()) + ")", e);
            }
            if (count[0] == 0) throw new BackendUnavailableException("no OpenCL platform found (zero platforms)");
            cl_platform_id[] platforms = new cl_platform_id[count[0]];
            clGetPlatformIDs(count[0], platforms, null);
            List<Found> out = new ArrayList<>();
            for (cl_platform_id p : platforms) {
                String pname = platformString(p, CL_PLATFORM_NAME);
                int[] n = new int[1];
                try {
                    clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, null, n);
                } catch (CLException e) {
                    continue; // CL_DEVICE_NOT_FOUND: a platform without devices
                }
                cl_device_id[] devs = new cl_device_id[n[0]];
                clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n[0], devs, null);
                for (cl_device_id d : devs) out.add(new Found(info(out.size(), pname, d), p, d));
            }
            if (out.isEmpty()) throw new BackendUnavailableException("no OpenCL device found (" + platforms.length + " platform(s) without devices)");
            return out;
        } catch (LinkageError e) {
            throw new BackendUnavailableException("no OpenCL runtime could be loaded (" + e.getMessage() + ")", e);
        }
    }

    private static ClDevice info(int index, String platform, cl_device_id d) {
        long type = deviceLong(d, CL_DEVICE_TYPE);
        String t = (type & CL_DEVICE_TYPE_GPU) != 0 ? "GPU" : (type & CL_DEVICE_TYPE_CPU) != 0 ? "CPU"
                : (type & CL_DEVICE_TYPE_ACCELERATOR) != 0 ? "ACCELERATOR" : "OTHER";
        String ext = deviceString(d, CL_DEVICE_EXTENSIONS).strip();
        return new ClDevice(index, platform, deviceString(d, CL_DEVICE_NAME).strip(), t,
                deviceInt(d, CL_DEVICE_MAX_COMPUTE_UNITS), deviceLong(d, CL_DEVICE_GLOBAL_MEM_SIZE),
                deviceLong(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE), deviceString(d, CL_DEVICE_VERSION).strip(),
                deviceString(d, CL_DEVICE_OPENCL_C_VERSION).strip(), deviceString(d, CL_DRIVER_VERSION).strip(),
                deviceInt(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN) / 8,
                ext.isEmpty() ? List.of() : Arrays.asList(ext.split("\\s+")));
    }

    static String platformString(cl_platform_id p, int param) {
        long[] size = new long[1];
        clGetPlatformInfo(p, param, 0, null, size);
        byte[] buf = new byte[(int) size[0]];
        clGetPlatformInfo(p, param, buf.length, Pointer.to(buf), null);
        return cString(buf);
    }

    static String deviceString(cl_device_id d, int param) {
        long[] size = new long[1];
        clGetDeviceInfo(d, param, 0, null, size);
        byte[] buf = new byte[(int) size[0]];
        clGetDeviceInfo(d, param, buf.length, Pointer.to(buf), null);
        return cString(buf);
    }

    static long deviceLong(cl_device_id d, int param) {
        long[] v = new long[1];
        clGetDeviceInfo(d, param, Sizeof.cl_ulong, Pointer.to(v), null);
        return v[0];
    }

    static int deviceInt(cl_device_id d, int param) {
        int[] v = new int[1];
        clGetDeviceInfo(d, param, Sizeof.cl_uint, Pointer.to(v), null);
        return v[0];
    }

    static String cString(byte[] buf) {
        int n = 0;
        while (n < buf.length && buf[n] != 0) n++;
        return new String(buf, 0, n, StandardCharsets.UTF_8);
    }
}
