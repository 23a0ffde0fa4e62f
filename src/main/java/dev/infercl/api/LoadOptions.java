package dev.infercl.api;

import dev.infercl.backend.KvType;
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
 * @param kvType        how an OpenCL device stores the KV cache (null: FP16): F32 is twice the memory of FP16 and
 *                      logits then match an exact computation to ~1e-5 instead of ~1e-2; I8 (int8, a scale per
 *                      block and head) is half of FP16. The CPU backend's cache is always F32 (asking it for I8
 *                      gives a one-line notice).
 * @param parallel      sessions computed together (≤ 1: each session has its own KV cache and the sessions of
 *                      several threads take turns step by step; N &gt; 1: one KV cache of N contexts shared by the
 *                      sessions, whose steps run as one batched forward pass — see {@link Model})
 */
public record LoadOptions(BackendKind backend, String device, int threads, Path tokenizer, int contextLength,
                          java.util.function.Consumer<String> notices, KvType kvType, int parallel) {

    public LoadOptions(BackendKind backend, String device, int threads, Path tokenizer, int contextLength,
                       java.util.function.Consumer<String> notices, KvType kvType) {
        this(backend, device, threads, tokenizer, contextLength, notices, kvType, 1);
    }

    public LoadOptions(BackendKind backend, String device, int threads, Path tokenizer, int contextLength,
                       java.util.function.Consumer<String> notices) {
        this(backend, device, threads, tokenizer, contextLength, notices, null);
    }

    public static LoadOptions defaults() {
        return new LoadOptions(BackendKind.AUTO, null, 0, null, 0, null, null, 1);
    }

    public LoadOptions withKvType(KvType type) {
        return new LoadOptions(backend, device, threads, tokenizer, contextLength, notices, type, parallel);
    }

    /** An F32 (true) or FP16 (false) OpenCL KV cache. */
    public LoadOptions withKvCacheF32(boolean f32) {
        return withKvType(f32 ? KvType.F32 : KvType.F16);
    }

    public LoadOptions withBackend(BackendKind kind) {
        return new LoadOptions(kind, device, threads, tokenizer, contextLength, notices, kvType, parallel);
    }

    public LoadOptions withTokenizer(Path path) {
        return new LoadOptions(backend, device, threads, path, contextLength, notices, kvType, parallel);
    }

    public LoadOptions withContextLength(int n) {
        return new LoadOptions(backend, device, threads, tokenizer, n, notices, kvType, parallel);
    }

    /** Sessions computed together in one batched forward pass (continuous batching); ≤ 1: each on its own. */
    public LoadOptions withParallel(int n) {
        return new LoadOptions(backend, device, threads, tokenizer, contextLength, notices, kvType, n);
    }
}
