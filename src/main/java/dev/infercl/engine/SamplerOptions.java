package dev.infercl.engine;

/**
 * How the next token is chosen from the logits, applied in llama.cpp's order: penalties (repetition, then
 * presence and frequency), top-k, top-p, min-p, temperature, then a draw. Temperature ≤ 0 is greedy (argmax after
 * the penalties).
 *
 * @param temperature    softmax temperature; ≤ 0 means greedy
 * @param topK           keep the k most likely tokens (≤ 0: all)
 * @param topP           keep the smallest set whose probability reaches p (≥ 1: all)
 * @param minP           drop tokens below minP × the top token's probability (≤ 0: none)
 * @param repeatPenalty  divide positive / multiply negative logits of recent tokens by this (1: off)
 * @param repeatLastN    how many recent tokens the penalty looks at
 * @param seed           seed of the random draw: the same seed gives the same text
 * @param presencePenalty  subtracted from the logit of every token among the recent ones (OpenAI's and llama.cpp's
 *                         {@code presence_penalty}; 0: off)
 * @param frequencyPenalty subtracted once per occurrence among the recent ones ({@code frequency_penalty}; 0: off)
 */
public record SamplerOptions(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN, long seed,
                             float presencePenalty, float frequencyPenalty) {

    public SamplerOptions {
        if (Float.isNaN(temperature) || temperature < 0) throw new IllegalArgumentException("temperature must be ≥ 0, got " + temperature);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        if (!(minP >= 0 && minP < 1)) throw new IllegalArgumentException("min-p must be in [0, 1), got " + minP);
        if (!(repeatPenalty > 0)) throw new IllegalArgumentException("repeat penalty must be > 0, got " + repeatPenalty);
        if (repeatLastN < 0) throw new IllegalArgumentException("repeat-last-n must be ≥ 0, got " + repeatLastN);
        if (!Float.isFinite(presencePenalty)) throw new IllegalArgumentException("presence penalty must be finite, got " + presencePenalty);
        if (!Float.isFinite(frequencyPenalty)) throw new IllegalArgumentException("frequency penalty must be finite, got " + frequencyPenalty);
    }

    /** Without presence and frequency penalties (the options before they existed: callers keep compiling). */
    public SamplerOptions(float temperature, int topK, float topP, float minP, float repeatPenalty, int repeatLastN, long seed) {
        this(temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed, 0f, 0f);
    }

    /** These options with presence and frequency penalties. */
    public SamplerOptions withPenalties(float presence, float frequency) {
        return new SamplerOptions(temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed, presence, frequency);
    }

    /** Greedy decoding: always the most likely token. */
    public static SamplerOptions greedy() {
        return new SamplerOptions(0f, 0, 1f, 0f, 1f, 64, 0);
    }

    /** llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no repetition penalty. */
    public static SamplerOptions defaults(long seed) {
        return new SamplerOptions(0.8f, 40, 0.95f, 0.05f, 1f, 64, seed);
    }
}
