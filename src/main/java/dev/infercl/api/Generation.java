package dev.infercl.api;

/**
 * What a generation produced.
 *
 * @param promptTokens  ids fed as the prompt (BOS included)
 * @param tokens        ids generated
 * @param text          the generated text
 * @param stop          why it stopped
 * @param promptNanos   time spent on the prompt (prefill)
 * @param generateNanos time spent generating
 * @param speculation   what speculative decoding did (null when it was off)
 */
public record Generation(int[] promptTokens, int[] tokens, String text, StopReason stop, long promptNanos, long generateNanos,
                         Speculation.Stats speculation) {

    public Generation(int[] promptTokens, int[] tokens, String text, StopReason stop, long promptNanos, long generateNanos) {
        this(promptTokens, tokens, text, stop, promptNanos, generateNanos, null);
    }

    public enum StopReason { END_OF_GENERATION, TOKEN_BUDGET, CANCELLED, CONTEXT_FULL }

    public double promptTokensPerSecond() {
        return promptNanos == 0 ? 0 : promptTokens.length * 1e9 / promptNanos;
    }

    public double tokensPerSecond() {
        return generateNanos == 0 ? 0 : tokens.length * 1e9 / generateNanos;
    }
}
