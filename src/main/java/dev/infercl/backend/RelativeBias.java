package dev.infercl.backend;

/**
 * T5's relative-position bias, an input of {@link Backend#attention}: the score of query position i and key position j
 * gains {@code table[bucket(j − i)][h]} for head h.
 *
 * @param table         (buckets, heads) F32 activation tensor: row = bucket, column = query head
 * @param buckets       rows of the table
 * @param bidirectional the encoder's buckets (half of them for keys after the query); false: the decoder's causal
 *                      buckets (keys after the query are masked anyway)
 * @param maxDistance   the distance where the logarithmic buckets end (128 in T5 and llama.cpp)
 */
public record RelativeBias(Tensor table, int buckets, boolean bidirectional, int maxDistance) {
    public RelativeBias {
        if (buckets < 2 || (bidirectional && buckets < 4) || maxDistance < 1) {
            throw new IllegalArgumentException("relative-position bias needs ≥ 2 buckets (≥ 4 bidirectional) and a positive distance: "
                    + buckets + ", " + maxDistance);
        }
    }

    /**
     * llama.cpp's {@code llama_relative_position_bucket} (HF T5's {@code _relative_position_bucket}), in float as
     * llama.cpp computes it: exact buckets below half of a direction's buckets, logarithmic up to maxDistance.
     */
    public static int bucket(int queryPos, int keyPos, int buckets, boolean bidirectional, int maxDistance) {
        int rel = keyPos - queryPos, n = buckets, ret = 0;
        if (bidirectional) {
            n >>= 1;
            if (rel > 0) ret += n;
            rel = Math.abs(rel);
        } else {
            rel = -Math.min(rel, 0);
        }
        int maxExact = n >> 1;
        if (rel < maxExact) return ret + rel;
        int large = maxExact + (int) Math.floor((float) Math.log((float) rel / maxExact) * (n - maxExact) / (float) Math.log((float) maxDistance / maxExact));
        return ret + Math.min(n - 1, large);
    }

    public int bucket(int queryPos, int keyPos) {
        return bucket(queryPos, keyPos, buckets, bidirectional, maxDistance);
    }
}
