package dev.infercl.tokenizer;

import dev.infercl.gguf.GgufFile;
import java.io.IOException;

/** Reads required {@code tokenizer.ggml.*} keys with errors that name the file and the key. */
final class GgufTokenizerKeys {
    private GgufTokenizerKeys() {}

    static TokenizerException missing(GgufFile file, String key) {
        return new TokenizerException(file.path() + ": missing tokenizer metadata key '" + key + "'");
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

    /**
     * A special-token id. Converters store "none" as UINT32 0xFFFFFFFF; like llama.cpp, a value outside the
     * vocabulary (that one included) leaves the default in place.
     */
    static int tokenId(GgufFile file, String key, int dflt, int vocabSize) throws IOException {
        Object v = file.get(key).orElse(null);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Number num) || v instanceof Float || v instanceof Double) {
            throw new TokenizerException(file.path() + ": tokenizer metadata key '" + key + "' is not an integer: " + v);
        }
        long id = num.longValue();
        return id >= 0 && id < vocabSize ? (int) id : (dflt < vocabSize ? dflt : -1);
    }
}
