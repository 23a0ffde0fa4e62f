package dev.infercl.api;

import dev.infercl.engine.SamplerOptions;
import dev.infercl.engine.TokenLogprobs;

/**
 * One generation request.
 *
 * @param maxTokens  token budget for the reply
 * @param sampler    sampling settings
 * @param addBos     prepend BOS (null: as the model's metadata says)
 * @param stopAtEos  stop at end-of-generation tokens (the tokenizer's, plus {@code stopTokens})
 * @param stopTokens more ids that end generation (e.g. a chat template's end-of-turn tokens); not emitted
 * @param speculation speculative decoding (null: off)
 * @param logprobs   −1: none; else each emitted token reaches the listener with its {@link TokenLogprobs} and this many
 *                   alternatives (computed from the row it was sampled from; a request without them pays nothing)
 */
public record GenerateOptions(int maxTokens, SamplerOptions sampler, Boolean addBos, boolean stopAtEos, int[] stopTokens, Speculation speculation,
                              int logprobs) {
    public GenerateOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("token budget must be ≥ 0, got " + maxTokens);
        if (logprobs < -1) throw new IllegalArgumentException("logprobs must be −1 (none) or the number of alternatives ≥ 0, got " + logprobs);
        stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
    }

    public GenerateOptions(int maxTokens, SamplerOptions sampler, Boolean addBos, boolean stopAtEos, int[] stopTokens, Speculation speculation) {
        this(maxTokens, sampler, addBos, stopAtEos, stopTokens, speculation, -1);
    }

    public GenerateOptions(int maxTokens, SamplerOptions sampler, Boolean addBos, boolean stopAtEos, int[] stopTokens) {
        this(maxTokens, sampler, addBos, stopAtEos, stopTokens, null);
    }

    public GenerateOptions(int maxTokens, SamplerOptions sampler, Boolean addBos, boolean stopAtEos) {
        this(maxTokens, sampler, addBos, stopAtEos, null, null);
    }

    /** These options with more stop tokens. */
    public GenerateOptions withStopTokens(int[] ids) {
        return new GenerateOptions(maxTokens, sampler, addBos, stopAtEos, ids, speculation, logprobs);
    }

    /** These options with each token's log-probability and its {@code top} most likely alternatives (−1: none). */
    public GenerateOptions withLogprobs(int top) {
        return new GenerateOptions(maxTokens, sampler, addBos, stopAtEos, stopTokens, speculation, top);
    }

    /** These options with speculative decoding: {@code k} tokens drafted by {@code draft} per target step. */
    public GenerateOptions speculative(Draft draft, int k) {
        return new GenerateOptions(maxTokens, sampler, addBos, stopAtEos, stopTokens, new Speculation(draft, k), logprobs);
    }

    /** True when {@code id} is one of {@code stopTokens}. */
    public boolean isStopToken(int id) {
        for (int s : stopTokens) if (s == id) return true;
        return false;
    }

    public static GenerateOptions greedy(int maxTokens) {
        return new GenerateOptions(maxTokens, SamplerOptions.greedy(), null, true);
    }
}
