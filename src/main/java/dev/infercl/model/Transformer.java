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
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;

/**
 * The forward pass of a decoder-only transformer over a {@link Backend}: the only code that knows the layer
 * order. Architectures differ only through their {@link Architecture} description (norm kind, fused tensors,
 * biases, activation, extra norms, positions, caps, windows). It never touches floats itself, so a device
 * backend keeps every activation on the device.
 */
public final class Transformer {
    /** Positions per KV-cache block. */
    public static final int KV_BLOCK_SIZE = 16;

    private final ModelConfig config;
    private final Architecture arch;
    private final Weights weights;
    private final Backend backend;

    public Transformer(ModelConfig config, Weights weights, Backend backend) {
        this.config = config;
        this.arch = config.arch();
        this.weights = weights;
        this.backend = backend;
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
     * Per-sequence state: the KV cache, its block table and activation buffers sized for {@code maxBatch}
     * tokens per forward call — allocated once, reused by every call.
     */
    public final class State implements AutoCloseable {
        final int maxBatch, contextLength;
        final KvCache cache;
        final BlockTable table;
        final Tensor x, xb, q, k, v, att, hb;       // (maxBatch, width): dim, dim, qDim, kvDim, kvDim, qDim, ffn
        final Tensor hb2;                           // (maxBatch, ffn) when the FFN is not a gated product, else null
        final Tensor qkv;                           // (maxBatch, qDim + 2·kvDim) when Q, K, V are fused, else null
        final Tensor upBoth;                        // (maxBatch, 2·ffn) when gate and up are fused, else null
        final Tensor pos;                           // (maxBatch, dim) learned position rows, else null
        final Tensor last;                          // (1, dim): the row whose logits a generation step needs
        final Tensor logitsOne;                     // (1, vocab)
        Tensor logitsAll;                           // (maxBatch, vocab), allocated when teacher forcing asks for it
        private boolean closed;
        final AttentionSpec full, sliding;          // their rope is null when positions are learned

        State(int contextLength, int maxBatch) {
            this.maxBatch = maxBatch;
            this.contextLength = contextLength;
            RopeSpec rope = rope(contextLength);
            this.full = new AttentionSpec(config.attnScale(), config.attnSoftcap(), 0, rope);
            this.sliding = new AttentionSpec(config.attnScale(), config.attnSoftcap(), config.slidingWindow(), rope);
            this.cache = backend.createKvCache(kvLayout(config, Math.ceilDiv(contextLength, KV_BLOCK_SIZE)));
            this.table = new BlockTable(cache.pool(), KV_BLOCK_SIZE);
            try {
                x = backend.allocate("x", maxBatch, config.dim());
                xb = backend.allocate("xb", maxBatch, config.dim());
                q = backend.allocate("q", maxBatch, config.qDim());
                k = backend.allocate("k", maxBatch, config.kvDim());
                v = backend.allocate("v", maxBatch, config.kvDim());
                att = backend.allocate("att", maxBatch, config.qDim());
                hb = backend.allocate("hb", maxBatch, config.ffnDim());
                boolean gated = arch.ffn() == Architecture.Ffn.SWIGLU || arch.ffn() == Architecture.Ffn.GEGLU;
                hb2 = gated ? null : backend.allocate("hb2", maxBatch, config.ffnDim());
                qkv = arch.fusedQkv() ? backend.allocate("qkv", maxBatch, config.qDim() + 2 * config.kvDim()) : null;
                upBoth = arch.ffn() == Architecture.Ffn.SWIGLU_FUSED ? backend.allocate("gate_up", maxBatch, 2 * config.ffnDim()) : null;
                pos = arch.learnedPositions() ? backend.allocate("pos", maxBatch, config.dim()) : null;
                last = backend.allocate("last", 1, config.dim());
                logitsOne = backend.allocate("logits", 1, config.vocabSize());
            } catch (RuntimeException | Error e) {
                cache.close(); // the cache is the state's largest buffer: not left held by a state never returned
                throw e;
            }
        }

        /** Tokens held in the KV cache. */
        public int length() {
            return table.length();
        }

        public int contextLength() {
            return contextLength;
        }

        public int maxBatch() {
            return maxBatch;
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
            for (Tensor t : new Tensor[] {x, xb, q, k, v, att, hb, hb2, qkv, upBoth, pos, last, logitsOne, logitsAll}) {
                if (t != null) backend.free(t);
            }
        }
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
        if (a.ffn() == Architecture.Ffn.GELU || a.ffn() == Architecture.Ffn.SWIGLU_FUSED) perRow += c.ffnDim();
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
        if (start + n > s.contextLength) {
            throw new ContextFullException("the context holds " + s.contextLength + " tokens; " + start + " are used and " + n + " more do not fit");
        }
        int[] positions = new int[n];
        for (int t = 0; t < n; t++) positions[t] = start + t;
        s.table.reserve(start + n);
        var batch = new Batch(positions, s.table);
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
                backend.linear(xb, Linear.of(qkv, w.wqkv(), w.bqkv()));
                backend.copy(q, qkv, 0, 0);
                backend.copy(k, qkv, 0, config.qDim());
                backend.copy(v, qkv, 0, config.qDim() + config.kvDim());
            } else {
                backend.linear(xb, Linear.of(q, w.wq(), w.bq()), Linear.of(k, w.wk(), w.bk()), Linear.of(v, w.wv(), w.bv()));
            }
            if (w.qNorm() != null) {
                backend.norm(q, q, Norm.rms(w.qNorm(), config.normEps()));   // per head: the weight is one head wide
                backend.norm(k, k, Norm.rms(w.kNorm(), config.normEps()));
            }
            backend.attention(att, q, k, v, s.cache, l, batch, arch.slides(l) && config.slidingWindow() > 0 ? s.sliding : s.full);
            residual(x, att, w.wo(), w.bo(), w.postAttnNorm(), xb);

            // feed-forward: x += W_down · act(W_gate·h, W_up·h), h = norm(x)
            backend.norm(xb, x, norm(w.ffnNorm(), w.ffnNormBias()));
            switch (arch.ffn()) {
                case SWIGLU -> backend.gatedLinear(hb, xb, w.gate(), w.up(), Elementwise.SILU_MUL);
                case GEGLU -> backend.gatedLinear(hb, xb, w.gate(), w.up(), Elementwise.GELU_MUL);
                case SWIGLU_FUSED -> {
                    Tensor both = s.upBoth.firstRows(n);
                    backend.linear(xb, Linear.of(both, w.up(), w.bUp()));
                    backend.copy(hb, both, 0, 0);
                    backend.copy(hb2, both, 0, config.ffnDim());
                    backend.map(hb, Elementwise.SILU_MUL, hb, hb2);
                }
                case GELU -> {
                    backend.linear(xb, Linear.of(hb2, w.up(), w.bUp()));
                    backend.map(hb, Elementwise.GELU, hb2, null);
                }
            }
            residual(x, hb, w.down(), w.bDown(), w.postFfnNorm(), xb);
        }
        s.table.setLength(start + n);

        // classifier: logits = W_out · norm(x) (soft-capped for Gemma 2), for every row or only the last
        Tensor rows, logits;
        Norm outNorm = norm(weights.outputNorm(), weights.outputNormBias());
        if (output == Output.HIDDEN) {
            backend.norm(xb, x, outNorm);
            return xb;
        }
        if (allLogits) {
            if (s.logitsAll == null) s.logitsAll = backend.allocate("logits", s.maxBatch, config.vocabSize());
            rows = xb;
            logits = s.logitsAll.firstRows(n);
            backend.norm(rows, x, outNorm);
        } else {
            rows = s.last;
            logits = s.logitsOne;
            backend.copy(rows, x, n - 1, 0);
            backend.norm(rows, rows, outNorm);
        }
        backend.matmul(logits, rows, weights.output());
        if (config.finalSoftcap() > 0) backend.map(logits, Elementwise.softcap(config.finalSoftcap()), logits, null);
        return logits;
    }

    /** The architecture's norm: RMSNorm, or LayerNorm with its bias. */
    private Norm norm(Tensor weight, Tensor bias) {
        return arch.norm() == Architecture.Norm.LAYER ? Norm.layer(weight, bias, config.normEps()) : Norm.rms(weight, config.normEps());
    }

    /** x += postNorm(in · wᵀ + bias); scratch holds the product when there is a post-norm (Gemma 2). */
    private void residual(Tensor x, Tensor in, Tensor w, Tensor bias, Tensor postNorm, Tensor scratch) {
        if (postNorm == null) {
            backend.linear(in, Linear.accumulate(x, w, bias));
            return;
        }
        backend.linear(in, Linear.of(scratch, w, bias));
        backend.norm(scratch, scratch, Norm.rms(postNorm, config.normEps()));
        backend.map(x, Elementwise.ADD, x, scratch);
    }
}
