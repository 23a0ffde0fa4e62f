package dev.infercl.backend;

/** The requested backend cannot run here (no OpenCL runtime, no such device …). */
public class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String message) {
        super(message);
    }

    public BackendUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
