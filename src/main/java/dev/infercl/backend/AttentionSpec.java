package dev.infercl.backend;

/**
 * How attention scores are formed: {@code score = q·k · scale}, then soft-capped to {@code softcap·tanh(score/softcap)}
 * when softcap &gt; 0; a query at position p sees positions max(0, p − window + 1)..p when window &gt; 0, else 0..p.
 * With a {@code rope} (null: the model has no rotary positions), q and k are first rotated by their positions.
 */
public record AttentionSpec(float scale, float softcap, int window, RopeSpec rope) {
    public AttentionSpec {
        if (!(scale > 0) || softcap < 0 || window < 0) {
            throw new IllegalArgumentException("attention scale must be > 0, soft-cap and window ≥ 0: " + scale + ", " + softcap + ", " + window);
        }
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
        return new AttentionSpec(scale, softcap, window, r);
    }

    /** First position a query at {@code p} attends to. */
    public int firstVisible(int p) {
        return window > 0 ? Math.max(0, p - window + 1) : 0;
    }
}
