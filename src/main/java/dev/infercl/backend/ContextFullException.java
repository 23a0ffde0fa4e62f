package dev.infercl.backend;

/** A sequence would need more positions than the context (KV cache) holds. */
public class ContextFullException extends RuntimeException {
    public ContextFullException(String message) {
        super(message);
    }
}
