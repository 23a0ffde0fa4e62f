package dev.infercl.api;

/**
 * Speculative decoding for a generation: each target forward step verifies up to {@code k} tokens proposed by
 * {@code draft} at once (k + 1 rows: the last token and the drafted ones), keeps the drafted tokens the
 * speculative-sampling rule accepts ({@link dev.infercl.engine.SpeculativeSampling}) and one token of its own, and cuts
 * its KV cache back past the first rejected one. Greedy output is the same as without speculation; sampled output
 * follows the same distribution.
 *
 * @param draft where the drafted tokens come from
 * @param k     tokens drafted per step, ≥ 1
 */
public record Speculation(Draft draft, int k) {
    public Speculation {
        if (draft == null) throw new IllegalArgumentException("speculative decoding needs a draft");
        if (k < 1) throw new IllegalArgumentException("tokens drafted per step must be ≥ 1, got " + k);
    }

    /**
     * What speculation did in one generation.
     *
     * @param drafted        tokens the draft proposed
     * @param accepted       of those, tokens the target accepted
     * @param targetForwards the target's forward steps after the prompt (each verifying one proposal)
     * @param tokens         tokens generated
     */
    public record Stats(long drafted, long accepted, long targetForwards, long tokens) {
        /** Accepted ÷ drafted (NaN when nothing was drafted). */
        public double acceptanceRate() {
            return drafted == 0 ? Double.NaN : (double) accepted / drafted;
        }

        /** Tokens generated per target forward step (1 without speculation). */
        public double tokensPerForward() {
            return targetForwards == 0 ? Double.NaN : (double) tokens / targetForwards;
        }
    }
}
