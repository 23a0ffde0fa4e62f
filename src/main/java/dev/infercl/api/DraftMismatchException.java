package dev.infercl.api;

/** A draft model that cannot propose tokens for a target: another vocabulary (size or a token's text). */
public final class DraftMismatchException extends IllegalArgumentException {
    public DraftMismatchException(String message) {
        super(message);
    }
}
