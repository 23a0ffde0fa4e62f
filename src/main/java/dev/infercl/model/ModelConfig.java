package dev.infercl.model;

import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufFormatException;

/**
 * The shape and constants of a Llama-family model, read from GGUF metadata ({@code <arch>.*} keys).
 *
 * @param architecture  {@code general.architecture}
 * @param name          {@code general.name}, or the file name
 * @param dim           embedding length (width of the residual stream)
 * @param layers        transformer blocks
 * @param ffnDim        feed-forward hidden width
 * @param heads         query heads
 * @param kvHeads       key/value heads (grouped-query attention when fewer than heads)
 * @param headDim       width of one head ({@code attention.key_length}, default dim / heads)
 * @param ropeDims      head values rotated by RoPE ({@code rope.dimension_count}, default headDim)
 * @param ropeBase      RoPE frequency base
 * @param rmsEps        RMSNorm epsilon
 * @param contextLength positions the model was trained for
 * @param vocabSize     rows of the embedding table
 */
public record ModelConfig(String architecture, String name, int dim, int layers, int ffnDim, int heads, int kvHeads,
                          int headDim, int ropeDims, float ropeBase, float rmsEps, int contextLength, int vocabSize) {

    public ModelConfig {
        check(dim > 0 && layers > 0 && ffnDim > 0 && heads > 0 && kvHeads > 0 && headDim > 0 && vocabSize > 0 && contextLength > 0,
                "every dimension must be positive: " + shapeString(dim, layers, ffnDim, heads, kvHeads, headDim, vocabSize, contextLength));
        check(heads % kvHeads == 0, "head count " + heads + " is not a multiple of the KV head count " + kvHeads);
        check(ropeDims > 0 && ropeDims <= headDim && ropeDims % 2 == 0, "rope dimension count " + ropeDims + " must be even and ≤ head dim " + headDim);
        check(rmsEps > 0 && ropeBase > 0, "rms epsilon and rope base must be positive");
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Reads the config of a {@code llama}-architecture GGUF. */
    public static ModelConfig fromGguf(GgufFile f) throws java.io.IOException {
        String arch = f.getString("general.architecture");
        if (!arch.equals("llama")) {
            throw new UnsupportedModelException(f.path().getFileName() + ": architecture '" + arch + "' is not supported yet (supported: llama)");
        }
        String p = arch + ".";
        int dim = f.getInt(p + "embedding_length");
        int heads = f.getInt(p + "attention.head_count");
        int headDim = f.getInt(p + "attention.key_length", heads > 0 ? dim / heads : 0);
        int vocab = f.has(p + "vocab_size") ? f.getInt(p + "vocab_size")
                : f.has("tokenizer.ggml.tokens") ? f.getStringArray("tokenizer.ggml.tokens").length
                : (int) f.tensor("token_embd.weight").map(t -> t.dim(1)).orElse(0L).longValue();
        try {
            return new ModelConfig(arch, f.getString("general.name", f.path().getFileName().toString()),
                    dim, f.getInt(p + "block_count"), f.getInt(p + "feed_forward_length"), heads,
                    f.getInt(p + "attention.head_count_kv", heads), headDim,
                    f.getInt(p + "rope.dimension_count", headDim), f.getFloat(p + "rope.freq_base", 10000f),
                    f.getFloat(p + "attention.layer_norm_rms_epsilon", 1e-5f), f.getInt(p + "context_length"), vocab);
        } catch (IllegalArgumentException e) {
            throw new GgufFormatException(f.path().getFileName() + ": " + e.getMessage(), p + "*", -1);
        }
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }

    private static String shapeString(int... v) {
        return String.format("dim %d, layers %d, ffn %d, heads %d, kv heads %d, head dim %d, vocab %d, context %d",
                v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
    }
}
