package dev.infercl.tokenizer;

import java.io.IOException;

/**
 * A file's tokenizer cannot be built: a {@code tokenizer.ggml.*} key is missing or malformed, or the tokenizer model
 * it names is not one InferCL implements. The message names the file and the key.
 */
public class TokenizerException extends IOException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
