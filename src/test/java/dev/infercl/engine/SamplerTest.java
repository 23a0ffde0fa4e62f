package dev.infercl.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import org.junit.jupiter.api.Test;

class SamplerTest {
    static final float[] LOGITS = {1f, 5f, 3f, 4.9f, -2f, 0f};

    static int[] draws(SamplerOptions o, int n) {
        var s = new Sampler(o);
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = s.sample(LOGITS.clone(), LOGITS.length);
        return r;
    }

    @Test
    void greedyTakesTheArgmax() {
        assertEquals(1, new Sampler(SamplerOptions.greedy()).sample(LOGITS.clone(), 6));
    }

    @Test
    void topKOneIsGreedyAtAnyTemperature() {
        for (int t : draws(new SamplerOptions(5f, 1, 1f, 0f, 1f, 0, 9), 50)) assertEquals(1, t);
    }

    @Test
    void topKLimitsTheCandidates() {
        var seen = new HashSet<Integer>();
        for (int t : draws(new SamplerOptions(10f, 3, 1f, 0f, 1f, 0, 1), 2000)) seen.add(t);
        assertEquals(java.util.Set.of(1, 3, 2), seen);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        // p(1) ≈ 0.47, p(3) ≈ 0.43: top-p 0.5 keeps exactly those two
        var seen = new HashSet<Integer>();
        for (int t : draws(new SamplerOptions(1f, 0, 0.5f, 0f, 1f, 0, 2), 2000)) seen.add(t);
        assertEquals(java.util.Set.of(1, 3), seen);
    }

    @Test
    void minPDropsUnlikelyTokens() {
        var seen = new HashSet<Integer>();
        for (int t : draws(new SamplerOptions(1f, 0, 1f, 0.5f, 1f, 0, 3), 2000)) seen.add(t);
        assertEquals(java.util.Set.of(1, 3), seen);   // p(2)/p(1) = e^-2 < 0.5
    }

    @Test
    void temperatureOneMatchesSoftmaxFrequencies() {
        int n = 20000, ones = 0;
        for (int t : draws(new SamplerOptions(1f, 0, 1f, 0f, 1f, 0, 4), n)) if (t == 1) ones++;
        double sum = 0;
        for (float l : LOGITS) sum += Math.exp(l);
        double p1 = Math.exp(5) / sum;
        assertEquals(p1, ones / (double) n, 0.02);
    }

    @Test
    void repetitionPenaltyDemotesRecentTokens() {
        var s = new Sampler(new SamplerOptions(0f, 0, 1f, 0f, 2f, 64, 0));
        s.accept(1);
        float[] l = LOGITS.clone();
        assertEquals(3, s.sample(l, 6));   // 5 / 2 = 2.5 < 4.9
        assertEquals(2.5f, l[1]);
    }

    @Test
    void aSeedMakesDrawsReproducible() {
        var o = new SamplerOptions(1f, 0, 1f, 0f, 1f, 0, 1234);
        assertTrue(java.util.Arrays.equals(draws(o, 100), draws(o, 100)));
    }

    @Test
    void badOptionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SamplerOptions(-1f, 0, 1f, 0f, 1f, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplerOptions(1f, 0, 0f, 0f, 1f, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplerOptions(1f, 0, 1f, 0f, 0f, 0, 0));
    }

    @Test
    void presencePenaltySubtractsOncePerSeenToken() {
        // token 1 (5.0) seen three times, token 3 (4.9) never: presence 0.2 leaves 4.8 < 4.9, so greedy takes 3
        var s = new Sampler(new SamplerOptions(0f, 0, 1f, 0f, 1f, 64, 0, 0.2f, 0f));
        for (int i = 0; i < 3; i++) s.accept(1);
        float[] l = LOGITS.clone();
        assertEquals(3, s.sample(l, l.length));
        assertEquals(4.8f, l[1], 1e-6f);
        assertEquals(4.9f, l[3], 1e-6f);
    }

    @Test
    void frequencyPenaltySubtractsPerOccurrence() {
        var s = new Sampler(new SamplerOptions(0f, 0, 1f, 0f, 1f, 64, 0, 0f, 0.06f));
        s.accept(1);
        float[] l = LOGITS.clone();
        assertEquals(1, s.sample(l, l.length));   // 5 − 0.06 = 4.94 > 4.9
        assertEquals(4.94f, l[1], 1e-6f);
        s.accept(1);
        s.accept(2);
        l = LOGITS.clone();
        assertEquals(3, s.sample(l, l.length));   // 5 − 2·0.06 = 4.88 < 4.9
        assertEquals(4.88f, l[1], 1e-6f);
        assertEquals(2.94f, l[2], 1e-6f);
    }

    @Test
    void penaltiesLookOnlyAtTheRecentWindow() {
        var s = new Sampler(new SamplerOptions(0f, 0, 1f, 0f, 1f, 2, 0, 1f, 1f));
        s.accept(1);
        s.accept(2);
        s.accept(4);   // the window of 2 holds 2 and 4: token 1 is no longer penalised
        float[] l = LOGITS.clone();
        assertEquals(1, s.sample(l, l.length));
        assertEquals(5f, l[1]);
        assertEquals(1f, l[2], 1e-6f);
        assertEquals(-4f, l[4], 1e-6f);
    }

    @Test
    void negativePenaltiesEncourageAndNonFiniteOnesAreRefused() {
        var s = new Sampler(new SamplerOptions(0f, 0, 1f, 0f, 1f, 64, 0, -1f, 0f));
        s.accept(0);
        assertEquals(1, s.sample(LOGITS.clone(), LOGITS.length));
        s.accept(2);
        float[] l = LOGITS.clone();
        s.sample(l, l.length);
        assertEquals(4f, l[2], 1e-6f);
        assertThrows(IllegalArgumentException.class, () -> new SamplerOptions(0f, 0, 1f, 0f, 1f, 64, 0, Float.NaN, 0f));
        assertThrows(IllegalArgumentException.class, () -> new SamplerOptions(0f, 0, 1f, 0f, 1f, 64, 0, 0f, Float.POSITIVE_INFINITY));
        assertEquals(SamplerOptions.greedy(), SamplerOptions.greedy().withPenalties(0f, 0f));
    }
}
