package dev.infercl.model;

import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.TensorInfo;
import java.io.IOException;
import java.util.Arrays;
import java.util.Optional;

/**
 * A GGUF model's settings read with their checks: every count positive, every float finite and in range, and the
 * counts the tensors also state compared with them — so a value that would size an allocation (a layer array, a KV
 * cache, an activation) is refused before anything is allocated, with one line naming the file, the key, its value
 * and why ({@code model.gguf: metadata 'llama.block_count' is 2147483647 but the file has tensors for 5 layers}), in
 * the words {@link Weights} uses for a tensor's shape.
 */
final class Settings {
    private final GgufFile f;
    private final String file;

    Settings(GgufFile f, String file) {
        this.f = f;
        this.file = file;
    }

    String file() {
        return file;
    }

    /** Entries of {@code tokenizer.ggml.tokens}, or -1 when the file has none. */
    int tokenCount() {
        return f.get("tokenizer.ggml.tokens").orElse(null) instanceof GgufFile.MetadataArray a ? a.length() : -1;
    }

    ModelLoadException bad(String key, Object value, String why) {
        return new ModelLoadException(file + ": metadata '" + key + "' is " + value + why);
    }

    /** A count the file must give: at least 1. */
    int count(String key) throws IOException {
        return atLeast(key, f.getInt(key), 1);
    }

    /** A count with a default for a file that does not give it: at least 1. */
    int count(String key, int dflt) throws IOException {
        return f.has(key) ? count(key) : dflt;
    }

    int atLeast(String key, int v, int min) throws ModelLoadException {
        if (v < min) throw bad(key, v, ", expected " + (min == 1 ? "a positive count" : "at least " + min));
        return v;
    }

    /** A float that must be finite and above 0 (an epsilon, a rope base). */
    float positive(String key, float dflt) throws IOException {
        float v = f.getFloat(key, dflt);
        if (!(v > 0) || !Float.isFinite(v)) throw bad(key, v, ", expected a positive finite number");
        return v;
    }

    /** A float that must be finite and at least 0 (a soft-cap, where 0 means none). */
    float nonNegative(String key, float dflt) throws IOException {
        float v = f.getFloat(key, dflt);
        if (!(v >= 0) || !Float.isFinite(v)) throw bad(key, v, ", expected a finite number ≥ 0 (0: none)");
        return v;
    }

    Optional<long[]> dims(String tensor) {
        return f.tensor(tensor).map(TensorInfo::dims);
    }

    /** Rows (second dimension) of a matrix the file may hold; 0 when it does not. */
    int rows(String tensor) throws ModelLoadException {
        long[] d = dims(tensor).orElse(null);
        if (d == null || d.length < 2) return 0;
        if (d[1] > Integer.MAX_VALUE) {
            throw new ModelLoadException(file + ": tensor '" + tensor + "' has shape " + shape(d) + ": more rows than InferCL can index");
        }
        return (int) d[1];
    }

    static String shape(long[] d) {
        return Arrays.toString(d);
    }

    /**
     * Layers the tensors hold: one more than the largest N among the {@code blk.N.*} names (0 when there are none, as
     * in a vocabulary-only file). Gaps are left to the per-tensor checks, which name the missing tensor.
     */
    int layersInTensors() {
        long max = -1;
        for (TensorInfo t : f.tensors()) {
            String n = t.name();
            if (!n.startsWith("blk.")) continue;
            int dot = n.indexOf('.', 4);
            if (dot <= 4 || dot - 4 > 10) continue;
            try {
                max = Math.max(max, Long.parseLong(n, 4, dot, 10));
            } catch (NumberFormatException e) {
                // not a layer index: not counted
            }
        }
        return (int) Math.min(max + 1, Integer.MAX_VALUE);
    }
}
