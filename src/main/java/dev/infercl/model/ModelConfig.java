package dev.infercl.model;

import dev.infercl.gguf.GgufFile;
import java.io.IOException;

/**
 * The shape and constants of a model, read from GGUF metadata ({@code <arch>.*} keys).
 *
 * @param arch          what kind of transformer it is (see {@link Architecture})
 * @param name          {@code general.name}, or the file name
 * @param dim           embedding length (width of the residual stream)
 * @param layers        transformer blocks
 * @param ffnDim        feed-forward hidden width
 * @param heads         query heads
 * @param kvHeads       key/value heads (grouped-query attention when fewer than heads)
 * @param headDim       width of one head ({@code attention.key_length}, default dim / heads)
 * @param ropeDims      head values rotated by RoPE ({@code rope.dimension_count}, default headDim)
 * @param ropeBase      RoPE frequency base
 * @param normEps       epsilon of RMSNorm or LayerNorm
 * @param contextLength positions the model was trained for
 * @param vocabSize     rows of the embedding table
 * @param attnSoftcap   attention-score soft-cap c (scores → c·tanh(scores/c)); 0 = none
 * @param finalSoftcap  output-logit soft-cap; 0 = none
 * @param slidingWindow positions a sliding layer attends to (itself and the window − 1 before it); 0 = none
 * @param attnScale     factor of q·k before soft-capping and softmax: 1/√headDim, except where llama.cpp says
 *                      otherwise (Gemma 2 27B: 1/√(dim/heads))
 * @param ropeScaling   the file's {@code rope.scaling.*} declaration ({@link RopeScaling#NONE} for plain RoPE)
 */
public record ModelConfig(Architecture arch, String name, int dim, int layers, int ffnDim, int heads, int kvHeads,
                          int headDim, int ropeDims, float ropeBase, float normEps, int contextLength, int vocabSize,
                          float attnSoftcap, float finalSoftcap, int slidingWindow, float attnScale, RopeScaling ropeScaling) {

    /** A config with plain RoPE. */
    public ModelConfig(Architecture arch, String name, int dim, int layers, int ffnDim, int heads, int kvHeads,
                       int headDim, int ropeDims, float ropeBase, float normEps, int contextLength, int vocabSize,
                       float attnSoftcap, float finalSoftcap, int slidingWindow, float attnScale) {
        this(arch, name, dim, layers, ffnDim, heads, kvHeads, headDim, ropeDims, ropeBase, normEps, contextLength, vocabSize,
                attnSoftcap, finalSoftcap, slidingWindow, attnScale, RopeScaling.NONE);
    }

    /** A config with the usual attention scale 1/√headDim. */
    public ModelConfig(Architecture arch, String name, int dim, int layers, int ffnDim, int heads, int kvHeads,
                       int headDim, int ropeDims, float ropeBase, float normEps, int contextLength, int vocabSize,
                       float attnSoftcap, float finalSoftcap, int slidingWindow) {
        this(arch, name, dim, layers, ffnDim, heads, kvHeads, headDim, ropeDims, ropeBase, normEps, contextLength, vocabSize,
                attnSoftcap, finalSoftcap, slidingWindow, (float) (1.0 / Math.sqrt(headDim)));
    }

    public ModelConfig {
        check(dim > 0 && layers > 0 && ffnDim > 0 && heads > 0 && kvHeads > 0 && headDim > 0 && vocabSize > 0 && contextLength > 0,
                String.format("every dimension must be positive: dim %d, layers %d, ffn %d, heads %d, kv heads %d, head dim %d, vocab %d, context %d",
                        dim, layers, ffnDim, heads, kvHeads, headDim, vocabSize, contextLength));
        check(heads % kvHeads == 0, "head count " + heads + " is not a multiple of the KV head count " + kvHeads);
        check(arch.rope() == Architecture.Rope.NONE || (ropeDims > 0 && ropeDims <= headDim && ropeDims % 2 == 0),
                "rope dimension count " + ropeDims + " must be even and ≤ head dim " + headDim);
        check(normEps > 0 && ropeBase > 0, "norm epsilon and rope base must be positive");
        check(attnSoftcap >= 0 && finalSoftcap >= 0 && slidingWindow >= 0, "soft-caps and the sliding window must be ≥ 0");
        check(attnScale > 0 && Float.isFinite(attnScale), "attention scale must be positive, got " + attnScale);
        if (ropeScaling == null) ropeScaling = RopeScaling.NONE;
    }

    /** A Llama-layout config (llama2.c checkpoints, synthetic models). */
    public static ModelConfig llama(String name, int dim, int layers, int ffnDim, int heads, int kvHeads, float ropeBase,
                                    float eps, int contextLength, int vocabSize) {
        return new ModelConfig(Architecture.of("llama"), name, dim, layers, ffnDim, heads, kvHeads, dim / heads, dim / heads,
                ropeBase, eps, contextLength, vocabSize, 0, 0, 0);
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /**
     * Reads the config of a GGUF model of any supported architecture. Metadata that would change the arithmetic and
     * that InferCL does not implement is refused with {@link UnsupportedModelException} naming the file, the key and
     * its value, never ignored: mixture-of-experts ({@code expert_count}, {@code expert_used_count} and their groups), non-causal
     * attention ({@code attention.causal} false), per-layer head counts or FFN widths that differ between layers, and
     * the rope scalings {@link RopeScaling#fromGguf} refuses.
     */
    public static ModelConfig fromGguf(GgufFile f) throws IOException {
        String file = f.path().getFileName().toString();
        Architecture arch = Architecture.of(f.getString("general.architecture"), file);
        String p = arch.name() + ".";
        refuseUnimplemented(f, p, file);
        int dim = f.getInt(p + "embedding_length");
        int layers = f.getInt(p + "block_count");
        int heads = perLayer(f, p + "attention.head_count", 0, layers, file);
        int headDim = f.getInt(p + "attention.key_length", heads > 0 ? dim / heads : 0);
        int valueDim = f.getInt(p + "attention.value_length", headDim);
        if (valueDim != headDim) {
            throw new UnsupportedModelException(file + ": key length " + headDim + " ≠ value length " + valueDim + " is not supported");
        }
        int vocab = f.has(p + "vocab_size") ? f.getInt(p + "vocab_size")
                : f.has("tokenizer.ggml.tokens") ? f.getStringArray("tokenizer.ggml.tokens").length
                : (int) f.tensor("token_embd.weight").map(t -> t.dim(1)).orElse(0L).longValue();
        float eps = arch.norm() == Architecture.Norm.LAYER
                ? f.getFloat(p + "attention.layer_norm_epsilon", 1e-5f)
                : f.getFloat(p + "attention.layer_norm_rms_epsilon", 1e-5f);
        // Soft-caps and window as llama.cpp reads them: soft-caps only where the architecture has them (Gemma 2,
        // defaulting to 50 and 30), the window only for sliding architectures (Gemma 2 defaults to 4096).
        Architecture.Defaults d = arch.capsAndWindow();
        float attnCap = d == null ? 0f : f.getFloat(p + "attn_logit_softcapping", d.attnSoftcap());
        float finalCap = d == null ? 0f : f.getFloat(p + "final_logit_softcapping", d.finalSoftcap());
        int window = arch.sliding() == Architecture.Sliding.NONE ? 0
                : f.getInt(p + "attention.sliding_window", d == null ? 0 : d.slidingWindow());
        // llama.cpp scales Gemma 2 27B's queries by 1/√(dim/heads) (gemma_pytorch's query_pre_attn_scalar = 144),
        // recognising the 27B by its 46 layers; every other model by 1/√headDim
        float scale = (float) (1.0 / Math.sqrt(arch.name().equals("gemma2") && layers == 46 && heads > 0 ? dim / heads : headDim));
        int ropeDims = f.getInt(p + "rope.dimension_count", headDim), context = f.getInt(p + "context_length");
        float ropeBase = f.getFloat(p + "rope.freq_base", 10000f);
        try {
            // an architecture without rotary positions (GPT-2) computes nothing from the rope keys
            RopeScaling rope = arch.rope() == Architecture.Rope.NONE ? RopeScaling.NONE
                    : RopeScaling.fromGguf(f, arch.name(), file, ropeDims, ropeBase, context);
            return new ModelConfig(arch, f.getString("general.name", file),
                    dim, layers, perLayer(f, p + "feed_forward_length", 0, layers, file), heads,
                    perLayer(f, p + "attention.head_count_kv", heads, layers, file), headDim,
                    ropeDims, ropeBase, eps, context, vocab, attnCap, finalCap, window, scale, rope);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(file + ": " + e.getMessage());
        }
    }

    /** Metadata llama.cpp reads for these architectures that changes the arithmetic and that InferCL does not implement. */
    private static void refuseUnimplemented(GgufFile f, String p, String file) throws IOException {
        for (String key : new String[] {p + "expert_count", p + "expert_used_count", p + "expert_group_count", p + "expert_group_used_count"}) {
            int n = f.getInt(key, 0);
            if (n != 0) {
                throw new UnsupportedModelException(file + ": metadata '" + key + "' is " + n + ": mixture-of-experts models are not supported");
            }
        }
        if (!f.getBoolean(p + "attention.causal", true)) {
            throw new UnsupportedModelException(file + ": metadata '" + p + "attention.causal' is false: InferCL implements causal attention only");
        }
    }

    /**
     * A count llama.cpp reads as one value or one per layer ({@code get_key_or_arr}): an array whose entries are all
     * equal is that value; entries that differ are refused (InferCL gives every layer the same shape).
     */
    private static int perLayer(GgufFile f, String key, int dflt, int layers, String file) throws IOException {
        if (!(f.get(key).orElse(null) instanceof GgufFile.MetadataArray)) return f.has(key) || dflt == 0 ? f.getInt(key) : dflt;
        int[] v = f.getIntArray(key);
        if (v.length != layers) throw new ModelLoadException(file + ": metadata '" + key + "' has " + v.length + " entries for " + layers + " layers");
        for (int x : v) {
            if (x != v[0]) {
                throw new UnsupportedModelException(file + ": metadata '" + key + "' is " + java.util.Arrays.toString(v)
                        + ": layers of different shapes are not supported");
            }
        }
        return v[0];
    }

    private static void check(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }
}
