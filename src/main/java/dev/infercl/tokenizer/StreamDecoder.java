package dev.infercl.tokenizer;

/**
 * Turns a stream of token ids into text pieces safe to print: a multi-byte UTF-8 character split over
 * several tokens is emitted once, whole, when its last byte arrives. Not thread-safe (one per stream).
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;

    public StreamDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Feeds one token; returns the text that became complete (possibly empty). */
    public String accept(int id) {
        throw new UnsupportedOperationException("TODO");
    }

    /** Returns whatever bytes remain (invalid sequences become U+FFFD) and resets. */
    public String flush() {
        throw new UnsupportedOperationException("TODO");
    }
}
