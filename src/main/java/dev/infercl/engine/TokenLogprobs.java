package dev.infercl.engine;

/**
 * A sampled token's log-probability under the model and its most likely alternatives: the log-softmax of the raw
 * logits row it was sampled from, before the sampler's penalties, temperature and truncations (the model's
 * distribution, as OpenAI reports it). Computed in double.
 *
 * @param token       the sampled token
 * @param logprob     its log-probability
 * @param topIds      the {@code topIds.length} most likely tokens, most likely first, ties to the lower id
 * @param topLogprobs their log-probabilities
 */
public record TokenLogprobs(int token, double logprob, int[] topIds, double[] topLogprobs) {

    /**
     * The log-softmax of {@code logits[offset .. offset + vocab)} at {@code token}, and its {@code top} largest entries.
     * Reads the row, keeps no reference to it.
     */
    public static TokenLogprobs of(float[] logits, int offset, int vocab, int token, int top) {
        if (token < 0 || token >= vocab) throw new IllegalArgumentException("token " + token + " is not in 0.." + (vocab - 1));
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
        double logZ = max + Math.log(sum);
        // the k largest by insertion into a sorted array of k: one pass over the row, no sort of the vocabulary; a
        // strictly greater value is needed to pass an entry, so among equal logits the lower id (seen first) stays ahead
        int k = Math.min(Math.max(top, 0), vocab), n = 0;
        int[] ids = new int[k];
        for (int i = 0; i < vocab && k > 0; i++) {
            float v = logits[offset + i];
            if (n == k && !(v > logits[offset + ids[k - 1]])) continue;
            int at = n < k ? n++ : k - 1;
            while (at > 0 && v > logits[offset + ids[at - 1]]) {
                ids[at] = ids[at - 1];
                at--;
            }
            ids[at] = i;
        }
        double[] lps = new double[k];
        for (int j = 0; j < k; j++) lps[j] = logits[offset + ids[j]] - logZ;
        return new TokenLogprobs(token, logits[offset + token] - logZ, ids, lps);
    }
}
