package dev.infercl.api;

import dev.infercl.engine.TokenLogprobs;

/** Receives generated tokens as they are produced, on the generating thread. */
@FunctionalInterface
public interface TokenListener {
    /**
     * @param tokenId the token
     * @param text    the text that became printable with it (may be empty while a UTF-8 character is incomplete)
     */
    void onToken(int tokenId, String text);

    /**
     * What a generation calls: the token with its log-probabilities when {@link GenerateOptions#logprobs()} asked for
     * them (null otherwise, and for the text a generation flushes at its end, tokenId −1). Override it to receive them;
     * by default it passes the token on to {@link #onToken(int, String)}.
     */
    default void onToken(int tokenId, String text, TokenLogprobs logprobs) {
        onToken(tokenId, text);
    }
}
