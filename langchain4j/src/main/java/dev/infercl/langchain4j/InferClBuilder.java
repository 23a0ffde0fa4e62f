package dev.infercl.langchain4j;

import dev.infercl.api.BackendKind;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.backend.KvType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * What every InferCL model for LangChain4j is built from: a GGUF file that it loads (and closes with itself), or an
 * already loaded {@link Model} that it borrows (and leaves open), so that a chat model and an embedding model can
 * share one copy of the weights.
 *
 * @param <B> the concrete builder
 */
public abstract class InferClBuilder<B extends InferClBuilder<B>> {
    Path modelPath;
    Model model;
    BackendKind backend = BackendKind.AUTO;
    String device;
    int threads;
    int contextLength;
    int parallel;
    KvType kvType;
    Consumer<String> notices;
    String modelName;

    InferClBuilder(int defaultParallel) {
        this.parallel = defaultParallel;
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /** The GGUF file to load (a llama2.c checkpoint needs {@link Model#load(Path, LoadOptions)} and {@link #model}). */
    public B modelPath(Path path) {
        this.modelPath = path;
        return self();
    }

    /** The GGUF file to load. */
    public B modelPath(String path) {
        return modelPath(Path.of(path));
    }

    /**
     * An already loaded model to use instead of loading one; it stays the caller's ({@code close()} leaves it open).
     * Load it with {@link LoadOptions#withParallel(int)} for concurrent chat calls to share batched steps.
     */
    public B model(Model model) {
        this.model = model;
        return self();
    }

    /** Which backend computes: AUTO (default: OpenCL where there is a device, else the CPU), OPENCL, CPU, REFERENCE. */
    public B backend(BackendKind backend) {
        this.backend = Objects.requireNonNull(backend, "backend");
        return self();
    }

    /** OpenCL device index or name fragment (default: the best one). */
    public B device(String device) {
        this.device = device;
        return self();
    }

    /** CPU backend threads (default: all cores). */
    public B threads(int threads) {
        this.threads = threads;
        return self();
    }

    /** Positions each conversation holds (default: the model's trained context, at most 4096). */
    public B contextLength(int contextLength) {
        this.contextLength = contextLength;
        return self();
    }

    /**
     * Conversations computed together: with N &gt; 1 the model runs concurrent calls through InferCL's
     * continuous-batching scheduler (one batched forward pass per step over every call's next token), in one KV cache
     * of N contexts; calls beyond N wait in a bounded queue. 1: one call computes at a time.
     */
    public B parallel(int parallel) {
        if (parallel < 1) throw new IllegalArgumentException("parallel must be ≥ 1, got " + parallel);
        this.parallel = parallel;
        return self();
    }

    /** How an OpenCL device stores the KV cache (default FP16). */
    public B kvType(KvType kvType) {
        this.kvType = kvType;
        return self();
    }

    /** Receives InferCL's one-line notices (for instance why AUTO fell back to the CPU). */
    public B notices(Consumer<String> notices) {
        this.notices = notices;
        return self();
    }

    /** The name responses report (default: the file name without {@code .gguf}). */
    public B modelName(String name) {
        this.modelName = name;
        return self();
    }

    /** The model to use: the borrowed one, or the file loaded with these settings. */
    Engine engine() {
        if (model != null) {
            if (modelPath != null) throw new IllegalArgumentException("give either modelPath or model, not both");
            return new Engine(model, false, modelName);
        }
        if (modelPath == null) throw new IllegalArgumentException("modelPath (a GGUF file) or model is required");
        var options = LoadOptions.defaults().withBackend(backend).withContextLength(contextLength).withKvType(kvType)
                .withParallel(parallel);
        options = new LoadOptions(options.backend(), device, threads, null, options.contextLength(), notices, options.kvType(), options.parallel());
        try {
            return new Engine(Model.load(modelPath, options), true, modelName);
        } catch (IOException e) {
            throw new UncheckedIOException("loading " + modelPath + ": " + e.getMessage(), e);
        }
    }
}
