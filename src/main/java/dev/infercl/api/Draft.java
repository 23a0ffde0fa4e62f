package dev.infercl.api;

import dev.infercl.engine.PromptLookup;
import dev.infercl.engine.Sampler;
import dev.infercl.engine.SamplerOptions;
import java.util.Arrays;

/**
 * Where speculative decoding's drafted tokens come from (see {@link Speculation}). A draft only proposes: the target
 * model verifies every proposal, so a bad draft costs speed, never correctness.
 */
public interface Draft {

    /** A short name for reports ("ngram", "model", "oracle"). */
    String name();

    /**
     * A drafter for one sequence of {@code target} holding up to {@code contextLength} tokens.
     *
     * @throws DraftMismatchException when the draft cannot serve this target (another vocabulary)
     */
    Drafter open(Model target, int contextLength);

    /** Proposes tokens for one sequence, generation after generation; used by one thread at a time. */
    interface Drafter extends AutoCloseable {
        /**
         * A generation begins, sampling as {@code sampler} says: a draft that samples draws with these settings and a
         * generator seeded from their seed, so that the same seed gives the same text.
         */
        default void start(SamplerOptions sampler) {}

        /**
         * Up to {@code k} tokens to follow {@code context[0..length)} (the whole sequence so far: earlier turns, the
         * prompt and the reply). Successive calls see the sequence grow or be cut back to any earlier length.
         */
        Proposal propose(int[] context, int length, int k);

        @Override
        default void close() {}
    }

    /**
     * Drafted tokens and, for each, the distribution it was drawn from ({@code distributions} null: the draft was
     * certain of each token, as a lookup or a greedy draft is).
     */
    record Proposal(int[] tokens, Sampler.Distribution[] distributions) {
        public Proposal {
            if (distributions != null && distributions.length != tokens.length) {
                throw new IllegalArgumentException(tokens.length + " drafted tokens with " + distributions.length + " distributions");
            }
        }

        public static final Proposal NONE = new Proposal(new int[0], null);
    }

    /**
     * Prompt lookup: the tokens that followed the latest earlier occurrence of the longest suffix of the sequence of
     * at most {@code n} tokens ({@link PromptLookup}).
     */
    static Draft ngram(int n) {
        if (n < 1) throw new IllegalArgumentException("the n-gram size must be ≥ 1, got " + n);
        return new Draft() {
            @Override
            public String name() {
                return "ngram";
            }

            @Override
            public Drafter open(Model target, int contextLength) {
                return (context, length, k) -> new Proposal(PromptLookup.propose(context, length, n, k), null);
            }
        };
    }

    /**
     * A smaller model with the same vocabulary, run ahead of the target with its own KV cache (cut back with the
     * target's sequence). It samples with the target's settings (greedy when the target is greedy) and a seed of its
     * own derived from the target's.
     * The model must be loaded with parallel ≤ 1; it may be the target itself.
     */
    static Draft model(Model draft) {
        return new ModelDraft(draft);
    }

    /**
     * The tokens that follow the sequence in {@code sequence} when the sequence so far is a prefix of it, else none:
     * given the target's own greedy output (prompt and reply), every proposal is accepted, which measures what
     * speculation can gain at most.
     */
    static Draft oracle(int[] sequence) {
        int[] seq = sequence.clone();
        return new Draft() {
            @Override
            public String name() {
                return "oracle";
            }

            @Override
            public Drafter open(Model target, int contextLength) {
                return (context, length, k) -> length <= seq.length && Arrays.equals(context, 0, length, seq, 0, length)
                        ? new Proposal(Arrays.copyOfRange(seq, length, Math.min(seq.length, length + k)), null) : Proposal.NONE;
            }
        };
    }
}
