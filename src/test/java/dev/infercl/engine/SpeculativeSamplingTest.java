package dev.infercl.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.engine.Sampler.Distribution;
import java.util.ArrayList;
import java.util.SplittableRandom;
import org.apache.commons.math3.stat.inference.ChiSquareTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The speculative-sampling rule on given distributions: whatever the draft's q, the emitted token follows the target's
 * p (chi-square over 200,000 draws, p-value > 0.001), and the draft is accepted as often as theory says (Σ min(p, q)).
 */
public class SpeculativeSamplingTest {
    static final int DRAWS = 200_000;

    /** A target over ids 3, 5, 7 … of random, skewed probabilities. */
    static Distribution target(int n, long seed) {
        var rnd = new SplittableRandom(seed);
        int[] ids = new int[n];
        double[] w = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            ids[i] = 3 + 2 * i;
            w[i] = Math.pow(rnd.nextDouble(), 3) + 1e-3;
            sum += w[i];
        }
        for (int i = 0; i < n; i++) w[i] /= sum;
        return new Distribution(ids, w);
    }

    static Distribution normalized(int[] ids, double[] w) {
        double sum = 0;
        for (double x : w) sum += x;
        double[] p = new double[w.length];
        for (int i = 0; i < w.length; i++) p[i] = w[i] / sum;
        return new Distribution(ids, p);
    }

    /** q for each kind of draft (null: a certain draft, see {@link #certain}). */
    static Distribution draft(String kind, Distribution p) {
        int n = p.size();
        return switch (kind) {
            // close to p, with some mass on ids the target never emits
            case "good" -> {
                int[] ids = new int[n + 4];
                double[] w = new double[n + 4];
                for (int i = 0; i < n; i++) {
                    ids[i] = p.ids()[i];
                    w[i] = 0.9 * p.probs()[i];
                }
                for (int i = 0; i < 4; i++) {
                    ids[n + i] = 100 + i;
                    w[n + i] = 0.025;
                }
                yield normalized(ids, w);
            }
            // uniform over 3 × the target's support: most of its proposals are unlikely or impossible
            case "bad" -> {
                int[] ids = new int[3 * n];
                double[] w = new double[3 * n];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = 2 + i;
                    w[i] = 1;
                }
                yield normalized(ids, w);
            }
            // most mass on an impossible id and on the target's least likely ones
            case "adversarial" -> {
                int[] ids = new int[n + 1];
                double[] w = new double[n + 1];
                for (int i = 0; i < n; i++) {
                    ids[i] = p.ids()[i];
                    w[i] = 0.1 / (p.probs()[i] * n);
                }
                ids[n] = 999;
                w[n] = 2;
                yield normalized(ids, w);
            }
            default -> throw new IllegalArgumentException(kind);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"good", "bad", "adversarial"})
    void emittedTokensFollowTheTarget(String kind) {
        Distribution p = target(24, 11), q = draft(kind, p);
        var draftRnd = new SplittableRandom(1);
        var rnd = new SplittableRandom(2);
        long[] counts = new long[1000];
        long accepted = 0;
        for (int i = 0; i < DRAWS; i++) {
            int x = drawFrom(q, draftRnd);
            var v = SpeculativeSampling.verify(p, x, q, rnd);
            if (v.accepted()) {
                accepted++;
                assertEquals(x, v.token());
            }
            counts[v.token()]++;
        }
        assertFollows(p, counts, kind);
        double expected = 0;   // P(accept) = Σ_x min(p(x), q(x))
        for (int i = 0; i < q.size(); i++) expected += Math.min(q.probs()[i], p.prob(q.ids()[i]));
        assertEquals(expected, (double) accepted / DRAWS, 5 * Math.sqrt(expected * (1 - expected) / DRAWS) + 1e-9, kind + " acceptance");
    }

    /** Certain drafts (prompt lookup, a greedy draft model): the token is kept with probability p(x). */
    @ParameterizedTest
    @ValueSource(ints = {3, 5, 49, 998})
    void certainDraftsToo(int drafted) {
        Distribution p = target(24, 5);
        var rnd = new SplittableRandom(3);
        long[] counts = new long[1000];
        long accepted = 0;
        for (int i = 0; i < DRAWS; i++) {
            var v = SpeculativeSampling.verify(p, drafted, null, rnd);
            if (v.accepted()) accepted++;
            counts[v.token()]++;
        }
        assertFollows(p, counts, "certain " + drafted);
        double want = p.prob(drafted);
        assertEquals(want, (double) accepted / DRAWS, 5 * Math.sqrt(want * (1 - want) / DRAWS) + 1e-9);
    }

    @Test
    void greedyTargetsKeepOnlyTheirToken() {
        var p = Distribution.of(7);
        var q = draft("bad", target(24, 11));
        var rnd = new SplittableRandom(4);
        for (int x = 0; x < 80; x++) {
            var v = SpeculativeSampling.verify(p, x, x % 2 == 0 ? null : q, rnd);
            assertEquals(x == 7, v.accepted());
            assertEquals(7, v.token());
        }
        assertThrows(IllegalArgumentException.class, () -> SpeculativeSampling.verify(target(24, 1), 500, q, new SplittableRandom(1)));
    }

    @Test
    void promptLookupTakesTheLongestLatestMatch() {
        int[] t = {1, 2, 3, 9, 1, 2, 4, 5, 7, 1, 2};
        // "1 2" occurred at 0 and at 4: the latest wins, followed by 4 5 7
        assertArrayEquals(new int[] {4, 5, 7}, PromptLookup.propose(t, t.length, 2, 3));
        assertArrayEquals(new int[] {4}, PromptLookup.propose(t, t.length, 2, 1));
        // "9 1 2" is longer than "1 2" and occurred once
        int[] u = {9, 1, 2, 6, 1, 2, 4, 9, 1, 2};
        assertArrayEquals(new int[] {6, 1}, PromptLookup.propose(u, u.length, 3, 2));
        assertArrayEquals(new int[] {4, 9}, PromptLookup.propose(u, u.length, 2, 2));
        // a match running into the end proposes what there is; no match proposes nothing
        int[] w = {5, 5, 5};
        assertArrayEquals(new int[] {5}, PromptLookup.propose(w, 3, 2, 4));
        assertArrayEquals(new int[0], PromptLookup.propose(new int[] {1, 2, 3}, 3, 3, 4));
        assertArrayEquals(new int[0], PromptLookup.propose(new int[] {1}, 1, 3, 4));
    }

    @Test
    void samplerDrawsFromTheDistributionItReports() {
        var options = SamplerOptions.defaults(9);
        float[] logits = new float[50];
        var rnd = new SplittableRandom(8);
        for (int i = 0; i < logits.length; i++) logits[i] = (float) rnd.nextGaussian() * 2;
        var a = new Sampler(options);
        var b = new Sampler(options);
        for (int i = 0; i < 200; i++) {
            Distribution d = a.distribution(logits.clone(), logits.length);
            assertEquals(b.sample(logits.clone(), logits.length), a.draw(d));
        }
    }

    static int drawFrom(Distribution d, SplittableRandom rnd) {
        double u = rnd.nextDouble(), cum = 0;
        for (int i = 0; i < d.size(); i++) {
            cum += d.probs()[i];
            if (u < cum) return d.ids()[i];
        }
        return d.ids()[d.size() - 1];
    }

    /**
     * Chi-square of {@code counts} (by id) against {@code p} over its support, bins expecting fewer than 5 merged;
     * nothing outside the support.
     */
    public static void assertFollows(Distribution p, long[] counts, String what) {
        long total = 0, inSupport = 0;
        for (long c : counts) total += c;
        var expected = new ArrayList<Double>();
        var observed = new ArrayList<Long>();
        double restE = 0;
        long restO = 0;
        for (int i = 0; i < p.size(); i++) {
            double e = p.probs()[i] * total;
            long o = counts[p.ids()[i]];
            inSupport += o;
            if (e < 5) {
                restE += e;
                restO += o;
            } else {
                expected.add(e);
                observed.add(o);
            }
        }
        assertEquals(total, inSupport, what + ": tokens outside the target's support");
        if (restE > 0) {
            expected.add(restE);
            observed.add(restO);
        }
        double pValue = new ChiSquareTest().chiSquareTest(expected.stream().mapToDouble(Double::doubleValue).toArray(),
                observed.stream().mapToLong(Long::longValue).toArray());
        assertTrue(pValue > 0.001, what + ": chi-square p-value " + pValue + " over " + expected.size() + " bins");
    }
}
