package dev.infercl.api;

import dev.infercl.engine.Sampler;
import dev.infercl.engine.SamplerOptions;
import java.util.Arrays;

/** {@link Draft#model}: a draft model with its own session, kept in step with the target's sequence. */
final class ModelDraft implements Draft {
    /** Mixed into the target's seed: the draft's draws must not repeat the target's acceptance draws. */
    private static final long SEED_MIX = 0x9E3779B97F4A7C15L;

    private final Model draft;

    ModelDraft(Model draft) {
        this.draft = draft;
    }

    @Override
    public String name() {
        return "model";
    }

    @Override
    public Drafter open(Model target, int contextLength) {
        requireSameVocabulary(target, draft);
        if (draft.isEncoderDecoder()) throw new UnsupportedOperationException("an encoder–decoder model cannot be a draft: " + draft.path());
        if (draft.scheduler() != null) {
            throw new UnsupportedOperationException("a draft model keeps a KV cache of its own: load " + draft.path() + " with parallel ≤ 1");
        }
        return new ModelDrafter(draft.newSession(contextLength), draft.config().vocabSize());
    }

    /**
     * Refuses a draft whose vocabulary differs from the target's: its ids would mean other text.
     *
     * @throws DraftMismatchException naming both models and the first token that differs
     */
    static void requireSameVocabulary(Model target, Model draft) {
        var t = target.tokenizer();
        var d = draft.tokenizer();
        int tv = target.config().vocabSize(), dv = draft.config().vocabSize();
        if (tv != dv || t.vocabSize() != d.vocabSize()) {
            throw new DraftMismatchException("the draft " + draft.path() + " has a vocabulary of " + dv + " tokens, the target " + target.path()
                    + " one of " + tv + ": a draft model must share the target's vocabulary");
        }
        for (int id = 0; id < t.vocabSize(); id++) {
            if (!t.piece(id).equals(d.piece(id))) {
                throw new DraftMismatchException("token " + id + " is '" + t.piece(id) + "' in the target " + target.path() + " but '" + d.piece(id)
                        + "' in the draft " + draft.path() + ": a draft model must share the target's vocabulary");
            }
        }
    }

    private static final class ModelDrafter implements Drafter {
        private final Session session;
        private final float[] row;
        private Sampler sampler = new Sampler(SamplerOptions.greedy());
        private boolean greedy = true;

        ModelDrafter(Session session, int vocab) {
            this.session = session;
            this.row = new float[vocab];
        }

        @Override
        public void start(SamplerOptions s) {
            sampler = new Sampler(new SamplerOptions(s.temperature(), s.topK(), s.topP(), s.minP(), s.repeatPenalty(), s.repeatLastN(),
                    s.seed() ^ SEED_MIX, s.presencePenalty(), s.frequencyPenalty()));
            greedy = s.temperature() <= 0;
        }

        @Override
        public Proposal propose(int[] context, int length, int k) {
            if (length < 1) return Proposal.NONE;
            // keep the longest prefix the draft's cache shares with the sequence, minus at least one token: its logits
            // are needed to draft the first token
            int[] held = session.tokens();
            int common = Arrays.mismatch(held, 0, held.length, context, 0, length);
            if (common < 0) common = held.length;
            common = Math.min(common, length - 1);
            int room = session.contextLength() - length;   // the draft feeds the sequence and k − 1 drafted tokens
            k = Math.min(k, room + 1);
            if (k < 1) return Proposal.NONE;
            session.rewind(common);
            float[] logits = session.advance(Arrays.copyOfRange(context, common, length));
            sampler.restart(context, length);
            int[] tokens = new int[k];
            var distributions = greedy ? null : new Sampler.Distribution[k];
            for (int i = 0; i < k; i++) {
                System.arraycopy(logits, 0, row, 0, row.length);
                Sampler.Distribution q = sampler.distribution(row, row.length);
                tokens[i] = sampler.draw(q);
                if (distributions != null) distributions[i] = q;
                sampler.accept(tokens[i]);
                if (i + 1 < k) logits = session.advance(new int[] {tokens[i]});
            }
            return new Proposal(tokens, distributions);
        }

        @Override
        public void close() {
            session.close();
        }
    }
}
