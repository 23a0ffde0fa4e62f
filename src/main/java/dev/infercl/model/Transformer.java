package dev.infercl.model;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.Capacity;
import dev.infercl.backend.ContextFullException;
import dev.infercl.backend.DeviceOutOfMemoryException;
import dev.infercl.backend.Elementwise;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Norm;
import dev.infercl.backend.RelativeBias;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;

/**
 * The forward pass of a decoder-only transformer over a {@link Backend}: the only code that knows the layer
 * order. Architectures differ only through their {@link Architecture} description (norm kind, fused tensors,
 * biases, activation, extra norms, positions, caps, windows). It never touches floats itself, so a device
 * backend keeps every activation on the device.
 *
 * <p>An encoder–decoder model (T5, {@link Architecture#encoderDecoder()}) runs the same layer loop as its decoder,
 * with two differences given as data to the same ops: self-attention adds a causal relative-position bias, and each
 * layer then cross-attends to the encoder output through a second KV cache that {@link #encode} fills once per
 * request (its K/V are never recomputed per token). {@link #encode} runs the encoder: the source as one batch,
 * unmasked self-attention with a bidirectional bias, then the final norm.
 */
public final class Transformer {
    /** Positions per KV-cache block. */
    public static final int KV_BLOCK_SIZE = 16;

    /** T5's relative distance where the logarithmic buckets end (fixed in T5 and in llama.cpp, not in the file). */
    public static final int T5_MAX_DISTANCE = 128;

    private final ModelConfig config;
    private final Architecture arch;
    private final Weights weights;
    private final Backend backend;

    public Transformer(ModelConfig config, Weights weights, Backend backend) {
        this.config = config;
        this.arch = config.arch();
        this.weights = weights;
        this.backend = backend;
        if (arch.encoderDecoder() && weights.seq2seq() == null) {
            throw new IllegalArgumentException(arch.name() + " is an encoder–decoder architecture but the weights have no encoder");
        }
    }

    /** Whether this is an encoder–decoder model (T5): {@link #encode} the source, then decode from {@link #decoderStart()}. */
    public boolean isEncoderDecoder() {
        return weights.seq2seq() != null;
    }

    /** The decoder's first input token (T5's {@code decoder_start_token_id}); −1 for a decoder-only model. */
    public int decoderStart() {
        return weights.seq2seq() == null ? -1 : weights.seq2seq().decoderStart();
    }

    /**
     * The rotary embedding of a sequence holding {@code contextLength} positions (null when positions are learned):
     * the file's scaling ({@link RopeScaling#spec}) and frequency factors — Llama 3's {@code rope_freqs}, or Phi-3's
     * long factors when the sequence holds more than {@code rope.scaling.original_context_length} positions and its
     * short factors otherwise. That is llama.cpp's rule, which decides it from the context size it is given at load;
     * here the context is the state's, so {@code Model.newSession()}'s configured context decides it.
     */
    public RopeSpec rope(int contextLength) {
        if (arch.rope() == Architecture.Rope.NONE) return null;
        RopeScaling scaling = config.ropeScaling();
        float[] factors = weights.ropeFreqs();
        if (factors == null && weights.ropeLong() != null) {
            factors = contextLength > scaling.originalContext(config.contextLength()) ? weights.ropeLong() : weights.ropeShort();
        }
        return new RopeSpec(config.headDim(), config.ropeDims(), config.ropeBase(), arch.rope() == Architecture.Rope.NEOX, factors,
                scaling.spec(config.ropeDims(), config.ropeBase(), config.contextLength()));
    }

    public ModelConfig config() {
        return config;
    }

    public Backend backend() {
        return backend;
    }

    public Weights weights() {
        return weights;
    }

    /**
     * Activation buffers for up to {@code maxBatch} rows per forward call and the logits of up to {@code logitRows}
     * of them — allocated once, reused by every call.
     */
    abstract class Buffers implements AutoCloseable {
        final int maxBatch, logitRows, contextLength;
        final Tensor x, xb, q, k, v, att, hb;       // (maxBatch, width): dim, dim, qDim, kvDim, kvDim, qDim, ffn
        final Tensor hb2;                           // (maxBatch, ffn) when the FFN is not a gated product, else null
        final Tensor qkv;                           // (maxBatch, qDim + 2·kvDim) when Q, K, V are fused, else null
        final Tensor upBoth;                        // (maxBatch, 2·ffn) when gate and up are fused, else null
        final Tensor pos;                           // (maxBatch, dim) learned position rows, else null
        final Tensor last;                          // (logitRows, dim): the rows whose logits a step needs
        final Tensor logitsOne;                     // (logitRows, vocab)
        Tensor logitsAll;                           // (≤ maxBatch, vocab), allocated when a call asks for every row's logits
        boolean closed;
        final AttentionSpec full, sliding;          // their rope is null when positions are learned
        LoraSet lora;                               // the adapters this state runs with, or null
        final java.util.Map<Integer, java.util.List<Tensor>> loraMid = new java.util.HashMap<>();  // rank → (maxBatch, rank) each: A·x
        Tensor loraUp;                              // (maxBatch, ffn): the up product when an adapter unfuses a gated FFN

        /** Allocates the buffers; on failure frees what it allocated and runs {@code onFailure} (the cache's close). */
        Buffers(int contextLength, int maxBatch, int logitRows, Runnable onFailure) {
            this.maxBatch = maxBatch;
            this.logitRows = logitRows;
            this.contextLength = contextLength;
            RopeSpec rope = rope(contextLength);
            this.full = new AttentionSpec(config.attnScale(), config.attnSoftcap(), 0, rope);
            this.sliding = new AttentionSpec(config.attnScale(), config.attnSoftcap(), config.slidingWindow(), rope);
            var made = new java.util.ArrayList<Tensor>();
            try {
                x = add(made, "x", maxBatch, config.dim());
                xb = add(made, "xb", maxBatch, config.dim());
                q = add(made, "q", maxBatch, config.qDim());
                k = add(made, "k", maxBatch, config.kvDim());
                v = add(made, "v", maxBatch, config.kvDim());
                att = add(made, "att", maxBatch, config.qDim());
                hb = add(made, "hb", maxBatch, config.ffnDim());
                boolean gated = arch.ffn() == Architecture.Ffn.SWIGLU || arch.ffn() == Architecture.Ffn.GEGLU;   // else hb2 holds the up product
                hb2 = gated ? null : add(made, "hb2", maxBatch, config.ffnDim());
                qkv = arch.fusedQkv() ? add(made, "qkv", maxBatch, config.qDim() + 2 * config.kvDim()) : null;
                upBoth = arch.ffn() == Architecture.Ffn.SWIGLU_FUSED ? add(made, "gate_up", maxBatch, 2 * config.ffnDim()) : null;
                pos = arch.learnedPositions() ? add(made, "pos", maxBatch, config.dim()) : null;
                last = add(made, "last", logitRows, config.dim());
                logitsOne = add(made, "logits", logitRows, config.vocabSize());
            } catch (RuntimeException | Error e) {
                for (Tensor t : made) backend.free(t);
                onFailure.run(); // the cache is the state's largest buffer: not left held by a state never returned
                throw e;
            }
        }

        private Tensor add(java.util.List<Tensor> made, String name, int rows, int cols) {
            Tensor t = backend.allocate(name, rows, cols);
            made.add(t);
            return t;
        }

        public int contextLength() {
            return contextLength;
        }

        public int maxBatch() {
            return maxBatch;
        }

        /**
         * Runs the sequence with these LoRA adapters from the next forward call on (null: none). The KV cache keeps
         * the positions computed before, with whatever adapters were active then.
         */
        public void setLora(LoraSet lora) {
            if (lora != null && isEncoderDecoder()) throw new UnsupportedOperationException("LoRA adapters on an encoder–decoder model are not supported");
            this.lora = lora;
        }

        public LoraSet lora() {
            return lora;
        }

        /** The j-th (maxBatch, rank) buffer for A·x, allocated on first use. */
        Tensor loraMid(int rank, int j) {
            var list = loraMid.computeIfAbsent(rank, r -> new java.util.ArrayList<>());
            while (list.size() <= j) list.add(backend.allocate("lora.mid" + rank + "." + list.size(), maxBatch, rank));
            return list.get(j);
        }

        /** Frees every activation buffer (not the cache). */
        void freeBuffers() {
            for (Tensor t : new Tensor[] {x, xb, q, k, v, att, hb, hb2, qkv, upBoth, pos, last, logitsOne, logitsAll, loraUp}) {
                if (t != null) backend.free(t);
            }
            for (var list : loraMid.values()) for (Tensor t : list) backend.free(t);
            loraMid.clear();
        }
    }

    /** Per-sequence state: the sequence's own KV cache and block table, and activation buffers for {@code maxBatch} tokens per call. */
    public final class State extends Buffers {
        final KvCache cache;
        final BlockTable table;
        KvCache crossCache;      // encoder–decoder: (layers, encoder positions) cross-attention K/V, filled by encode
        BlockTable crossTable;
        int crossKeys;           // encoder positions in crossCache; 0 before encode

        State(int contextLength, int maxBatch) {
            this(contextLength, maxBatch, backend.createKvCache(kvLayout(config, Math.ceilDiv(contextLength, KV_BLOCK_SIZE))));
        }

        private State(int contextLength, int maxBatch, KvCache cache) {
            super(contextLength, maxBatch, 1, cache::close);
            this.cache = cache;
            this.table = new BlockTable(cache.pool(), KV_BLOCK_SIZE);
        }

        /** Tokens held in the KV cache. */
        public int length() {
            return table.length();
        }

        /** Encoder positions the decoder cross-attends to (0 before {@link #encode}). */
        public int encoderLength() {
            return crossKeys;
        }

        void dropCross() {
            if (crossTable != null) crossTable.release();
            if (crossCache != null) crossCache.close();
            crossTable = null;
            crossCache = null;
            crossKeys = 0;
        }

        /** Forgets positions from {@code tokens} on (e.g. to restart a conversation). */
        public void truncate(int tokens) {
            table.truncate(tokens);
        }

        /** Frees the KV cache and every activation buffer; closing again does nothing, a forward call afterwards throws. */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            table.release();
            cache.close();
            dropCross();
            freeBuffers();
        }
    }

    /**
     * State of a batched forward pass over several sequences sharing one paged KV cache (continuous batching): up to
     * {@code maxBatch} rows per call, the logits of up to {@code logitRows} of them. The caller (a scheduler) owns the
     * cache and the sequences' block tables; the state holds only activations.
     */
    public final class BatchState extends Buffers {
        BatchState(int contextLength, int maxBatch, int logitRows) {
            super(contextLength, maxBatch, logitRows, () -> {});
        }

        /** Frees the activation buffers (the cache is the caller's). */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            freeBuffers();
        }
    }

    /**
     * A paged KV cache of {@code blocks} blocks of {@link #KV_BLOCK_SIZE} positions, for sequences that share it
     * through their own block tables; refused like a state's ({@link #requireFits}) when the backend cannot hold it.
     */
    public KvCache newSharedCache(int blocks) {
        if (isEncoderDecoder()) throw new UnsupportedOperationException("batched sequences of an encoder–decoder model are not supported");
        if (blocks < 1) throw new IllegalArgumentException("a KV cache needs at least 1 block, got " + blocks);
        requireFits(config, backend, Math.multiplyExact(blocks, KV_BLOCK_SIZE), 1);
        return backend.createKvCache(kvLayout(config, blocks));
    }

    /**
     * Activations for batched forward calls of up to {@code maxBatch} rows, with logits for up to {@code logitRows};
     * {@code contextLength} is the longest sequence (it picks Phi-3's rope factors).
     */
    public BatchState newBatchState(int contextLength, int maxBatch, int logitRows) {
        if (contextLength < 1 || maxBatch < 1 || logitRows < 1 || logitRows > maxBatch) {
            throw new IllegalArgumentException("a batch state needs a context, rows and logit rows (≤ rows) of at least 1, got "
                    + contextLength + ", " + maxBatch + " and " + logitRows);
        }
        return new BatchState(contextLength, maxBatch, logitRows);
    }

    /**
     * A new sequence state with room for {@code contextLength} positions, processing up to {@code maxBatch} tokens per
     * call; refused before anything is allocated when the backend cannot hold it ({@link #requireFits}).
     */
    public State newState(int contextLength, int maxBatch) {
        if (contextLength < 1 || maxBatch < 1) {
            throw new IllegalArgumentException("a state needs a context and a batch of at least 1, got " + contextLength + " and " + maxBatch);
        }
        if (arch.learnedPositions() && contextLength > config.contextLength()) {
            throw new IllegalArgumentException("this model learned " + config.contextLength() + " positions; a context of "
                    + contextLength + " needs positions it has no embedding for");
        }
        requireFits(config, backend, contextLength, maxBatch);
        return new State(contextLength, maxBatch);
    }

    private static KvLayout kvLayout(ModelConfig c, int blocks) {
        return new KvLayout(c.layers(), c.kvHeads(), c.headDim(), KV_BLOCK_SIZE, blocks);
    }

    /** Bytes of a state's F32 activation buffers (the ones {@link State} allocates up front). */
    static long activationBytes(ModelConfig c, int maxBatch) {
        Architecture a = c.arch();
        long perRow = 2L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + c.ffnDim();
        if (a.ffn() == Architecture.Ffn.GELU || a.ffn() == Architecture.Ffn.RELU || a.ffn() == Architecture.Ffn.SWIGLU_FUSED) perRow += c.ffnDim();
        if (a.fusedQkv()) perRow += c.qDim() + 2L * c.kvDim();
        if (a.ffn() == Architecture.Ffn.SWIGLU_FUSED) perRow += 2L * c.ffnDim();
        if (a.learnedPositions()) perRow += c.dim();
        return 4L * (perRow * maxBatch + c.dim() + c.vocabSize());
    }

    /**
     * Refuses, with {@link DeviceOutOfMemoryException}, a context whose KV cache and activations the backend cannot
     * hold: more bytes than it has free, or one layer's keys larger than its largest buffer. The message names the
     * context, the bytes it needs, the memory and the largest context that fits (as {@code -c N}). Exact arithmetic
     * throughout, so a context of 2³¹−1 positions is a number of bytes, not an overflow. Backends that cannot say
     * what they hold (not {@link Capacity}) are not checked.
     */
    public static void requireFits(ModelConfig config, Backend backend, int contextLength, int maxBatch) {
        if (!(backend instanceof Capacity cap)) return;
        int blocks = Math.ceilDiv(contextLength, KV_BLOCK_SIZE);
        long act = activationBytes(config, maxBatch);
        KvLayout one = kvLayout(config, 1);
        long perBlock = saturate(() -> cap.kvCacheBytes(one)), perBlockBuffer = saturate(() -> cap.kvBufferBytes(one));
        long need = saturate(() -> Math.addExact(Math.multiplyExact(perBlock, (long) blocks), act));
        long buffer = saturate(() -> Math.multiplyExact(perBlockBuffer, (long) blocks));
        long maxBuffer = cap.maxBufferBytes();
        long free = cap.freeBytes();
        if (need > free && buffer <= maxBuffer) {
            System.gc(); // the JVM heap's free bytes count garbage as used: measure again before refusing
            free = cap.freeBytes();
        }
        if (need <= free && buffer <= maxBuffer) return;
        long fitBlocks = Math.min(Math.max(free - act, 0) / Math.max(perBlock, 1), maxBuffer / Math.max(perBlockBuffer, 1));
        long fit = Math.min(fitBlocks, Integer.MAX_VALUE / KV_BLOCK_SIZE) * KV_BLOCK_SIZE;
        String what = "a context of " + contextLength + " tokens needs " + (need == Long.MAX_VALUE ? "more than 2^63 bytes" : Capacity.bytes(need))
                + " (keys and values of " + config.layers() + " layers × " + (long) blocks * KV_BLOCK_SIZE + " positions × " + config.kvHeads()
                + " KV heads × " + config.headDim() + " values, and " + Capacity.bytes(act) + " of activations)";
        String why = need > free
                ? ", more than the " + Capacity.bytes(Math.max(free, 0)) + " free in " + cap.memoryName()
                : "; one layer's keys alone take " + Capacity.bytes(buffer) + ", more than the largest buffer of " + cap.memoryName();
        String hint = fit >= KV_BLOCK_SIZE ? "; at most " + fit + " tokens fit: -c " + fit : "; not even " + KV_BLOCK_SIZE + " positions fit";
        String more = cap.moreMemoryHint().isEmpty() ? "" : "; " + cap.moreMemoryHint();
        throw new DeviceOutOfMemoryException(what + why + hint + more, need, null);
    }

    /** The value, or Long.MAX_VALUE when it overflows a long (a size past any memory). */
    private static long saturate(java.util.function.LongSupplier size) {
        try {
            return size.getAsLong();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /**
     * Feeds {@code tokens} (at most maxBatch) at the next positions of the sequence and returns the logits:
     * of every token (rows = tokens.length) when {@code allLogits}, else of the last token only (one row).
     * The returned tensor belongs to the state and is overwritten by the next call.
     */
    public Tensor forward(State s, int[] tokens, boolean allLogits) {
        return forward(s, tokens, allLogits ? Output.ALL_LOGITS : Output.LAST_LOGITS);
    }

    /** What a forward call returns: the logits of the last token or of every token, or the final-normed hidden rows. */
    public enum Output { LAST_LOGITS, ALL_LOGITS, HIDDEN }

    /**
     * As {@link #forward(State, int[], boolean)}; {@link Output#HIDDEN} returns the rows after the final norm,
     * (tokens.length, dim), the classifier's input (embeddings pool them), and computes no logits.
     */
    public Tensor forward(State s, int[] tokens, Output output) {
        boolean allLogits = output == Output.ALL_LOGITS;
        int n = tokens.length, start = s.table.length();
        if (s.closed) throw new IllegalStateException("this sequence state is closed");
        if (n == 0 || n > s.maxBatch) throw new IllegalArgumentException("a forward call takes 1.." + s.maxBatch + " tokens, got " + n);
        if (isEncoderDecoder() && s.crossKeys == 0) {
            throw new IllegalStateException("an encoder–decoder model decodes after its encoder has read a source (Session.encode or generate)");
        }
        if (start + n > s.contextLength) {
            throw new ContextFullException("the context holds " + s.contextLength + " tokens; " + start + " are used and " + n + " more do not fit");
        }
        int[] positions = new int[n];
        for (int t = 0; t < n; t++) positions[t] = start + t;
        s.table.reserve(start + n);
        Tensor logits = layers(s, tokens, new Batch(positions, s.table), s.cache, allLogits ? -1 : n - 1, 1, output == Output.HIDDEN);
        s.table.setLength(start + n);
        return logits;
    }

    /**
     * One forward call over rows of several sequences sharing {@code cache} (continuous batching): row t is token
     * {@code tokens[t]} at position {@code batch.positions()[t]} of sequence {@code batch.seqs()[t]}. The caller has
     * reserved every row's position in its table and records the new lengths afterwards. Returns the logits of the
     * first {@code logitRows} rows (put the rows whose next token is wanted first); the tensor belongs to the state.
     */
    public Tensor forward(BatchState s, KvCache cache, int[] tokens, Batch batch, int logitRows) {
        int n = tokens.length;
        if (s.closed) throw new IllegalStateException("this batch state is closed");
        if (n == 0 || n > s.maxBatch || n != batch.size()) {
            throw new IllegalArgumentException("a batched forward call takes 1.." + s.maxBatch + " tokens, one per batch row; got " + n + " for " + batch.size() + " rows");
        }
        if (logitRows < 1 || logitRows > Math.min(n, s.logitRows)) {
            throw new IllegalArgumentException("logits of 1.." + Math.min(n, s.logitRows) + " rows, asked for " + logitRows);
        }
        return layers(s, tokens, batch, cache, 0, logitRows, false);
    }

    /**
     * Encoder–decoder models: runs the encoder over {@code source} (one batch, every position seeing every other, with
     * the bidirectional relative-position bias), then computes each decoder layer's cross-attention K and V from the
     * normed encoder output once, into the state's cross-attention cache, where every later decode step reads them.
     * The state's decoder sequence restarts (length 0): feed {@link #decoderStart()} next.
     */
    public void encode(State s, int[] source) {
        var t5 = weights.seq2seq();
        if (t5 == null) throw new UnsupportedOperationException("a decoder-only model has no encoder");
        if (s.closed) throw new IllegalStateException("this sequence state is closed");
        int n = source.length;
        if (n == 0) throw new IllegalArgumentException("the encoder needs at least one token");
        int[] positions = new int[n];
        for (int t = 0; t < n; t++) positions[t] = t;
        int blocks = Math.ceilDiv(n, KV_BLOCK_SIZE);
        s.table.truncate(0);
        s.dropCross();
        var made = new java.util.ArrayList<Tensor>();
        KvCache encCache = backend.createKvCache(kvLayout(config, blocks));
        BlockTable encTable = new BlockTable(encCache.pool(), KV_BLOCK_SIZE);
        try {
            Tensor x = tmp(made, "enc.x", n, config.dim()), xb = tmp(made, "enc.xb", n, config.dim()), q = tmp(made, "enc.q", n, config.qDim());
            Tensor k = tmp(made, "enc.k", n, config.kvDim()), v = tmp(made, "enc.v", n, config.kvDim()), att = tmp(made, "enc.att", n, config.qDim());
            Tensor hb = tmp(made, "enc.hb", n, config.ffnDim()), hb2 = arch.gatedFfn() ? null : tmp(made, "enc.hb2", n, config.ffnDim());
            encTable.reserve(n);
            encTable.setLength(n);
            var batch = new Batch(positions, encTable);
            AttentionSpec unmasked = s.full.unmasked(n);
            // x = E[source]
            backend.embed(x, weights.tokenEmbedding(), source);
            for (int l = 0; l < t5.encoder().length; l++) {
                Weights.Layer w = t5.encoder()[l];
                // self-attention, unmasked, with the bidirectional bias: x += Wo · attention(q, k, v), q, k, v of norm(x)
                backend.norm(xb, x, Norm.rms(w.attnNorm(), config.normEps()));
                backend.linear(xb, Linear.of(q, w.wq(), null), Linear.of(k, w.wk(), null), Linear.of(v, w.wv(), null));
                backend.attention(att, q, k, v, encCache, l, batch, unmasked.withBias(new RelativeBias(t5.encoderBias()[l], t5.buckets(), true, T5_MAX_DISTANCE)));
                residual(s, x, att, w.wo(), null, null, xb);
                // feed-forward: x += W_down · (gelu(W_gate·h) ⊙ W_up·h), or W_down · relu(W_up·h) (T5 v1.0), h = norm(x)
                backend.norm(xb, x, Norm.rms(w.ffnNorm(), config.normEps()));
                if (hb2 == null) {
                    backend.gatedLinear(hb, xb, w.gate(), w.up(), Elementwise.GELU_MUL);
                } else {
                    backend.linear(xb, Linear.of(hb2, w.up(), null));
                    backend.map(hb, Elementwise.RELU, hb2, null);
                }
                residual(s, x, hb, w.down(), null, null, xb);
            }
            // the encoder output E = norm(x), then each decoder layer's cross-attention K = E·Wkᵀ, V = E·Wvᵀ, stored once
            backend.norm(xb, x, Norm.rms(t5.encoderNorm(), config.normEps()));
            s.crossCache = backend.createKvCache(kvLayout(config, blocks));
            s.crossTable = new BlockTable(s.crossCache.pool(), KV_BLOCK_SIZE);
            s.crossTable.reserve(n);
            s.crossTable.setLength(n);
            var crossBatch = new Batch(positions, s.crossTable);
            for (int l = 0; l < config.layers(); l++) {
                Weights.Cross c = t5.cross()[l];
                backend.linear(xb, Linear.of(k, c.wk(), null), Linear.of(v, c.wv(), null));
                backend.attention(null, null, k, v, s.crossCache, l, crossBatch, unmasked);
            }
            s.crossKeys = n;
        } catch (RuntimeException | Error e) {
            s.dropCross();
            throw e;
        } finally {
            for (Tensor t : made) backend.free(t);
            encTable.release();
            encCache.close();
        }
    }

    private Tensor tmp(java.util.List<Tensor> made, String name, int rows, int cols) {
        Tensor t = backend.allocate(name, rows, cols);
        made.add(t);
        return t;
    }

    /**
     * The layers over the batch's rows, then the classifier: for every row when {@code from} is −1, else for rows
     * from..from+count−1; or, when {@code hidden}, no classifier: every row after the final norm.
     */
    private Tensor layers(Buffers s, int[] tokens, Batch batch, KvCache cache, int from, int count, boolean hidden) {
        int n = tokens.length;
        int[] positions = batch.positions();
        Tensor x = s.x.firstRows(n), xb = s.xb.firstRows(n), q = s.q.firstRows(n), k = s.k.firstRows(n), v = s.v.firstRows(n);
        Tensor att = s.att.firstRows(n), hb = s.hb.firstRows(n), hb2 = s.hb2 == null ? null : s.hb2.firstRows(n);
        // embeddings: x = E[tokens] (· √dim for Gemma) (+ P[positions] for learned positions)
        backend.embed(x, weights.tokenEmbedding(), tokens);
        if (arch.scaleEmbedding()) backend.map(x, Elementwise.scale((float) Math.sqrt(config.dim())), x, null);
        if (s.pos != null) {
            backend.embed(s.pos.firstRows(n), weights.positionEmbedding(), positions);
            backend.map(x, Elementwise.ADD, x, s.pos.firstRows(n));
        }
        for (int l = 0; l < config.layers(); l++) {
            Weights.Layer w = weights.layers()[l];
            // attention: x += Wo · attention(rope(q), rope(k), v) with q, k, v projections of norm(x)
            backend.norm(xb, x, norm(w.attnNorm(), w.attnNormBias()));
            if (s.qkv != null) {
                Tensor qkv = s.qkv.firstRows(n);
                linear(s, xb, Linear.of(qkv, w.wqkv(), w.bqkv()));
                backend.copy(q, qkv, 0, 0);
                backend.copy(k, qkv, 0, config.qDim());
                backend.copy(v, qkv, 0, config.qDim() + config.kvDim());
            } else {
                linear(s, xb, Linear.of(q, w.wq(), w.bq()), Linear.of(k, w.wk(), w.bk()), Linear.of(v, w.wv(), w.bv()));
            }
            if (w.qNorm() != null) {
                backend.norm(q, q, Norm.rms(w.qNorm(), config.normEps()));   // per head: the weight is one head wide
                backend.norm(k, k, Norm.rms(w.kNorm(), config.normEps()));
            }
            AttentionSpec spec = arch.slides(l) && config.slidingWindow() > 0 ? s.sliding : s.full;
            var t5 = weights.seq2seq();
            if (t5 != null) spec = spec.withBias(new RelativeBias(t5.decoderBias()[l], t5.buckets(), false, T5_MAX_DISTANCE));
            backend.attention(att, q, k, v, cache, l, batch, spec);
            residual(s, x, att, w.wo(), w.bo(), w.postAttnNorm(), xb);

            if (t5 != null) {
                // cross-attention: x += Wo_c · attention(Wq_c · norm(x), K_c, V_c), K_c, V_c from the encoder output (encode)
                State st = (State) s;
                Weights.Cross c = t5.cross()[l];
                backend.norm(xb, x, Norm.rms(c.norm(), config.normEps()));
                backend.linear(xb, Linear.of(q, c.wq(), null));
                backend.attention(att, q, null, null, st.crossCache, l, new Batch(positions, st.crossTable), s.full.unmasked(st.crossKeys));
                residual(s, x, att, c.wo(), null, null, xb);
            }

            // feed-forward: x += W_down · act(W_gate·h, W_up·h), h = norm(x)
            backend.norm(xb, x, norm(w.ffnNorm(), w.ffnNormBias()));
            switch (arch.ffn()) {
                case SWIGLU -> gatedLinear(s, hb, xb, w.gate(), w.up(), Elementwise.SILU_MUL);
                case GEGLU -> gatedLinear(s, hb, xb, w.gate(), w.up(), Elementwise.GELU_MUL);
                case SWIGLU_FUSED -> {
                    Tensor both = s.upBoth.firstRows(n);
                    linear(s, xb, Linear.of(both, w.up(), w.bUp()));
                    backend.copy(hb, both, 0, 0);
                    backend.copy(hb2, both, 0, config.ffnDim());
                    backend.map(hb, Elementwise.SILU_MUL, hb, hb2);
                }
                case GELU, RELU -> {
                    linear(s, xb, Linear.of(hb2, w.up(), w.bUp()));
                    backend.map(hb, arch.ffn() == Architecture.Ffn.RELU ? Elementwise.RELU : Elementwise.GELU, hb2, null);
                }
            }
            residual(s, x, hb, w.down(), w.bDown(), w.postFfnNorm(), xb);
        }

        // classifier: logits = W_out · norm(x) (soft-capped for Gemma 2), for every row or only the last
        Tensor rows, logits;
        Norm outNorm = norm(weights.outputNorm(), weights.outputNormBias());
        if (hidden) {
            backend.norm(xb, x, outNorm);
            return xb;
        }
        if (from < 0) {
            // as many rows as the largest call so far: verifying a few drafted tokens needs a few rows of the vocabulary,
            // not maxBatch of them
            if (s.logitsAll == null || s.logitsAll.rows() < n) {
                if (s.logitsAll != null) backend.free(s.logitsAll);
                s.logitsAll = backend.allocate("logits", n, config.vocabSize());
            }
            rows = xb;
            logits = s.logitsAll.firstRows(n);
            backend.norm(rows, x, outNorm);
        } else {
            rows = s.last.firstRows(count);
            logits = s.logitsOne.firstRows(count);
            backend.copy(rows, x, from, 0);
            backend.norm(rows, rows, outNorm);
        }
        linear(s, rows, new Linear(logits, weights.output()));
        if (config.finalSoftcap() > 0) backend.map(logits, Elementwise.softcap(config.finalSoftcap()), logits, null);
        return logits;
    }

    /** The architecture's norm: RMSNorm, or LayerNorm with its bias. */
    private Norm norm(Tensor weight, Tensor bias) {
        return arch.norm() == Architecture.Norm.LAYER ? Norm.layer(weight, bias, config.normEps()) : Norm.rms(weight, config.normEps());
    }

    /** x += postNorm(in · wᵀ + bias); scratch holds the product when there is a post-norm (Gemma 2). */
    private void residual(Buffers s, Tensor x, Tensor in, Tensor w, Tensor bias, Tensor postNorm, Tensor scratch) {
        if (postNorm == null) {
            linear(s, in, Linear.accumulate(x, w, bias));
            return;
        }
        linear(s, in, Linear.of(scratch, w, bias));
        backend.norm(scratch, scratch, Norm.rms(postNorm, config.normEps()));
        backend.map(x, Elementwise.ADD, x, scratch);
    }

    /**
     * The products of x with the base weights, then each active adapter's term on them: out += s·B·(A·x). The base
     * products stay one call (the backend may fuse them) and so do the A products; each B product accumulates into
     * its output.
     */
    private void linear(Buffers s, Tensor x, Linear... outputs) {
        backend.linear(x, outputs);
        if (s.lora == null) return;
        var down = new java.util.ArrayList<Linear>();
        var up = new java.util.ArrayList<Linear>();
        var used = new java.util.HashMap<Integer, Integer>();   // rank → buffers taken
        for (Linear l : outputs) {
            LoraSet.Term[] terms = s.lora.terms(l.weight());
            if (terms == null) continue;
            for (LoraSet.Term t : terms) {
                int j = used.merge(t.rank(), 1, Integer::sum) - 1;
                Tensor mid = s.loraMid(t.rank(), j).firstRows(x.rows());
                down.add(Linear.of(mid, t.a(), null));
                up.add(Linear.accumulate(l.out(), t.b(), null));
            }
        }
        if (down.isEmpty()) return;
        backend.linear(x, down.toArray(Linear[]::new));
        for (int i = 0; i < up.size(); i++) backend.linear(down.get(i).out(), up.get(i));
    }

    /**
     * out = glu(x·gateᵀ, x·upᵀ): the backend's fused op, or, when an adapter targets the gate or the up weight, the
     * two products with their adapter terms and then the gate op.
     */
    private void gatedLinear(Buffers s, Tensor out, Tensor x, Tensor gate, Tensor up, Elementwise glu) {
        if (s.lora == null || !(s.lora.targets(gate) || s.lora.targets(up))) {
            backend.gatedLinear(out, x, gate, up, glu);
            return;
        }
        if (s.loraUp == null) s.loraUp = backend.allocate("lora.up", s.maxBatch, config.ffnDim());
        Tensor u = s.loraUp.firstRows(x.rows());
        linear(s, x, Linear.of(out, gate, null), Linear.of(u, up, null));
        backend.map(out, glu, out, u);
    }
}
