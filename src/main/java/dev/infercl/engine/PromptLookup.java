package dev.infercl.engine;

import java.util.Arrays;

/**
 * The n-gram draft of prompt lookup decoding: the text so far (prompt and reply) often repeats itself — names, code,
 * quoted passages — so the tokens that followed an earlier occurrence of the last n tokens are a good guess for what
 * comes next. The longest n-gram (n down to 1) that occurred before wins; among its occurrences, the latest.
 */
public final class PromptLookup {
    private PromptLookup() {}

    /**
     * Up to {@code k} tokens that followed the latest earlier occurrence of the longest suffix of
     * {@code tokens[0..length)} of at most {@code maxN} tokens; none when no suffix occurred before.
     */
    public static int[] propose(int[] tokens, int length, int maxN, int k) {
        if (maxN < 1) throw new IllegalArgumentException("the n-gram size must be ≥ 1, got " + maxN);
        if (k < 1 || length < 2) return new int[0];
        for (int n = Math.min(maxN, length - 1); n >= 1; n--) {
            int suffix = length - n;
            // an occurrence starting at i ends before the suffix starts over it, and is followed by at least one token
            for (int i = suffix - 1; i >= 0; i--) {
                if (Arrays.equals(tokens, i, i + n, tokens, suffix, length)) {
                    int from = i + n;
                    return Arrays.copyOfRange(tokens, from, Math.min(length, from + k));
                }
            }
        }
        return new int[0];
    }
}
