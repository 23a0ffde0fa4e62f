package dev.infercl.backend.opencl;

/** A kernel program failed to build; the message carries the compiler's build log. */
public final class KernelBuildException extends RuntimeException {
    private final String buildLog;

    KernelBuildException(String kernelFile, String options, String device, String status, String buildLog) {
        super("building " + kernelFile + " for " + device + " with options [" + options + "] failed (" + status + "):\n" + buildLog);
        this.buildLog = buildLog;
    }

    public String buildLog() {
        return buildLog;
    }
}
