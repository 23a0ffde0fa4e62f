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

    /**
     * Positions a session holds when no context length is asked for: llama.cpp's default of 4096, or the trained
     * context when that is shorter. A model trained for far more (131072, or a file's 2³¹−1) would otherwise claim a
     * KV cache of many GiB, or more than any device has, before the first token.
     */
    public static final int DEFAULT_CONTEXT = 4096;

    /** The context a session holds when none is asked for: the trained context, at most {@link #DEFAULT_CONTEXT}. */
    public int defaultContext() {
        return Math.min(contextLength, DEFAULT_CONTEXT);
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
     *
     * <p>Every setting is checked before anything is sized from it ({@link ModelLoadException} naming the key, its
     * value and why): counts positive, epsilons and rope bases positive and finite, soft-caps finite and ≥ 0, and the
     * counts the tensors state as well compared with them — {@code block_count} with the {@code blk.N} tensors,
     * {@code embedding_length} and the vocabulary with {@code token_embd.weight}, the head counts and head width with
     * the first layer's Q and K projections, {@code feed_forward_length} with its down projection, a learned-position
     * model's {@code context_length} with {@code position_embd.weight}. Tensors a file lacks are left to
     * {@link Weights#upload}, which names them.
     */
    public static ModelConfig fromGguf(GgufFile f) throws IOException {
        String file = f.path().getFileName().toString();
        var m = new Settings(f, file);
        Architecture arch = Architecture.of(f.getString("general.architecture"), file);
        // T5 as llama.cpp runs it: gated GELU when the encoder has ffn_gate (flan-T5, T5 v1.1, mT5), else ReLU (T5 v1.0)
        if (arch.encoderDecoder() && m.dims("enc.blk.0.ffn_gate.weight").isEmpty() && m.dims("enc.blk.0.ffn_up.weight").isPresent()) {
            arch = arch.withFfn(Architecture.Ffn.RELU);
        }
        String p = arch.name() + ".";
        refuseUnimplemented(f, p, file);
        int dim = m.count(p + "embedding_length");
        long[] embd = m.dims("token_embd.weight").filter(x -> x.length == 2).orElse(null);
        if (embd != null && embd[0] != dim) {
            throw m.bad(p + "embedding_length", dim, " but tensor 'token_embd.weight' has shape " + Settings.shape(embd) + ": " + embd[0] + " values per token");
        }
        int layers = m.count(p + "block_count");
        int inTensors = m.layersInTensors();
        if (inTensors > 0 && layers != inTensors) {
            throw m.bad(p + "block_count", layers, " but the file has tensors for " + inTensors + " layers (blk.0 … blk." + (inTensors - 1) + ")");
        }
        int heads = m.atLeast(p + "attention.head_count", perLayer(f, p + "attention.head_count", 0, layers, file), 1);
        if (!f.has(p + "attention.key_length") && heads > dim) {
            throw m.bad(p + "attention.head_count", heads, ", more heads than " + p + "embedding_length = " + dim + " has values");
        }
        int headDim = m.count(p + "attention.key_length", dim / heads);
        int valueDim = m.count(p + "attention.value_length", headDim);
        if (valueDim != headDim) {
            throw new UnsupportedModelException(file + ": key length " + headDim + " ≠ value length " + valueDim + " is not supported");
        }
        int kvHeads = m.atLeast(p + "attention.head_count_kv", perLayer(f, p + "attention.head_count_kv", heads, layers, file), 1);
        if (heads % kvHeads != 0) {
            throw m.bad(p + "attention.head_count_kv", kvHeads, ": " + p + "attention.head_count = " + heads + " is not a multiple of it");
        }
        if ((heads + 2L * kvHeads) * headDim > Integer.MAX_VALUE) {
            // Q, K and V side by side are one activation row: its width is an int
            boolean given = f.has(p + "attention.key_length");
            throw m.bad(p + (given ? "attention.key_length" : "embedding_length"), given ? headDim : dim, ": " + heads + " query and 2 × "
                    + kvHeads + " key/value heads of " + headDim + " values are more than an activation row holds");
        }
        int ffn = m.atLeast(p + "feed_forward_length", perLayer(f, p + "feed_forward_length", 0, layers, file), 1);
        if (2L * ffn > Integer.MAX_VALUE) throw m.bad(p + "feed_forward_length", ffn, ", more than an activation row holds");
        String vocabKey = f.has(p + "vocab_size") ? p + "vocab_size" : f.has("tokenizer.ggml.tokens") ? "tokenizer.ggml.tokens" : null;
        int vocab = f.has(p + "vocab_size") ? m.count(p + "vocab_size")
                : f.has("tokenizer.ggml.tokens") ? f.getStringArray("tokenizer.ggml.tokens").length
                : m.rows("token_embd.weight");
        if (vocab < 1) throw new ModelLoadException(file + ": the vocabulary is empty (no " + p + "vocab_size, tokenizer.ggml.tokens or token_embd.weight)");
        float eps = arch.norm() == Architecture.Norm.LAYER
                ? m.positive(p + "attention.layer_norm_epsilon", 1e-5f)
                : m.positive(p + "attention.layer_norm_rms_epsilon", 1e-5f);
        // Soft-caps and window as llama.cpp reads them: soft-caps only where the architecture has them (Gemma 2,
        // defaulting to 50 and 30), the window only for sliding architectures (Gemma 2 defaults to 4096).
        Architecture.Defaults d = arch.capsAndWindow();
        float attnCap = d == null ? 0f : m.nonNegative(p + "attn_logit_softcapping", d.attnSoftcap());
        float finalCap = d == null ? 0f : m.nonNegative(p + "final_logit_softcapping", d.finalSoftcap());
        int window = arch.sliding() == Architecture.Sliding.NONE ? 0
                : m.atLeast(p + "attention.sliding_window", f.getInt(p + "attention.sliding_window", d == null ? 0 : d.slidingWindow()), 0);
        // llama.cpp scales Gemma 2 27B's queries by 1/√(dim/heads) (gemma_pytorch's query_pre_attn_scalar = 144),
        // recognising the 27B by its 46 layers; every other model by 1/√headDim
        // T5 does not scale q·k at all (its initialisation folds 1/√d_kv into W_q)
        float scale = arch.encoderDecoder() ? 1f
                : (float) (1.0 / Math.sqrt(arch.name().equals("gemma2") && layers == 46 && dim >= heads ? dim / heads : headDim));
        int context = m.count(p + "context_length");
        checkTensors(m, arch, p, dim, heads, kvHeads, headDim, ffn, vocab, vocabKey, context);
        boolean rotary = arch.rope() != Architecture.Rope.NONE;
        int ropeDims = rotary ? m.count(p + "rope.dimension_count", headDim) : headDim;
        if (rotary && (ropeDims > headDim || ropeDims % 2 != 0)) {
            throw m.bad(p + "rope.dimension_count", ropeDims, ", expected an even count of at most the head width " + headDim);
        }
        float ropeBase = rotary ? m.positive(p + "rope.freq_base", 10000f) : 10000f;
        try {
            // an architecture without rotary positions (GPT-2) computes nothing from the rope keys
            RopeScaling rope = rotary ? RopeScaling.fromGguf(f, arch.name(), file, ropeDims, ropeBase, context) : RopeScaling.NONE;
            return new ModelConfig(arch, f.getString("general.name", file), dim, layers, ffn, heads, kvHeads, headDim,
                    ropeDims, ropeBase, eps, context, vocab, attnCap, finalCap, window, scale, rope);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(file + ": " + e.getMessage());
        }
    }

    /** The counts the tensors state as well, compared with the metadata (tensors the file lacks are not checked here). */
    private static void checkTensors(Settings m, Architecture arch, String p, int dim, int heads, int kvHeads, int headDim,
                                     int ffn, int vocab, String vocabKey, int context) throws IOException {
        var embd = m.dims("token_embd.weight").filter(x -> x.length == 2);
        if (embd.isPresent()) {
            long[] e = embd.get();
            if (e[1] != vocab) {
                String what = vocabKey == null ? "the vocabulary" : vocabKey.equals("tokenizer.ggml.tokens") ? "'tokenizer.ggml.tokens' has " + vocab + " entries"
                        : "metadata '" + vocabKey + "' is " + vocab;
                throw new ModelLoadException(m.file() + ": " + what + " but tensor 'token_embd.weight' has shape " + Settings.shape(e) + ": " + e[1] + " tokens");
            }
        }
        int tokens = m.tokenCount();
        if (tokens >= 0 && tokens != vocab) throw m.bad(p + "vocab_size", vocab, " but 'tokenizer.ggml.tokens' has " + tokens + " entries");
        long q = (long) heads * headDim, kv = (long) kvHeads * headDim;
        String shape = heads + " heads × " + headDim;
        if (arch.fusedQkv()) {
            var qkv = m.dims("blk.0.attn_qkv.weight").filter(x -> x.length == 2);
            if (qkv.isPresent() && qkv.get()[1] != q + 2 * kv) {
                throw m.bad(p + "attention.head_count", heads, " (" + p + "attention.head_count_kv " + kvHeads + ", head width " + headDim
                        + ") but tensor 'blk.0.attn_qkv.weight' has shape " + Settings.shape(qkv.get()) + ": " + qkv.get()[1] + " outputs, not " + (q + 2 * kv));
            }
        } else {
            var wq = m.dims("blk.0.attn_q.weight").filter(x -> x.length == 2);
            if (wq.isPresent() && wq.get()[1] != q) {
                throw m.bad(p + "attention.head_count", heads, " but tensor 'blk.0.attn_q.weight' has shape " + Settings.shape(wq.get()) + ": "
                        + wq.get()[1] + " outputs, not " + shape + " = " + q);
            }
            var wk = m.dims("blk.0.attn_k.weight").filter(x -> x.length == 2);
            if (wk.isPresent() && wk.get()[1] != kv) {
                throw m.bad(p + "attention.head_count_kv", kvHeads, " but tensor 'blk.0.attn_k.weight' has shape " + Settings.shape(wk.get()) + ": "
                        + wk.get()[1] + " outputs, not " + kvHeads + " heads × " + headDim + " = " + kv);
            }
        }
        var down = m.dims("blk.0.ffn_down.weight").filter(x -> x.length == 2);
        if (down.isPresent() && down.get()[0] != ffn) {
            throw m.bad(p + "feed_forward_length", ffn, " but tensor 'blk.0.ffn_down.weight' has shape " + Settings.shape(down.get()) + ": " + down.get()[0] + " inputs");
        }
        var pos = m.dims("position_embd.weight").filter(x -> x.length == 2);
        if (arch.learnedPositions() && pos.isPresent() && pos.get()[1] != context) {
            throw m.bad(p + "context_length", context, " but tensor 'position_embd.weight' has shape " + Settings.shape(pos.get()) + ": "
                    + pos.get()[1] + " learned positions");
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
