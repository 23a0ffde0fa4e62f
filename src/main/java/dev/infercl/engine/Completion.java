package dev.infercl.engine;

/**
 * What a {@link Scheduler} request produced: the generated tokens (a stop token not included), why it stopped, the
 * prompt's length and how many of its positions came from the prefix cache instead of being computed.
 */
public record Completion(int[] tokens, Stop stop, int promptTokens, int reusedTokens) {
    public enum Stop {
        /** The stop predicate accepted a sampled token (end of generation). */
        END_OF_GENERATION,
        /** maxTokens were generated. */
        TOKEN_BUDGET,
        /** The sequence's context is full. */
        CONTEXT_FULL,
        /** {@link Scheduler.Sequence#cancel()} was called. */
        CANCELLED
    }
}
