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
     * A special-token id. Converters store "none" as UINT32 0xFFFFFFFF (or a negative signed value): that leaves the
     * default in place, as in llama.cpp. Any other id outside the vocabulary is refused, naming the key, its value and
     * the vocabulary's size — except the padding id, which nothing here emits or reads, so an out-of-range one keeps
     * llama.cpp's fallback (no padding token) rather than refuse a model that works.
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
        if (id >= 0 && id < vocabSize) {
            return (int) id;
        }
        boolean none = id < 0 || id == 0xFFFFFFFFL;
        if (!none && !key.equals("tokenizer.ggml.padding_token_id")) {
            throw new IOException(file.path().getFileName() + ": metadata '" + key + "' is " + id
                    + ", outside the vocabulary of " + vocabSize + " tokens (ids 0.." + (vocabSize - 1) + ")");
        }
        return dflt < vocabSize ? dflt : -1;
    }
}
