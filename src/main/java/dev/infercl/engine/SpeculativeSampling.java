package dev.infercl.engine;

import dev.infercl.engine.Sampler.Distribution;
import java.util.HashMap;
import java.util.random.RandomGenerator;

/**
 * The accept/reject rule of speculative sampling (Leviathan et al. 2023; Chen et al. 2023): a token x drafted from a
 * distribution q is kept with probability min(1, p(x)/q(x)) under the target's distribution p; when it is not, the
 * token is drawn from normalize(max(0, p − q)). Whatever q is, the token that comes out is distributed exactly as p,
 * so speculation changes how fast tokens come, never which tokens come. A deterministic draft (prompt lookup, a
 * greedy draft model) has a one-token q: x is kept with probability p(x), else drawn from p without x. When p is one
 * token (greedy), x is kept exactly when it is that token, and no random number is drawn.
 */
public final class SpeculativeSampling {
    private SpeculativeSampling() {}

    /** Whether the drafted token was kept; {@code token} is the one to emit (the drafted one when kept). */
    public record Verdict(boolean accepted, int token) {}

    /**
     * Verifies {@code drafted}, drawn from {@code draft} (null: the draft was certain of it), against {@code target}.
     *
     * @throws IllegalArgumentException when the draft gives its own token probability 0 (it cannot have drawn it)
     */
    public static Verdict verify(Distribution target, int drafted, Distribution draft, RandomGenerator random) {
        if (target.size() == 1) {
            int only = target.ids()[0];
            return new Verdict(drafted == only, only);
        }
        double q = draft == null ? 1 : draft.prob(drafted);
        if (!(q > 0)) throw new IllegalArgumentException("the draft proposed token " + drafted + " with probability " + q);
        double p = target.prob(drafted);
        if (p >= q || (p > 0 && random.nextDouble() * q < p)) return new Verdict(true, drafted);
        return new Verdict(false, residual(target, drafted, draft, random));
    }

    /** A draw from normalize(max(0, p − q)); from p itself where rounding left that empty. */
    private static int residual(Distribution target, int drafted, Distribution draft, RandomGenerator random) {
        int n = target.size();
        double[] r = new double[n];
        double sum = 0;
        var q = draft == null || draft.size() <= 16 ? null : index(draft);
        for (int i = 0; i < n; i++) {
            int id = target.ids()[i];
            double qi = draft == null ? (id == drafted ? 1 : 0) : q == null ? draft.prob(id) : q.getOrDefault(id, 0.0);
            r[i] = Math.max(0, target.probs()[i] - qi);
            sum += r[i];
        }
        if (!(sum > 0)) {
            r = target.probs();
            sum = 1;
        }
        double u = random.nextDouble() * sum, cum = 0;
        int lastPositive = -1;
        for (int i = 0; i < n; i++) {
            if (r[i] <= 0) continue;
            cum += r[i];
            lastPositive = i;
            if (u < cum) return target.ids()[i];
        }
        return target.ids()[lastPositive];
    }

    private static HashMap<Integer, Double> index(Distribution d) {
        var m = new HashMap<Integer, Double>(d.size() * 2);
        for (int i = 0; i < d.size(); i++) m.put(d.ids()[i], d.probs()[i]);
        return m;
    }
}
