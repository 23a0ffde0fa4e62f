package dev.infercl.gguf;

import java.io.IOException;

/**
 * A GGUF file is malformed or hostile. The message names the file, the field that was wrong and the byte
 * offset where it was read, e.g. {@code model.gguf: tensor 'blk.0.attn_q.weight' n_dims 7 > 4 at offset 1234}.
 */
public class GgufFormatException extends IOException {
    private final String field;
    private final long offset;

    public GgufFormatException(String message, String field, long offset) {
        super(message);
        this.field = field;
        this.offset = offset;
    }

    /** The header field, metadata key or tensor name that was wrong. */
    public String field() {
        return field;
    }

    /** Byte offset in the file where the wrong value was read (or -1 when not tied to one place). */
    public long offset() {
        return offset;
    }
}
