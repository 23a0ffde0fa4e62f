package dev.infercl.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns a stream of token ids into text pieces safe to print: a multi-byte UTF-8 character split over
 * several tokens is emitted once, whole, when its last byte arrives. Not thread-safe (one per stream).
 *
 * <p>The concatenation of everything {@link #accept} and {@link #flush} return equals {@link Tokenizer#decode} of
 * the same ids: a BOS as the very first id prints nothing, and the first printed piece loses one leading space
 * when the tokenizer {@link Tokenizer#stripsLeadingSpace() strips it}. A decoder made with
 * {@code atStart = false} continues text already shown (e.g. generation after a prompt) and strips nothing.
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;
    private boolean first;      // no id seen yet
    private boolean stripNext;  // the next piece is the first printed one
    private byte[] pending = new byte[16];
    private int pendingLength;

    public StreamDecoder(Tokenizer tokenizer) {
        this(tokenizer, true);
    }

    /** {@code atStart}: the ids begin a text (as decode sees them) rather than continue one. */
    public StreamDecoder(Tokenizer tokenizer, boolean atStart) {
        this.tokenizer = tokenizer;
        this.first = atStart;
        this.stripNext = atStart && tokenizer.stripsLeadingSpace();
    }

    /** Feeds one token; returns the text that became complete (possibly empty). */
    public String accept(int id) {
        boolean wasFirst = first;
        first = false;
        if (wasFirst && id == tokenizer.bosId()) {
            return "";
        }
        byte[] b = tokenizer.tokenBytes(id);
        int skip = stripNext && b.length > 0 && b[0] == ' ' ? 1 : 0;
        stripNext = false;
        append(b, skip, b.length - skip);
        int complete = completePrefix();
        if (complete == 0) {
            return "";
        }
        String s = new String(pending, 0, complete, StandardCharsets.UTF_8);
        System.arraycopy(pending, complete, pending, 0, pendingLength - complete);
        pendingLength -= complete;
        return s;
    }

    /** Returns whatever bytes remain (invalid sequences become U+FFFD) and resets. */
    public String flush() {
        String s = new String(pending, 0, pendingLength, StandardCharsets.UTF_8);
        pendingLength = 0;
        return s;
    }

    private void append(byte[] b, int off, int len) {
        if (pendingLength + len > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + len));
        }
        System.arraycopy(b, off, pending, pendingLength, len);
        pendingLength += len;
    }

    /**
     * The length of the pending bytes minus a trailing sequence that is a proper prefix of a UTF-8 character
     * (a lead byte followed by fewer continuation bytes than it announces); those wait for more bytes.
     */
    private int completePrefix() {
        int end = pendingLength;
        for (int i = end - 1; i >= 0 && i >= end - 3; i--) {
            int b = pending[i] & 0xFF;
            if ((b & 0xC0) == 0x80) {
                continue; // continuation byte: look further back for its lead
            }
            int need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 1;
            if (b > 0xF4) {
                need = 1;
            }
            return end - i < need ? i : end;
        }
        return end;
    }
}
