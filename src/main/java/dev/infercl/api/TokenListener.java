package dev.infercl.api;

/** Receives generated tokens as they are produced, on the generating thread. */
@FunctionalInterface
public interface TokenListener {
    /**
     * @param tokenId the token
     * @param text    the text that became printable with it (may be empty while a UTF-8 character is incomplete)
     */
    void onToken(int tokenId, String text);
}
