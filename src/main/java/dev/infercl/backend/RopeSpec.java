package dev.infercl.backend;

/**
 * Rotary position embedding of one head: the first {@code ropeDims} of {@code headDim} values are rotated in
 * pairs by angle {@code position · base^(−2i/ropeDims) / freqFactors[i]}. {@code neox} false pairs (2i, 2i+1)
 * (GGUF llama layout); true pairs (i, i + ropeDims/2) (qwen2, phi3, gemma …). {@code freqFactors} (length
 * ropeDims/2, from {@code rope_freqs.weight}, Llama 3's frequency scaling) may be null: all 1.
 */
public record RopeSpec(int headDim, int ropeDims, float base, boolean neox, float[] freqFactors) {
    public RopeSpec {
        if (ropeDims > headDim || ropeDims % 2 != 0 || ropeDims <= 0) {
            throw new IllegalArgumentException("rope dims " + ropeDims + " must be even, positive and ≤ head dim " + headDim);
        }
        if (freqFactors != null && freqFactors.length != ropeDims / 2) {
            throw new IllegalArgumentException("rope frequency factors: " + freqFactors.length + " values, expected " + ropeDims / 2);
        }
    }

    public RopeSpec(int headDim, int ropeDims, float base, boolean neox) {
        this(headDim, ropeDims, base, neox, null);
    }

    /** The angle per unit position of pair i. */
    public double theta(int i) {
        double t = Math.pow(base, -2.0 * i / ropeDims);
        return freqFactors == null ? t : t / freqFactors[i];
    }
}
