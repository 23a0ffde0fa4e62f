package dev.infercl.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks the next token from a row of logits (see {@link SamplerOptions}). Not thread-safe: one per sequence. */
public final class Sampler {
    private final SamplerOptions options;
    private final SplittableRandom random;
    private final int[] recent;   // ring of the last repeatLastN tokens
    private int recentCount, recentNext;

    public Sampler(SamplerOptions options) {
        this.options = options;
        this.random = new SplittableRandom(options.seed());
        this.recent = new int[Math.max(1, options.repeatLastN())];
    }

    /** Records a token of the sequence (prompt or generated) for the repetition penalty. */
    public void accept(int token) {
        if (options.repeatLastN() == 0) return;
        recent[recentNext] = token;
        recentNext = (recentNext + 1) % recent.length;
        recentCount = Math.min(recentCount + 1, recent.length);
    }

    /** Chooses a token; {@code logits} is modified. */
    public int sample(float[] logits, int vocab) {
        return draw(distribution(logits, vocab));
    }

    /**
     * The distribution {@link #sample} draws from after the penalties, top-k, top-p, min-p and temperature: the
     * surviving candidates, most likely first (one candidate, the argmax, when greedy). {@code logits} is modified.
     * Speculative decoding verifies drafted tokens against exactly this distribution.
     */
    public Distribution distribution(float[] logits, int vocab) {
        applyRepeatPenalty(logits, vocab);
        if (options.temperature() <= 0) return Distribution.of(argmax(logits, vocab));

        // candidates sorted by logit, descending
        Integer[] idx = new Integer[vocab];
        for (int i = 0; i < vocab; i++) idx[i] = i;
        Arrays.sort(idx, (a, b) -> Float.compare(logits[b], logits[a]));
        int n = vocab;
        if (options.topK() > 0) n = Math.min(n, options.topK());

        double[] p = softmax(logits, idx, n, 1f);
        if (options.topP() < 1f) {
            double cum = 0;
            for (int i = 0; i < n; i++) {
                cum += p[i];
                if (cum >= options.topP()) {
                    n = i + 1;
                    break;
                }
            }
        }
        if (options.minP() > 0) {
            double threshold = options.minP() * p[0];
            int keep = 1;
            while (keep < n && p[keep] >= threshold) keep++;
            n = keep;
        }
        p = softmax(logits, idx, n, options.temperature());
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = idx[i];
        return new Distribution(ids, p);
    }

    /** A token drawn from {@code d} with this sampler's generator (greedy: the argmax, drawing nothing). */
    public int draw(Distribution d) {
        if (options.temperature() <= 0) return d.ids()[0];
        double r = random.nextDouble(), cum = 0;
        for (int i = 0; i < d.size(); i++) {
            cum += d.probs()[i];
            if (r < cum) return d.ids()[i];
        }
        return d.ids()[d.size() - 1];
    }

    /**
     * The speculative-sampling rule with this sampler's generator: see {@link SpeculativeSampling#verify}. Greedy
     * draws nothing (the target distribution is one token).
     */
    public SpeculativeSampling.Verdict verify(Distribution target, int drafted, Distribution draft) {
        return SpeculativeSampling.verify(target, drafted, draft, random);
    }

    /** Forgets the recorded tokens and records the last {@code repeatLastN} of {@code tokens[0..length)} instead. */
    public void restart(int[] tokens, int length) {
        recentCount = 0;
        recentNext = 0;
        for (int i = Math.max(0, length - recent.length); i < length; i++) accept(tokens[i]);
    }

    public static int argmax(float[] logits, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /**
     * llama.cpp's penalties over the recent tokens: the repetition penalty scales each distinct token's logit once;
     * the presence penalty subtracts a constant from each distinct token and the frequency penalty one per occurrence
     * (OpenAI's formula, {@code logit − count·frequency − (count > 0)·presence}).
     */
    private void applyRepeatPenalty(float[] logits, int vocab) {
        boolean additive = options.presencePenalty() != 0f || options.frequencyPenalty() != 0f;
        if ((options.repeatPenalty() == 1f && !additive) || recentCount == 0) return;
        var counts = new java.util.HashMap<Integer, Integer>();
        for (int i = 0; i < recentCount; i++) {
            int t = recent[i];
            if (t >= 0 && t < vocab) counts.merge(t, 1, Integer::sum);
        }
        for (var e : counts.entrySet()) {
            int t = e.getKey();
            if (options.repeatPenalty() != 1f) {
                logits[t] = logits[t] > 0 ? logits[t] / options.repeatPenalty() : logits[t] * options.repeatPenalty();
            }
            logits[t] -= e.getValue() * options.frequencyPenalty() + options.presencePenalty();
        }
    }

    /** Probabilities of the first n candidates at a temperature. */
    private static double[] softmax(float[] logits, Integer[] idx, int n, float temperature) {
        double[] p = new double[n];
        double max = logits[idx[0]], sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp((logits[idx[i]] - max) / temperature);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) p[i] /= sum;
        return p;
    }

    /**
     * A probability distribution over token ids: {@code probs[i]} of {@code ids[i]}, most likely first, summing to 1;
     * ids not listed have probability 0.
     */
    public record Distribution(int[] ids, double[] probs) {
        public Distribution {
            if (ids.length == 0 || ids.length != probs.length) throw new IllegalArgumentException("a distribution needs as many probabilities as ids, at least one");
        }

        /** Certainty of one token. */
        public static Distribution of(int id) {
            return new Distribution(new int[] {id}, new double[] {1});
        }

        public int size() {
            return ids.length;
        }

        /** The probability of {@code id} (0 when it is not listed). */
        public double prob(int id) {
            for (int i = 0; i < ids.length; i++) if (ids[i] == id) return probs[i];
            return 0;
        }
    }
}
