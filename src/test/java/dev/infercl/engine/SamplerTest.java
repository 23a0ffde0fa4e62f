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
}
