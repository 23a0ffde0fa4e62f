package dev.infercl.api;

import java.nio.file.Path;

/**
 * How a model is loaded.
 *
 * @param backend       which backend computes
 * @param device        OpenCL device index or name fragment (null: the best one)
 * @param threads       CPU backend threads (≤ 0: all cores)
 * @param tokenizer     tokenizer file of a llama2.c checkpoint (null for GGUF)
 * @param contextLength positions a session holds (≤ 0: the model's own context length)
 * @param notices       receives one-line notices (e.g. why auto fell back to the CPU); may be null
 * @param kvCacheF32    keep an OpenCL device's KV cache in F32 instead of FP16 (twice the memory; logits then
 *                      match an exact computation to ~1e-5 instead of ~1e-2). The CPU backend's cache is always F32.
 */
public record LoadOptions(BackendKind backend, String device, int threads, Path tokenizer, int contextLength,
                          java.util.function.Consumer<String> notices, boolean kvCacheF32) {

    public LoadOptions(BackendKind backend, String device, int threads, Path tokenizer, int contextLength,
                       java.util.function.Consumer<String> notices) {
        this(backend, device, threads, tokenizer, contextLength, notices, false);
    }

    public static LoadOptions defaults() {
        return new LoadOptions(BackendKind.AUTO, null, 0, null, 0, null, false);
    }

    public LoadOptions withKvCacheF32(boolean f32) {
        return new LoadOptions(backend, device, threads, tokenizer, contextLength, notices, f32);
    }

    public LoadOptions withBackend(BackendKind kind) {
        return new LoadOptions(kind, device, threads, tokenizer, contextLength, notices, kvCacheF32);
    }

    public LoadOptions withTokenizer(Path path) {
        return new LoadOptions(backend, device, threads, path, contextLength, notices, kvCacheF32);
    }

    public LoadOptions withContextLength(int n) {
        return new LoadOptions(backend, device, threads, tokenizer, n, notices, kvCacheF32);
    }
}
