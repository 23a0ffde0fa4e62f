package dev.infercl.model;

import java.util.Map;

/**
 * What distinguishes one transformer family from another, as data read by the one {@link Transformer}:
 * which norm, which tensors are fused, which carry biases, which activation, which extra norms, how
 * positions enter. Adding an architecture means adding an entry here (and any genuinely new op), never a
 * new forward pass.
 *
 * @param name             GGUF {@code general.architecture}
 * @param norm             RMSNorm or LayerNorm (with bias) before attention, FFN and output
 * @param fusedQkv         one {@code attn_qkv} matrix whose output rows are Q, K, V
 * @param qkNorm           per-head RMSNorm of Q and K ({@code attn_q_norm}, {@code attn_k_norm}) before RoPE
 * @param ffn              feed-forward kind
 * @param postNorms        extra RMSNorms of the attention and FFN outputs before the residual add (Gemma 2)
 * @param scaleEmbedding   multiply token embeddings by √dim (Gemma)
 * @param learnedPositions add {@code position_embd} rows (GPT-2) instead of rotating Q and K
 * @param rope             RoPE pairing: adjacent (2i, 2i+1), NEOX halves (i, i + d/2), or none
 * @param sliding          which layers attend through a sliding window of {@code attention.sliding_window}
 *                         positions (when the file sets one)
 * @param encoderDecoder   T5: an encoder stack ({@code enc.blk.N.*}, unmasked self-attention) whose normed output the
 *                         decoder ({@code dec.blk.N.*}) cross-attends to; both stacks add a relative-position bias
 *                         (layer 0's table, shared by the other layers) to unscaled scores
 * @param capsAndWindow    llama.cpp's values for the soft-cap and window metadata a file may omit
 *                         ({@code attn_logit_softcapping}, {@code final_logit_softcapping},
 *                         {@code attention.sliding_window}); null where llama.cpp reads no soft-caps (then the
 *                         soft-cap keys are ignored and a missing window means none)
 *
 * <p>The output classifier is {@code output.weight}, or the embedding table when the file has none (tied).
 */
public record Architecture(String name, Norm norm, boolean fusedQkv, boolean qkNorm, Ffn ffn, boolean postNorms,
                           boolean scaleEmbedding, boolean learnedPositions, Rope rope, Sliding sliding,
                           Defaults capsAndWindow, boolean encoderDecoder) {

    /** A decoder-only architecture. */
    public Architecture(String name, Norm norm, boolean fusedQkv, boolean qkNorm, Ffn ffn, boolean postNorms,
                        boolean scaleEmbedding, boolean learnedPositions, Rope rope, Sliding sliding, Defaults capsAndWindow) {
        this(name, norm, fusedQkv, qkNorm, ffn, postNorms, scaleEmbedding, learnedPositions, rope, sliding, capsAndWindow, false);
    }

    public enum Norm { RMS, LAYER }

    /**
     * SWIGLU: silu(gate)·up; SWIGLU_FUSED: one ffn_up of 2·ffn rows, gate first; GEGLU: gelu(gate)·up; GELU: gelu(up)
     * (no gate); RELU: relu(up) (no gate: T5 v1.0, chosen at load when a t5 file has no ffn_gate).
     */
    public enum Ffn { SWIGLU, SWIGLU_FUSED, GEGLU, GELU, RELU }

    /** The same family with another feed-forward kind. */
    public Architecture withFfn(Ffn f) {
        return new Architecture(name, norm, fusedQkv, qkNorm, f, postNorms, scaleEmbedding, learnedPositions, rope, sliding, capsAndWindow, encoderDecoder);
    }

    /** Whether the feed-forward multiplies by a gate ({@code ffn_gate} or a fused gate half). */
    public boolean gatedFfn() {
        return ffn != Ffn.GELU && ffn != Ffn.RELU;
    }

    public enum Rope { NORMAL, NEOX, NONE }

    /** NONE: full causal attention everywhere; ALL: every layer slides; EVEN_LAYERS: layers 0, 2, 4… slide (Gemma 2). */
    public enum Sliding { NONE, ALL, EVEN_LAYERS }

    /** Soft-caps (0 = none) and sliding window (positions) assumed when the file does not say. */
    public record Defaults(float attnSoftcap, float finalSoftcap, int slidingWindow) {}

    /** Whether layer {@code l} uses the sliding window. */
    public boolean slides(int l) {
        return sliding == Sliding.ALL || (sliding == Sliding.EVEN_LAYERS && l % 2 == 0);
    }

    private static final Map<String, Architecture> KNOWN = Map.of(
            "llama", new Architecture("llama", Norm.RMS, false, false, Ffn.SWIGLU, false, false, false, Rope.NORMAL, Sliding.NONE, null),
            "qwen2", new Architecture("qwen2", Norm.RMS, false, false, Ffn.SWIGLU, false, false, false, Rope.NEOX, Sliding.NONE, null),
            "qwen3", new Architecture("qwen3", Norm.RMS, false, true, Ffn.SWIGLU, false, false, false, Rope.NEOX, Sliding.NONE, null),
            // llama.cpp ignores Phi-3's attention.sliding_window ("Phi SWA is currently disabled", PR 13676)
            "phi3", new Architecture("phi3", Norm.RMS, true, false, Ffn.SWIGLU_FUSED, false, false, false, Rope.NEOX, Sliding.NONE, null),
            // llama.cpp's Gemma 2 defaults: caps 50 / 30 (llama_hparams), window 4096
            "gemma2", new Architecture("gemma2", Norm.RMS, false, false, Ffn.GEGLU, true, true, false, Rope.NEOX, Sliding.EVEN_LAYERS,
                    new Defaults(50f, 30f, 4096)),
            "gpt2", new Architecture("gpt2", Norm.LAYER, true, false, Ffn.GELU, false, false, true, Rope.NONE, Sliding.NONE, null),
            // flan-T5 layout (gated GELU); a file without ffn_gate (T5 v1.0) gets Ffn.RELU at load (ModelConfig)
            "t5", new Architecture("t5", Norm.RMS, false, false, Ffn.GEGLU, false, false, false, Rope.NONE, Sliding.NONE, null, true));

    /** The description of a known architecture name, or null. */
    public static Architecture of(String name) {
        return KNOWN.get(name);
    }

    /** The description of a GGUF architecture name; {@link UnsupportedModelException} naming the file for others. */
    public static Architecture of(String name, String file) throws UnsupportedModelException {
        Architecture a = KNOWN.get(name);
        if (a == null) {
            throw new UnsupportedModelException(file + ": architecture " + dev.infercl.gguf.GgufFile.quote(name) + " (general.architecture) is not supported (supported: "
                    + String.join(", ", new java.util.TreeSet<>(KNOWN.keySet())) + ")");
        }
        return a;
    }
}
