package dev.infercl.api;

import dev.infercl.engine.SamplerOptions;

/**
 * One generation request.
 *
 * @param maxTokens  token budget for the reply
 * @param sampler    sampling settings
 * @param addBos     prepend BOS (null: as the model's metadata says)
 * @param stopAtEos  stop at end-of-generation tokens (the tokenizer's, plus {@code stopTokens})
 * @param stopTokens more ids that end generation (e.g. a chat template's end-of-turn tokens); not emitted
 * @param speculation speculative decoding (null: off)
 */
public record GenerateOptions(int maxTokens, SamplerOptions sampler, Boolean addBos, boolean stopAtEos, int[] stopTokens, Speculation speculation) {
    public GenerateOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("token budget must be ≥ 0, got " + maxTokens);
        stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
    }

    public GenerateOptions(int maxTokens, SamplerOptions sampler, Boolean addBos, boolean stopAtEos, int[] stopTokens) {
        this(maxTokens, sampler, addBos, stopAtEos, stopTokens, null);
    }

    public GenerateOptions(int maxTokens, SamplerOptions sampler, Boolean addBos, boolean stopAtEos) {
        this(maxTokens, sampler, addBos, stopAtEos, null, null);
    }

    /** These options with more stop tokens. */
    public GenerateOptions withStopTokens(int[] ids) {
        return new GenerateOptions(maxTokens, sampler, addBos, stopAtEos, ids, speculation);
    }

    /** These options with speculative decoding: {@code k} tokens drafted by {@code draft} per target step. */
    public GenerateOptions speculative(Draft draft, int k) {
        return new GenerateOptions(maxTokens, sampler, addBos, stopAtEos, stopTokens, new Speculation(draft, k));
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
