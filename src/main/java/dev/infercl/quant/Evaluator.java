package dev.infercl.quant;

import dev.infercl.api.Model;
import dev.infercl.api.Session;
import java.util.List;
import org.apache.commons.math3.distribution.NormalDistribution;
import org.apache.commons.math3.distribution.TDistribution;
import org.apache.commons.math3.stat.descriptive.SummaryStatistics;

/**
 * Quality of a model on a token sequence, teacher-forced: perplexity of the next token, and — against a reference
 * model (typically the full-precision original) — the mean KL divergence KL(P_ref ‖ P_model) of the next-token
 * distributions and how often both pick the same top-1 token. Every figure carries a 95% confidence interval:
 * Student's t over the per-token values for the NLL (perplexity = exp of its mean and bounds) and the KLD, and
 * Wilson's score interval for the top-1 agreement (a proportion). Per-token values within one text are not
 * independent, so the intervals are indicative.
 *
 * <p>Long sequences are split into windows of the context; each window is scored from a fresh cache.
 */
public final class Evaluator {
    private Evaluator() {}

    /** A mean with its 95% confidence interval. */
    public record Estimate(double value, double low, double high) {}

    /**
     * @param tokens     positions scored (each predicts the next token of its window)
     * @param windows    forward windows
     * @param nll        mean negative log-likelihood of the next token (nats)
     * @param perplexity exp(mean NLL), interval exp of the NLL's
     * @param kld        mean KL(P_ref ‖ P_model) in nats; null without a reference
     * @param top1       fraction of positions where both models' argmax agree; null without a reference
     * @param kldMax     the largest per-position KLD; NaN without a reference
     */
    public record Result(int tokens, int windows, Estimate nll, Estimate perplexity, Estimate kld, Estimate top1, double kldMax) {}

    /** Receives (windows done, windows in all). */
    @FunctionalInterface
    public interface Progress {
        void update(int done, int total);
    }

    /**
     * Scores {@code model} over the windows (each a complete token sequence, BOS included where the model wants
     * one), comparing with {@code reference} when it is not null. The two must share a vocabulary.
     */
    public static Result evaluate(Model model, Model reference, List<int[]> windows, Progress progress) {
        return evaluate(model, List.of(), reference, windows, progress);
    }

    /** {@link #evaluate(Model, Model, List, Progress)} with LoRA adapters applied to the model (not to the reference). */
    public static Result evaluate(Model model, List<dev.infercl.model.LoraAdapter.Scaled> adapters, Model reference, List<int[]> windows, Progress progress) {
        if (windows.isEmpty()) throw new IllegalArgumentException("nothing to evaluate: no window of at least 2 tokens");
        int vocab = model.config().vocabSize();
        if (reference != null && reference.config().vocabSize() != vocab) {
            throw new IllegalArgumentException("the reference model's vocabulary has " + reference.config().vocabSize() + " tokens, the model's " + vocab);
        }
        int ctx = windows.stream().mapToInt(w -> w.length).max().orElseThrow();
        var nll = new SummaryStatistics();
        var kld = new SummaryStatistics();
        long agree = 0;
        try (Session s = model.newSession(ctx); Session r = reference != null ? reference.newSession(ctx) : null) {
            if (!adapters.isEmpty()) s.setAdapters(adapters);
            for (int w = 0; w < windows.size(); w++) {
                int[] ids = windows.get(w);
                s.reset();
                float[][] got = s.logits(ids);
                float[][] want = null;
                if (r != null) {
                    r.reset();
                    want = r.logits(ids);
                }
                for (int p = 0; p + 1 < ids.length; p++) {
                    double[] logP = logSoftmax(got[p]);
                    nll.addValue(-logP[ids[p + 1]]);
                    if (want != null) {
                        double[] logQ = logSoftmax(want[p]);
                        double d = 0;
                        for (int v = 0; v < vocab; v++) {
                            double q = Math.exp(logQ[v]);
                            if (q > 0) d += q * (logQ[v] - logP[v]);
                        }
                        kld.addValue(Math.max(0, d));   // ≥ 0 mathematically; clamp rounding below it
                        if (argmax(got[p]) == argmax(want[p])) agree++;
                    }
                }
                if (progress != null) progress.update(w + 1, windows.size());
            }
        }
        Estimate nllE = tInterval(nll);
        Estimate ppl = new Estimate(Math.exp(nllE.value()), Math.exp(nllE.low()), Math.exp(nllE.high()));
        int n = (int) nll.getN();
        return new Result(n, windows.size(), nllE, ppl, reference != null ? tInterval(kld) : null,
                reference != null ? wilson(agree, n) : null, reference != null ? kld.getMax() : Double.NaN);
    }

    /** Mean ± t(0.975, n−1)·sd/√n. */
    static Estimate tInterval(SummaryStatistics s) {
        double mean = s.getMean();
        if (s.getN() < 2) return new Estimate(mean, mean, mean);
        double half = new TDistribution(s.getN() - 1).inverseCumulativeProbability(0.975) * s.getStandardDeviation() / Math.sqrt(s.getN());
        return new Estimate(mean, mean - half, mean + half);
    }

    /** Wilson's score interval for {@code k} successes of {@code n}, 95%. */
    static Estimate wilson(long k, long n) {
        double p = (double) k / n;
        double z = new NormalDistribution().inverseCumulativeProbability(0.975);
        double z2n = z * z / n;
        double centre = (p + z2n / 2) / (1 + z2n);
        double half = z / (1 + z2n) * Math.sqrt(p * (1 - p) / n + z2n / (4 * n));
        return new Estimate(p, Math.max(0, centre - half), Math.min(1, centre + half));
    }

    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        double lse = max + Math.log(sum);
        double[] r = new double[logits.length];
        for (int i = 0; i < r.length; i++) r[i] = logits[i] - lse;
        return r;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
