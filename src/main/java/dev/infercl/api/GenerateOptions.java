package dev.infercl.api;

import dev.infercl.engine.SamplerOptions;

/**
 * One generation request.
 *
 * @param maxTokens  token budget for the reply
 * @param sampler    sampling settings
 * @param addBos     prepend BOS (null: as the model's metadata says)
 * @param stopAtEos  stop at end-of-generation tokens
 */
public record GenerateOptions(int maxTokens, SamplerOptions sampler, Boolean addBos, boolean stopAtEos) {
    public GenerateOptions {
        if (maxTokens < 0) throw new IllegalArgumentException("token budget must be ≥ 0, got " + maxTokens);
    }

    public static GenerateOptions greedy(int maxTokens) {
        return new GenerateOptions(maxTokens, SamplerOptions.greedy(), null, true);
    }
}
