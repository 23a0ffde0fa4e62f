package dev.infercl.api;

import dev.infercl.backend.Backend;
import dev.infercl.engine.Scheduler;
import dev.infercl.model.LoraAdapter;
import dev.infercl.model.LoraMerge;
import dev.infercl.model.ModelConfig;
import dev.infercl.model.ModelFile;
import dev.infercl.model.Transformer;
import dev.infercl.model.Weights;
import dev.infercl.tokenizer.ChatTemplate;
import dev.infercl.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A loaded model: its file (memory-mapped), tokenizer, backend and weights. Open {@link Session}s to generate.
 *
 * <pre>{@code
 * var reply = new StringBuilder();
 * try (Model model = Model.load(Path.of("model.gguf"));
 *      Session session = model.newSession()) {
 *     session.generate("Once upon a time", GenerateOptions.greedy(100), (id, text) -> reply.append(text));
 * }
 * }</pre>
 *
 * <h2>Threads</h2>
 *
 * A model is thread-safe: any number of threads may each generate with their own {@link Session}s of one model at
 * once. The model's sessions share its backend, which computes for one thread at a time, so the model holds one fair
 * lock around every step that touches it — a prefill chunk or one decode token (with the read of its logits), the
 * creation and the closing of a session (which allocate and free its KV cache). Sessions of different threads
 * therefore take turns step by step: eight threads generating make progress together, each token exactly the one
 * it would be alone. Sampling, detokenizing and listener callbacks run outside the lock.
 *
 * <p>Throughput: by default one model computes one step at a time, so threads share its speed rather than multiply
 * it. Loaded with {@link LoadOptions#withParallel(int) parallel} N &gt; 1, the model instead keeps one KV cache of N
 * contexts that its sessions share, and the generations of different threads run through a continuous-batching
 * {@link Scheduler}: each step is one batched forward pass over the next token of every generating session (and
 * chunks of new prompts), so the threads' tokens share one pass over the weights instead of one pass each. Each
 * session still samples with its own sampler, so its tokens are those it produces alone. A session then keeps its
 * conversation as tokens; its next {@link Session#generate} submits the whole conversation and the scheduler's prefix
 * cache reuses the whole blocks already computed, so only the new tokens (and the last partial block) are prefilled.
 * More generations than fit the cache wait in a bounded queue, beyond which {@link Session#generate} throws
 * {@link dev.infercl.engine.QueueFullException}; the steps run on the generating threads themselves (whichever holds
 * the lock steps for all), so the lock's rules above still hold.
 *
 * <p>{@link #close()} may be called from any thread, also while sessions generate: it waits for the step in
 * progress (never a whole generation), then frees the backend and the file. A session's next step then throws
 * {@link IllegalStateException} ("the model … is closed"), and so do {@link #newSession}; closing a session
 * afterwards does nothing. A {@link Session} itself is one sequence, used by one thread at a time (see its
 * Javadoc); {@link Session#cancel()} and {@link Session#close()} are the exceptions.
 */
public final class Model implements AutoCloseable {
    private final ModelFile file;
    private final Backend backend;
    private final Transformer transformer;
    private final LoadOptions options;
    /**
     * Held around every use of the backend by this model's sessions (see the class comment). Fair, so that a thread
     * stepping in a loop cannot keep the others waiting.
     */
    private final ReentrantLock lock = new ReentrantLock(true);
    private boolean closed;   // guarded by lock
    /** Runs the sessions' generations batched when loaded with parallel &gt; 1 (stepping under {@link #lock}), else null. */
    private final Scheduler scheduler;

    private Model(ModelFile file, Backend backend, Transformer transformer, LoadOptions options) {
        this.file = file;
        this.backend = backend;
        this.transformer = transformer;
        this.options = options;
        this.scheduler = options.parallel() > 1
                ? new Scheduler(transformer, Scheduler.Config.of(options.parallel(), contextOf(options, file.config())), lock)
                : null;
    }

    private static int contextOf(LoadOptions options, ModelConfig config) {
        return options.contextLength() > 0 ? options.contextLength() : config.defaultContext();
    }

    public static Model load(Path path) throws IOException {
        return load(path, LoadOptions.defaults());
    }

    public static Model load(Path path, LoadOptions options) throws IOException {
        ModelFile file = ModelFile.open(path, options.tokenizer());
        Backend backend = null;
        try {
            backend = Backends.create(options.backend(), options.device(), options.threads(), options.kvType(), options.notices());
            // a context the backend cannot hold is refused before the weights take its memory
            int ctx = options.contextLength() > 0 ? options.contextLength() : file.config().defaultContext();
            // (with parallel sessions: the shared cache of all their contexts)
            long all = (long) ctx * Math.max(1, options.parallel());
            if (all > Integer.MAX_VALUE) throw new IllegalArgumentException("parallel " + options.parallel() + " × a context of " + ctx + " is more than 2^31 positions");
            Transformer.requireFits(file.config(), backend, (int) all, Math.min(ctx, Session.MAX_BATCH));
            Weights weights = Weights.upload(file, backend);
            return new Model(file, backend, new Transformer(file.config(), weights, backend), options);
        } catch (IOException | RuntimeException e) {
            if (backend != null) backend.close();
            file.close();
            if (e instanceof dev.infercl.backend.DeviceOutOfMemoryException oom) {
                throw new dev.infercl.backend.DeviceOutOfMemoryException("loading model " + path.getFileName() + ": " + oom.getMessage(), oom.bytesNeeded(), oom);
            }
            throw e;
        }
    }

    /**
     * Loads a model onto a backend the caller built (for instance a decorator that observes every operation, as
     * quantization calibration does). The model owns the backend from then on and closes it with itself;
     * {@code options.backend()}, {@code device()} and {@code threads()} are ignored.
     */
    public static Model load(Path path, LoadOptions options, Backend backend) throws IOException {
        ModelFile file;
        try {
            file = ModelFile.open(path, options.tokenizer());
        } catch (IOException | RuntimeException e) {
            backend.close();
            throw e;
        }
        try {
            Weights weights = Weights.upload(file, backend);
            return new Model(file, backend, new Transformer(file.config(), weights, backend), options);
        } catch (IOException | RuntimeException e) {
            backend.close();
            file.close();
            throw e;
        }
    }

    public ModelConfig config() {
        return file.config();
    }

    public Tokenizer tokenizer() {
        return file.tokenizer();
    }

    /** The model's chat template, or the built-in one named (llama-2, llama-3, chatml, phi-3, gemma) when given. */
    public ChatTemplate chatTemplate(String name) throws IOException {
        return file.chatTemplate(name);
    }

    public Path path() {
        return file.path();
    }

    /** The backend computing this model, e.g. {@code cpu (2 threads, Vector API)}. */
    /**
     * Whether this is an encoder–decoder model (T5): {@link Session#generate} encodes the prompt and decodes from the
     * decoder start token; {@link Session#encode} then {@link Session#logits} gives teacher-forced decoder logits.
     */
    public boolean isEncoderDecoder() {
        return transformer.isEncoderDecoder();
    }

    /** The decoder's first input token of an encoder–decoder model, else −1. */
    public int decoderStartToken() {
        return transformer.decoderStart();
    }

    public String backendName() {
        return backend.name();
    }

    /**
     * A new conversation with its own KV cache, holding the configured context length, or by default the model's
     * trained context up to {@link ModelConfig#DEFAULT_CONTEXT} positions ({@link ModelConfig#defaultContext()}).
     */
    public Session newSession() {
        return newSession(options.contextLength() > 0 ? options.contextLength() : config().defaultContext());
    }

    /**
     * A new conversation holding {@code contextLength} positions. More than the model's trained context is
     * allowed (RoPE extrapolates), though quality may degrade past it. A context whose KV cache the backend cannot
     * hold is refused with {@link dev.infercl.backend.DeviceOutOfMemoryException} (the bytes it needs, the largest
     * context that fits) before anything is allocated.
     */
    public Session newSession(int contextLength) {
        if (contextLength < 1) throw new IllegalArgumentException("context length must be ≥ 1, got " + contextLength);
        if (scheduler != null) {
            if (contextLength > scheduler.config().contextLength()) {
                throw new IllegalArgumentException("a context of " + contextLength + " tokens; this model was loaded for sessions of at most "
                        + scheduler.config().contextLength() + " (LoadOptions.withContextLength)");
            }
            return compute(() -> new Session(this, null, contextLength));
        }
        return compute(() -> new Session(this, transformer.newState(contextLength, Math.min(contextLength, Session.MAX_BATCH)), contextLength));
    }

    /**
     * Loads a LoRA adapter (llama.cpp's GGUF adapter format) for this model and uploads it beside the weights, which
     * stay as they are. Activate it per session, at a scale, with {@link Session#setAdapters}; one adapter serves any
     * number of sessions. Its tensors are freed with the model.
     *
     * @throws dev.infercl.model.AdapterException when the file is no LoRA adapter, is for another architecture, or has
     *         a tensor the model has no weight for or of the wrong shape (the message names the field or tensor)
     */
    public LoraAdapter loadAdapter(Path path) throws IOException {
        lock.lock();
        try {
            requireOpen();
            return LoraAdapter.load(path, config(), transformer.weights(), backend);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writes this model's GGUF file with the adapters folded into its weights ({@link LoraMerge#write}): W + s·B·A,
     * merged weights in their own type where it is F32, F16 or BF16, else F16, or in {@code type} (F32 or F16) when
     * given. Returns the merged tensors and their types.
     */
    public LoraMerge.Result mergeAdapters(java.util.List<LoraAdapter.Scaled> adapters, Path out, dev.infercl.gguf.GgmlType type) throws IOException {
        for (LoraAdapter.Scaled a : adapters) {
            if (a.adapter().weights() != transformer.weights()) throw new IllegalArgumentException(a.adapter() + " was loaded for another model");
        }
        return LoraMerge.write(file, adapters, out, type);
    }

    /** The continuous-batching scheduler, or null when the model was loaded with parallel ≤ 1. */
    Scheduler scheduler() {
        return scheduler;
    }

    /**
     * What a server publishes about the batched generations (KV blocks held and cached, queue depth, prefix-cache
     * hits), or null when the model was loaded with parallel ≤ 1.
     */
    public Scheduler.Stats batchingStats() {
        return scheduler == null ? null : scheduler.stats();
    }

    Transformer transformer() {
        return transformer;
    }

    /**
     * An embedding of {@code text}: the hidden states after the final norm (the classifier's input), pooled over
     * the text's tokens (BOS included when the tokenizer adds one by default) and L2-normalised, {@code dim} values.
     * Works for any decoder model, on every backend; the text runs in a sequence of its own (its KV cache sized to
     * the text, freed afterwards), one chunk of up to 512 tokens per step under the model's lock, so it interleaves
     * with generating sessions like any step.
     *
     * @throws IllegalArgumentException when the text has no tokens
     */
    public float[] embed(String text, Pooling pooling) {
        return embed(tokenizer().encode(text, tokenizer().addBosByDefault(), false), pooling);
    }

    /** {@link #embed(String, Pooling)} of token ids. */
    public float[] embed(int[] ids, Pooling pooling) {
        if (ids.length == 0) throw new IllegalArgumentException("nothing to embed: the text has no tokens");
        int dim = config().dim(), batch = Math.min(ids.length, Session.MAX_BATCH);
        Transformer.State state = compute(() -> transformer.newState(ids.length, batch));
        try {
            double[] sum = new double[dim];
            float[] rows = new float[batch * dim];
            for (int from = 0; from < ids.length; from += batch) {
                int[] chunk = java.util.Arrays.copyOfRange(ids, from, Math.min(ids.length, from + batch));
                float[] read = chunk.length == batch ? rows : new float[chunk.length * dim];
                compute(() -> {
                    backend.read(transformer.forward(state, chunk, Transformer.Output.HIDDEN).firstRows(chunk.length), read);
                    return null;
                });
                if (pooling == Pooling.MEAN) {
                    for (int r = 0; r < chunk.length; r++) for (int c = 0; c < dim; c++) sum[c] += read[r * dim + c];
                } else if (from + chunk.length == ids.length) {
                    for (int c = 0; c < dim; c++) sum[c] = read[(chunk.length - 1) * dim + c];
                }
            }
            double norm = 0;
            for (double v : sum) norm += v * v;
            norm = Math.sqrt(norm);
            float[] out = new float[dim];
            for (int c = 0; c < dim; c++) out[c] = norm == 0 ? 0f : (float) (sum[c] / norm);   // the mean's 1/n cancels
            return out;
        } finally {
            withLock(() -> {
                if (!closed) state.close();
            });
        }
    }

    /**
     * Runs {@code op} holding the model's lock, with the backend to itself: every use of the backend goes through
     * here. Throws {@link IllegalStateException} when the model is closed.
     */
    <T> T compute(Supplier<T> op) {
        lock.lock();
        try {
            requireOpen();
            return op.get();
        } finally {
            lock.unlock();
        }
    }

    /** Runs {@code op} holding the model's lock, whether or not the model is closed (to close a session). */
    void withLock(Runnable op) {
        lock.lock();
        try {
            op.run();
        } finally {
            lock.unlock();
        }
    }

    /** Whether the model is closed; the caller holds the lock. */
    boolean isClosed() {
        assert lock.isHeldByCurrentThread();
        return closed;
    }

    /** Whether the model is closed, taking the lock. */
    boolean closedNow() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    void requireOpen() {
        if (closed) throw new IllegalStateException("the model " + file.path().getFileName() + " is closed");
    }

    /**
     * Frees the backend (every session's KV cache with it) and unmaps the file. Waits for the step in progress, if
     * any; the open sessions' next steps throw {@link IllegalStateException}. Closing again does nothing.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            try {
                if (scheduler != null) scheduler.close();   // fails the running generations, frees the shared cache
                backend.close();
            } finally {
                file.close();
            }
        } finally {
            lock.unlock();
        }
    }
}
