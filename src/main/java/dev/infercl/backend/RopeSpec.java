package dev.infercl.backend;

/**
 * Rotary position embedding of one head: the first {@code ropeDims} of {@code headDim} values are rotated in
 * pairs by angle {@code position · base^(−2i/ropeDims)}. {@code neox} false pairs (2i, 2i+1) (GGUF llama
 * layout); true pairs (i, i + ropeDims/2) (qwen2, phi3, gemma …).
 */
public record RopeSpec(int headDim, int ropeDims, float base, boolean neox) {
    public RopeSpec {
        if (ropeDims > headDim || ropeDims % 2 != 0) {
            throw new IllegalArgumentException("rope dims " + ropeDims + " must be even and ≤ head dim " + headDim);
        }
    }
}
