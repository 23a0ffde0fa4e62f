package dev.infercl.tokenizer;

import dev.infercl.gguf.GgufFile;
import java.io.IOException;

/** Reads required {@code tokenizer.ggml.*} keys with errors that name the file and the key. */
final class GgufTokenizerKeys {
    private GgufTokenizerKeys() {}

    static IOException missing(GgufFile file, String key) {
        return new IOException(file.path() + ": missing tokenizer metadata key '" + key + "'");
    }

    static String requireString(GgufFile file, String key) throws IOException {
        if (!file.has(key)) {
            throw missing(file, key);
        }
        return file.getString(key);
    }

    static String[] requireStringArray(GgufFile file, String key) throws IOException {
        if (!file.has(key)) {
            throw missing(file, key);
        }
        return file.getStringArray(key);
    }
}
