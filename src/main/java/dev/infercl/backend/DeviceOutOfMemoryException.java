package dev.infercl.backend;

/** A device could not hold a tensor (or could not run a kernel for lack of resources); the message names what, where and how much. */
public class DeviceOutOfMemoryException extends RuntimeException {
    private final long bytesNeeded;

    public DeviceOutOfMemoryException(String message, long bytesNeeded, Throwable cause) {
        super(message, cause);
        this.bytesNeeded = bytesNeeded;
    }

    /** Bytes the failed allocation asked for (0 when unknown, e.g. a kernel launch). */
    public long bytesNeeded() {
        return bytesNeeded;
    }
}
