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
 */
public record LoadOptions(BackendKind backend, String device, int threads, Path tokenizer, int contextLength,
                          java.util.function.Consumer<String> notices) {

    public static LoadOptions defaults() {
        return new LoadOptions(BackendKind.AUTO, null, 0, null, 0, null);
    }

    public LoadOptions withBackend(BackendKind kind) {
        return new LoadOptions(kind, device, threads, tokenizer, contextLength, notices);
    }

    public LoadOptions withTokenizer(Path path) {
        return new LoadOptions(backend, device, threads, path, contextLength, notices);
    }

    public LoadOptions withContextLength(int n) {
        return new LoadOptions(backend, device, threads, tokenizer, n, notices);
    }
}
