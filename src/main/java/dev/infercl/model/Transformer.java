package dev.infercl.model;

import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.ContextFullException;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;

/**
 * The forward pass of a Llama-family transformer over a {@link Backend}: the only code that knows the layer
 * order. It never touches floats itself, so a device backend keeps every activation on the device.
 */
public final class Transformer {
    /** Positions per KV-cache block. */
    public static final int KV_BLOCK_SIZE = 16;

    private final ModelConfig config;
    private final Weights weights;
    private final Backend backend;
    private final RopeSpec rope;
    private final float attentionScale;

    public Transformer(ModelConfig config, Weights weights, Backend backend) {
        this.config = config;
        this.weights = weights;
        this.backend = backend;
        this.rope = new RopeSpec(config.headDim(), config.ropeDims(), config.ropeBase(), false);
        this.attentionScale = (float) (1.0 / Math.sqrt(config.headDim()));
    }

    public ModelConfig config() {
        return config;
    }

    public Backend backend() {
        return backend;
    }

    /**
     * Per-sequence state: the KV cache, its block table and activation buffers sized for {@code maxBatch}
     * tokens per forward call — allocated once, reused by every call.
     */
    public final class State implements AutoCloseable {
        final int maxBatch, contextLength;
        final KvCache cache;
        final BlockTable table;
        final Tensor x, xb, q, k, v, att, hb, hb2;  // (maxBatch, width): dim, dim, qDim, kvDim, kvDim, qDim, ffn, ffn
        final Tensor last;                          // (1, dim): the row whose logits a generation step needs
        final Tensor logitsOne;                     // (1, vocab)
        Tensor logitsAll;                           // (maxBatch, vocab), allocated when teacher forcing asks for it

        State(int contextLength, int maxBatch) {
            this.maxBatch = maxBatch;
            this.contextLength = contextLength;
            int blocks = (contextLength + KV_BLOCK_SIZE - 1) / KV_BLOCK_SIZE;
            this.cache = backend.createKvCache(new KvLayout(config.layers(), config.kvHeads(), config.headDim(), KV_BLOCK_SIZE, blocks));
            this.table = new BlockTable(cache.pool(), KV_BLOCK_SIZE);
            x = backend.allocate("x", maxBatch, config.dim());
            xb = backend.allocate("xb", maxBatch, config.dim());
            q = backend.allocate("q", maxBatch, config.qDim());
            k = backend.allocate("k", maxBatch, config.kvDim());
            v = backend.allocate("v", maxBatch, config.kvDim());
            att = backend.allocate("att", maxBatch, config.qDim());
            hb = backend.allocate("hb", maxBatch, config.ffnDim());
            hb2 = backend.allocate("hb2", maxBatch, config.ffnDim());
            last = backend.allocate("last", 1, config.dim());
            logitsOne = backend.allocate("logits", 1, config.vocabSize());
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

        @Override
        public void close() {
            table.release();
            cache.close();
        }
    }

    /** A new sequence state with room for {@code contextLength} positions, processing up to {@code maxBatch} tokens per call. */
    public State newState(int contextLength, int maxBatch) {
        return new State(contextLength, maxBatch);
    }

    /**
     * Feeds {@code tokens} (at most maxBatch) at the next positions of the sequence and returns the logits:
     * of every token (rows = tokens.length) when {@code allLogits}, else of the last token only (one row).
     * The returned tensor belongs to the state and is overwritten by the next call.
     */
    public Tensor forward(State s, int[] tokens, boolean allLogits) {
        int n = tokens.length, start = s.table.length();
        if (n == 0 || n > s.maxBatch) throw new IllegalArgumentException("a forward call takes 1.." + s.maxBatch + " tokens, got " + n);
        if (start + n > s.contextLength) {
            throw new ContextFullException("the context holds " + s.contextLength + " tokens; " + start + " are used and " + n + " more do not fit");
        }
        int[] positions = new int[n];
        for (int t = 0; t < n; t++) positions[t] = start + t;
        s.table.reserve(start + n);
        var batch = new Batch(positions, s.table);
        Tensor x = s.x.firstRows(n), xb = s.xb.firstRows(n), q = s.q.firstRows(n), k = s.k.firstRows(n), v = s.v.firstRows(n);
        Tensor att = s.att.firstRows(n), hb = s.hb.firstRows(n), hb2 = s.hb2.firstRows(n);

        // token embeddings: x = E[tokens]
        backend.embed(x, weights.tokenEmbedding(), tokens);
        for (int l = 0; l < config.layers(); l++) {
            Weights.Layer w = weights.layers()[l];
            // attention: x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
            backend.rmsNorm(xb, x, w.attnNorm(), config.rmsEps());
            backend.matmul(q, xb, w.wq());
            backend.matmul(k, xb, w.wk());
            backend.matmul(v, xb, w.wv());
            backend.rope(q, positions, rope);
            backend.rope(k, positions, rope);
            backend.attention(att, q, k, v, s.cache, l, batch, attentionScale);
            backend.matmul(xb, att, w.wo());
            backend.add(x, xb);
            // feed-forward: x += W_down · (silu(W_gate·norm(x)) ⊙ W_up·norm(x))
            backend.rmsNorm(xb, x, w.ffnNorm(), config.rmsEps());
            backend.matmul(hb, xb, w.gate());
            backend.matmul(hb2, xb, w.up());
            backend.swiglu(hb, hb, hb2);
            backend.matmul(xb, hb, w.down());
            backend.add(x, xb);
        }
        s.table.setLength(start + n);

        // classifier: logits = W_out · norm(x), for every row or only the last
        if (allLogits) {
            if (s.logitsAll == null) s.logitsAll = backend.allocate("logits", s.maxBatch, config.vocabSize());
            Tensor logits = s.logitsAll.firstRows(n);
            backend.rmsNorm(xb, x, weights.outputNorm(), config.rmsEps());
            backend.matmul(logits, xb, weights.output());
            return logits;
        }
        backend.copyRows(s.last, x, n - 1, 1);
        backend.rmsNorm(s.last, s.last, weights.outputNorm(), config.rmsEps());
        backend.matmul(s.logitsOne, s.last, weights.output());
        return s.logitsOne;
    }
}
