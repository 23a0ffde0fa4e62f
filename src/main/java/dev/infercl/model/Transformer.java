package dev.infercl.model;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.ContextFullException;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.KvLayout;
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
    private final RopeSpec rope;          // null when positions are learned
    private final AttentionSpec full, sliding;

    public Transformer(ModelConfig config, Weights weights, Backend backend) {
        this.config = config;
        this.arch = config.arch();
        this.weights = weights;
        this.backend = backend;
        this.rope = arch.rope() == Architecture.Rope.NONE ? null
                : new RopeSpec(config.headDim(), config.ropeDims(), config.ropeBase(), arch.rope() == Architecture.Rope.NEOX, weights.ropeFreqs());
        float scale = config.attnScale();
        this.full = new AttentionSpec(scale, config.attnSoftcap(), 0);
        this.sliding = new AttentionSpec(scale, config.attnSoftcap(), config.slidingWindow());
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
        final Tensor x, xb, q, k, v, att, hb, hb2;  // (maxBatch, width): dim, dim, qDim, kvDim, kvDim, qDim, ffn, ffn
        final Tensor qkv;                           // (maxBatch, qDim + 2·kvDim) when Q, K, V are fused, else null
        final Tensor upBoth;                        // (maxBatch, 2·ffn) when gate and up are fused, else null
        final Tensor pos;                           // (maxBatch, dim) learned position rows, else null
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
            qkv = arch.fusedQkv() ? backend.allocate("qkv", maxBatch, config.qDim() + 2 * config.kvDim()) : null;
            upBoth = arch.ffn() == Architecture.Ffn.SWIGLU_FUSED ? backend.allocate("gate_up", maxBatch, 2 * config.ffnDim()) : null;
            pos = arch.learnedPositions() ? backend.allocate("pos", maxBatch, config.dim()) : null;
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
        if (arch.learnedPositions() && contextLength > config.contextLength()) {
            throw new IllegalArgumentException("this model learned " + config.contextLength() + " positions; a context of "
                    + contextLength + " needs positions it has no embedding for");
        }
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

        // embeddings: x = E[tokens] (· √dim for Gemma) (+ P[positions] for learned positions)
        backend.embed(x, weights.tokenEmbedding(), tokens);
        if (arch.scaleEmbedding()) backend.scale(x, (float) Math.sqrt(config.dim()));
        if (s.pos != null) {
            backend.embed(s.pos.firstRows(n), weights.positionEmbedding(), positions);
            backend.add(x, s.pos.firstRows(n));
        }
        for (int l = 0; l < config.layers(); l++) {
            Weights.Layer w = weights.layers()[l];
            // attention: x += Wo · attention(rope(q), rope(k), v) with q, k, v projections of norm(x)
            norm(xb, x, w.attnNorm(), w.attnNormBias());
            if (s.qkv != null) {
                Tensor qkv = s.qkv.firstRows(n);
                project(qkv, xb, w.wqkv(), w.bqkv());
                backend.copyColumns(q, qkv, 0);
                backend.copyColumns(k, qkv, config.qDim());
                backend.copyColumns(v, qkv, config.qDim() + config.kvDim());
            } else if (w.bq() == null && w.bk() == null && w.bv() == null) {
                backend.matmulMany(new Tensor[] {q, k, v}, xb, new Tensor[] {w.wq(), w.wk(), w.wv()}, false, null);
            } else {
                project(q, xb, w.wq(), w.bq());
                project(k, xb, w.wk(), w.bk());
                project(v, xb, w.wv(), w.bv());
            }
            if (w.qNorm() != null) {
                backend.rmsNorm(q, q, w.qNorm(), config.normEps());   // per head: the weight is one head wide
                backend.rmsNorm(k, k, w.kNorm(), config.normEps());
            }
            AttentionSpec spec = arch.slides(l) && config.slidingWindow() > 0 ? sliding : full;
            if (rope != null) backend.ropeAttention(att, q, k, v, rope, s.cache, l, batch, spec);
            else backend.attention(att, q, k, v, s.cache, l, batch, spec);
            residual(x, att, w.wo(), w.bo(), w.postAttnNorm(), xb);

            // feed-forward: x += W_down · act(W_gate·h, W_up·h), h = norm(x)
            norm(xb, x, w.ffnNorm(), w.ffnNormBias());
            switch (arch.ffn()) {
                case SWIGLU -> backend.matmulSwiglu(hb, xb, w.gate(), w.up(), hb2);
                case SWIGLU_FUSED -> {
                    Tensor both = s.upBoth.firstRows(n);
                    project(both, xb, w.up(), w.bUp());
                    backend.copyColumns(hb, both, 0);
                    backend.copyColumns(hb2, both, config.ffnDim());
                    backend.swiglu(hb, hb, hb2);
                }
                case GEGLU -> {
                    backend.matmul(hb, xb, w.gate());
                    backend.matmul(hb2, xb, w.up());
                    backend.geglu(hb, hb, hb2);
                }
                case GELU -> {
                    project(hb2, xb, w.up(), w.bUp());
                    backend.gelu(hb, hb2);
                }
            }
            residual(x, hb, w.down(), w.bDown(), w.postFfnNorm(), xb);
        }
        s.table.setLength(start + n);

        // classifier: logits = W_out · norm(x) (soft-capped for Gemma 2), for every row or only the last
        Tensor rows, logits;
        if (allLogits) {
            if (s.logitsAll == null) s.logitsAll = backend.allocate("logits", s.maxBatch, config.vocabSize());
            rows = xb;
            logits = s.logitsAll.firstRows(n);
            norm(rows, x, weights.outputNorm(), weights.outputNormBias());
        } else {
            rows = s.last;
            logits = s.logitsOne;
            backend.copyRows(rows, x, n - 1, 1);
            norm(rows, rows, weights.outputNorm(), weights.outputNormBias());
        }
        backend.matmul(logits, rows, weights.output());
        if (config.finalSoftcap() > 0) backend.softcap(logits, config.finalSoftcap());
        return logits;
    }

    /** The architecture's norm: RMSNorm, or LayerNorm with its bias. */
    private void norm(Tensor out, Tensor x, Tensor weight, Tensor bias) {
        if (arch.norm() == Architecture.Norm.LAYER) backend.layerNorm(out, x, weight, bias, config.normEps());
        else backend.rmsNorm(out, x, weight, config.normEps());
    }

    /** x += postNorm(in · wᵀ + bias); scratch holds the product (the backend fuses the add when there is no bias or norm). */
    private void residual(Tensor x, Tensor in, Tensor w, Tensor bias, Tensor postNorm, Tensor scratch) {
        if (bias == null && postNorm == null) {
            backend.matmulMany(new Tensor[] {x}, in, new Tensor[] {w}, true, new Tensor[] {scratch});
            return;
        }
        project(scratch, in, w, bias);
        if (postNorm != null) backend.rmsNorm(scratch, scratch, postNorm, config.normEps());
        backend.add(x, scratch);
    }

    /** out = x · wᵀ (+ bias). */
    private void project(Tensor out, Tensor x, Tensor w, Tensor bias) {
        backend.matmul(out, x, w);
        if (bias != null) backend.addBias(out, bias);
    }
}
