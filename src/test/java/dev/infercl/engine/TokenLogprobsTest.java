package dev.infercl.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TokenLogprobsTest {
    /** A row of known softmax at offset 2 of a larger array: logits log 1, log 2, log 2, log 4, log 1, so Z = 10. */
    @Test
    void logSoftmaxOfTheRowAndItsLargestEntriesTiesToTheLowerId() {
        float[] logits = {99, 99, 0f, (float) Math.log(2), (float) Math.log(2), (float) Math.log(4), 0f, -99};
        var lp = TokenLogprobs.of(logits, 2, 5, 1, 4);
        double z = Math.log(1 + 2 + 2 + 4 + 1);
        assertEquals(1, lp.token());
        assertEquals((float) Math.log(2) - z, lp.logprob(), 1e-7);   // the row holds float roundings of the logs
        assertArrayEquals(new int[] {3, 1, 2, 0}, lp.topIds(), "4, then the two 2s by id, then the first of the two 1s");
        assertEquals((float) Math.log(4) - z, lp.topLogprobs()[0], 1e-7);   // the row holds float roundings of the logs
        assertEquals(-z, lp.topLogprobs()[3], 1e-7);   // the row holds float roundings of the logs
        assertArrayEquals(new int[0], TokenLogprobs.of(logits, 2, 5, 0, 0).topIds());
        assertArrayEquals(new int[] {3, 1, 2, 0, 4}, TokenLogprobs.of(logits, 2, 5, 0, 9).topIds(), "at most the vocabulary");
    }
}
