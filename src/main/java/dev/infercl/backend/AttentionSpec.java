package dev.infercl.backend;

/**
 * How attention scores are formed: {@code score = q·k · scale} (+ {@code bias} of the query's and key's positions, T5),
 * then soft-capped to {@code softcap·tanh(score/softcap)} when softcap &gt; 0; a query at position p sees positions
 * max(0, p − window + 1)..p when window &gt; 0, else 0..p — or, when {@code keys} &gt; 0 (not causal: T5's encoder and
 * cross-attention), every position 0..keys−1 of its sequence. With a {@code rope} (null: the model has no rotary
 * positions), q and k are first rotated by their positions.
 */
public record AttentionSpec(float scale, float softcap, int window, RopeSpec rope, int keys, RelativeBias bias) {
    public AttentionSpec {
        if (!(scale > 0) || softcap < 0 || window < 0 || keys < 0) {
            throw new IllegalArgumentException("attention scale must be > 0, soft-cap, window and keys ≥ 0: " + scale + ", " + softcap + ", " + window + ", " + keys);
        }
    }

    /** Causal, without a position bias. */
    public AttentionSpec(float scale, float softcap, int window, RopeSpec rope) {
        this(scale, softcap, window, rope, 0, null);
    }

    /** Whether a query sees only the positions up to its own. */
    public boolean causal() {
        return keys == 0;
    }

    /** The same, with a relative-position bias (null: none). */
    public AttentionSpec withBias(RelativeBias b) {
        return new AttentionSpec(scale, softcap, window, rope, keys, b);
    }

    /** Not causal: every query sees key positions 0..keys−1 (keys ≥ 1). */
    public AttentionSpec unmasked(int keys) {
        if (keys < 1) throw new IllegalArgumentException("unmasked attention needs at least 1 key, got " + keys);
        return new AttentionSpec(scale, softcap, window, rope, keys, bias);
    }

    /** Positions 0..visibleEnd(p)−1 are the last a query at {@code p} may see: p + 1, or keys when not causal. */
    public int visibleEnd(int p) {
        return keys > 0 ? keys : p + 1;
    }

    /** Without rotary positions. */
    public AttentionSpec(float scale, float softcap, int window) {
        this(scale, softcap, window, null);
    }

    /** Plain causal attention scaled by 1/√headDim. */
    public static AttentionSpec causal(int headDim) {
        return new AttentionSpec((float) (1.0 / Math.sqrt(headDim)), 0f, 0);
    }

    public AttentionSpec withRope(RopeSpec r) {
        return new AttentionSpec(scale, softcap, window, r, keys, bias);
    }

    /** First position a query at {@code p} attends to. */
    public int firstVisible(int p) {
        return window > 0 && keys == 0 ? Math.max(0, p - window + 1) : 0;
    }
}
