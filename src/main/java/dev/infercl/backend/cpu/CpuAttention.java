package dev.infercl.backend.cpu;

import static dev.infercl.backend.cpu.CpuParallel.parallelFor;
import static dev.infercl.backend.cpu.VectorCodecs.F;
import static dev.infercl.backend.cpu.VectorCodecs.L;
import static jdk.incubator.vector.VectorOperators.ADD;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.KvLayout;
import java.util.concurrent.ForkJoinPool;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** Attention over the paged KV cache in the FAST backend's own cache layout, with the Vector API and across cores. */
final class CpuAttention {
    private CpuAttention() {}

    /**
     * Same semantics as {@link Reference#attention} — store k[t], v[t] in the paged cache, then per (token, query
     * head) a causal softmax over positions first..positions[t] of q·K·scale, weighting V — in this backend's own
     * cache layout. Each layer's arrays are KV-head-major, (kvHeads, numBlocks, blockSize·headDim), so a sequence's
     * blocks of one head (allocated in order) form one sequential stream the prefetchers follow; and K is stored
     * <em>transposed</em> within each block, (headDim, blockSize), so a block of L positions scores as one
     * vector, Σ_i q[i]·K[i][p..p+L), with no horizontal sum per position. V rows stay (blockSize, headDim). A
     * task is (token, KV head, share of its query heads): the group's heads score the same K tile while it is in
     * L1, and the outputs of two heads at a time accumulate in registers across the whole context, each V vector
     * loaded once for the two.
     *
     * <p>Why: the per-query-head form (a dot product and a reduceLanes per position, an axpy through memory per
     * position, a scalar Math.max chain) was slower, and so was one head per V pass; four heads per pass were
     * faster still, but see {@link #weightedValues2} for why not four.
     */
    static void attention(ForkJoinPool pool, float[] out, float[] q, float[] k, float[] v, float[] kCache, float[] vCache,
                          KvLayout layout, Batch batch, int heads, AttentionSpec spec) {
        attention(pool, out, q, k, v, kCache, vCache, layout, batch, heads, spec, null);
    }

    /**
     * As above, with the spec's relative-position bias ((buckets, heads) on the host, null without one) added to the
     * scores, and the spec's unmasked extent; k null stores nothing, q null attends nothing (Reference's rules).
     */
    static void attention(ForkJoinPool pool, float[] out, float[] q, float[] k, float[] v, float[] kCache, float[] vCache,
                          KvLayout layout, Batch batch, int heads, AttentionSpec spec, float[] bias) {
        int hd = layout.headDim(), kvHeads = layout.kvHeads(), bs = layout.blockSize();
        int[] positions = batch.positions();
        int n = positions.length;
        int maxLen = 0;
        for (int t = 0; t < n; t++) {
            maxLen = Math.max(maxLen, spec.visibleEnd(positions[t]));
            if (k == null) continue;
            int slot = batch.table(t).slot(positions[t]), within = slot % bs;
            for (int g = 0; g < kvHeads; g++) {
                int block = blockBase(layout, slot / bs, g), src = (t * kvHeads + g) * hd;
                for (int i = 0; i < hd; i++) kCache[block + i * bs + within] = k[src + i];
                System.arraycopy(v, src, vCache, block + within * hd, hd);
            }
        }
        if (q == null) return;
        var rb = spec.bias();
        int group = heads / kvHeads;
        // enough tasks for every thread: split a KV head's query heads only when tokens × KV heads are too few
        int parts = Math.min(group, Math.max(1, (2 * pool.getParallelism() + n * kvHeads - 1) / (n * kvHeads)));
        int perPart = (group + parts - 1) / parts;
        int tasks = n * kvHeads * parts, scoreLen = (maxLen + bs - 1) / bs * bs;
        int chunk = Math.max(1, tasks / (pool.getParallelism() * 4));
        int chunks = (tasks + chunk - 1) / chunk;
        parallelFor(pool, chunks, c -> {
            float[][] scores = scoreRows(perPart, scoreLen);
            float[] inv = new float[perPart];
            for (int task = c * chunk; task < Math.min(tasks, (c + 1) * chunk); task++) {
                int t = task / (kvHeads * parts), g = task / parts % kvHeads, h0 = g * group + task % parts * perPart;
                int count = Math.min(perPart, (g + 1) * group - h0);
                int first = spec.firstVisible(positions[t]), len = spec.visibleEnd(positions[t]);
                BlockTable table = batch.table(t);
                keyScores(kCache, layout, table, g, q, (t * heads + h0) * hd, count, spec.scale(), first, len, scores);
                for (int j = 0; j < count; j++) {
                    float[] w = scores[j];
                    if (rb != null) {
                        for (int p = first; p < len; p++) w[p] += bias[rb.bucket(positions[t], p) * heads + h0 + j];
                    }
                    if (spec.softcap() > 0) {
                        for (int p = first; p < len; p++) w[p] = (float) (spec.softcap() * Math.tanh(w[p] / spec.softcap()));
                    }
                    inv[j] = 1f / expInPlace(w, first, len - first, max(w, first, len));
                }
                int j = 0;
                if (hd % (4 * L) == 0) {
                    for (; j + 2 <= count; j += 2) weightedValues2(vCache, layout, table, g, scores, j, first, len, inv, out, (t * heads + h0 + j) * hd);
                }
                for (; j < count; j++) weightedValues(vCache, layout, table, g, scores[j], first, len, inv[j], out, (t * heads + h0 + j) * hd);
            }
        });
    }

    /**
     * {@link #weightedValues} for the two heads j0, j0+1 (weights scores[j0 + j], outputs at oo + j·headDim), 4·L
     * dimensions at a time in 8 register accumulators: each V vector is loaded once for both heads. Needs
     * headDim % (4·L) == 0. (Four heads in 16 accumulators read V half as often and decoded faster, but C2 left some
     * of its vector operations un-intrinsified when it compiled the method during a prefill, and the boxed vectors
     * about doubled the host memory's peak.)
     */
    private static void weightedValues2(float[] vCache, KvLayout layout, BlockTable table, int g, float[][] scores, int j0,
                                        int first, int len, float[] inv, float[] out, int oo) {
        int hd = layout.headDim(), bs = layout.blockSize();
        float[] w0 = scores[j0], w1 = scores[j0 + 1];
        for (int c = 0; c < hd; c += 4 * L) {
            var a0 = FloatVector.zero(F);
            var a1 = a0;
            var a2 = a0;
            var a3 = a0;
            var b0 = a0;
            var b1 = a0;
            var b2 = a0;
            var b3 = a0;
            for (int b = first / bs; b * bs < len; b++) {
                int rows = blockBase(layout, table.block(b), g) + c - b * bs * hd;
                for (int p = Math.max(first, b * bs), end = Math.min(len, b * bs + bs); p < end; p++) {
                    int vo = rows + p * hd;
                    var v0 = FloatVector.fromArray(F, vCache, vo);
                    var v1 = FloatVector.fromArray(F, vCache, vo + L);
                    var v2 = FloatVector.fromArray(F, vCache, vo + 2 * L);
                    var v3 = FloatVector.fromArray(F, vCache, vo + 3 * L);
                    var x = FloatVector.broadcast(F, w0[p]);
                    a0 = v0.fma(x, a0);
                    a1 = v1.fma(x, a1);
                    a2 = v2.fma(x, a2);
                    a3 = v3.fma(x, a3);
                    x = FloatVector.broadcast(F, w1[p]);
                    b0 = v0.fma(x, b0);
                    b1 = v1.fma(x, b1);
                    b2 = v2.fma(x, b2);
                    b3 = v3.fma(x, b3);
                }
            }
            float s0 = inv[j0], s1 = inv[j0 + 1];
            a0.mul(s0).intoArray(out, oo + c);
            a1.mul(s0).intoArray(out, oo + c + L);
            a2.mul(s0).intoArray(out, oo + c + 2 * L);
            a3.mul(s0).intoArray(out, oo + c + 3 * L);
            b0.mul(s1).intoArray(out, oo + hd + c);
            b1.mul(s1).intoArray(out, oo + hd + c + L);
            b2.mul(s1).intoArray(out, oo + hd + c + 2 * L);
            b3.mul(s1).intoArray(out, oo + hd + c + 3 * L);
        }
    }

    /** Per-thread score rows, reused across layers and tokens (otherwise a decode step at a long context allocates megabytes of them). */
    private static final ThreadLocal<float[][]> SCORE_ROWS = ThreadLocal.withInitial(() -> new float[0][0]);

    /** At least {@code rows} score rows of at least {@code len} floats each, for the calling thread. */
    private static float[][] scoreRows(int rows, int len) {
        float[][] s = SCORE_ROWS.get();
        if (s.length < rows || s[0].length < len) {
            s = new float[Math.max(rows, s.length)][Math.max(len, s.length == 0 ? 0 : s[0].length)];
            SCORE_ROWS.set(s);
        }
        return s;
    }

    /** First value of physical block {@code block} of KV head g in one layer's K or V array of the FAST layout. */
    private static int blockBase(KvLayout layout, int block, int g) {
        return (g * layout.numBlocks() + block) * layout.blockSize() * layout.headDim();
    }

    /**
     * scores[j][p] = scale · q_j·K[p] for the count query heads whose q rows start at qo (one after another), for
     * every p of [first, len) (and the rest of those positions' L-tiles, which the caller ignores); K of KV head
     * g transposed per block. A tile of L positions is loaded once per head from L1.
     */
    private static void keyScores(float[] kCache, KvLayout layout, BlockTable table, int g, float[] q, int qo, int count,
                                  float scale, int first, int len, float[][] scores) {
        int hd = layout.headDim(), bs = layout.blockSize();
        for (int b = first / bs; b * bs < len; b++) {
            int kb = blockBase(layout, table.block(b), g);   // the block's (headDim, blockSize) keys
            if (bs % L == 0) {
                for (int s = 0; s < bs && b * bs + s < len; s += L) {
                    for (int j = 0; j < count; j++) scoreTile(kCache, kb + s, bs, q, qo + j * hd, hd, scale, scores[j], b * bs + s);
                }
            } else { // a block narrower than a vector (tests use such layouts; the model's blocks are 16)
                for (int p = Math.max(first, b * bs), end = Math.min(len, b * bs + bs); p < end; p++) {
                    for (int j = 0; j < count; j++) {
                        float acc = 0;
                        for (int i = 0; i < hd; i++) acc += q[qo + j * hd + i] * kCache[kb + i * bs + p - b * bs];
                        scores[j][p] = acc * scale;
                    }
                }
            }
        }
    }

    /** dst[d..d+L) = scale · Σ_i q[qo+i] · kt[kb + i·bs ..+L): four independent accumulator chains over i. */
    private static void scoreTile(float[] kt, int kb, int bs, float[] q, int qo, int hd, float scale, float[] dst, int d) {
        var a0 = FloatVector.zero(F);
        var a1 = a0;
        var a2 = a0;
        var a3 = a0;
        int i = 0;
        for (; i + 4 <= hd; i += 4) {
            a0 = FloatVector.fromArray(F, kt, kb + i * bs).fma(FloatVector.broadcast(F, q[qo + i]), a0);
            a1 = FloatVector.fromArray(F, kt, kb + (i + 1) * bs).fma(FloatVector.broadcast(F, q[qo + i + 1]), a1);
            a2 = FloatVector.fromArray(F, kt, kb + (i + 2) * bs).fma(FloatVector.broadcast(F, q[qo + i + 2]), a2);
            a3 = FloatVector.fromArray(F, kt, kb + (i + 3) * bs).fma(FloatVector.broadcast(F, q[qo + i + 3]), a3);
        }
        for (; i < hd; i++) a0 = FloatVector.fromArray(F, kt, kb + i * bs).fma(FloatVector.broadcast(F, q[qo + i]), a0);
        a0.add(a1).add(a2.add(a3)).mul(scale).intoArray(dst, d);
    }

    /**
     * out[oo + i] = inv · Σ_{first ≤ p < len} w[p] · V[p][i] for i < headDim, V of KV head g: 4·L dimensions at a
     * time in four register accumulators across the whole context (one broadcast per position), then L, then one.
     */
    private static void weightedValues(float[] vCache, KvLayout layout, BlockTable table, int g, float[] w, int first, int len,
                                       float inv, float[] out, int oo) {
        int hd = layout.headDim(), bs = layout.blockSize();
        int c = 0;
        for (; c + 4 * L <= hd; c += 4 * L) {
            var o0 = FloatVector.zero(F);
            var o1 = o0;
            var o2 = o0;
            var o3 = o0;
            for (int p = first; p < len; p++) {
                int vo = blockBase(layout, table.block(p / bs), g) + (p % bs) * hd + c;
                var wp = FloatVector.broadcast(F, w[p]);
                o0 = FloatVector.fromArray(F, vCache, vo).fma(wp, o0);
                o1 = FloatVector.fromArray(F, vCache, vo + L).fma(wp, o1);
                o2 = FloatVector.fromArray(F, vCache, vo + 2 * L).fma(wp, o2);
                o3 = FloatVector.fromArray(F, vCache, vo + 3 * L).fma(wp, o3);
            }
            o0.mul(inv).intoArray(out, oo + c);
            o1.mul(inv).intoArray(out, oo + c + L);
            o2.mul(inv).intoArray(out, oo + c + 2 * L);
            o3.mul(inv).intoArray(out, oo + c + 3 * L);
        }
        for (; c + L <= hd; c += L) {
            var o = FloatVector.zero(F);
            for (int p = first; p < len; p++) {
                o = FloatVector.fromArray(F, vCache, blockBase(layout, table.block(p / bs), g) + (p % bs) * hd + c).fma(FloatVector.broadcast(F, w[p]), o);
            }
            o.mul(inv).intoArray(out, oo + c);
        }
        for (; c < hd; c++) {
            float o = 0;
            for (int p = first; p < len; p++) o += w[p] * vCache[blockBase(layout, table.block(p / bs), g) + (p % bs) * hd + c];
            out[oo + c] = o * inv;
        }
    }

    /** The largest of s[from..to). */
    private static float max(float[] s, int from, int to) {
        var m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = from;
        for (; i + L <= to; i += L) m = m.max(FloatVector.fromArray(F, s, i));
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < to; i++) r = Math.max(r, s[i]);
        return r;
    }

    /** s[off + i] = e^(s[off + i] − max) for i < len; returns their sum. */
    private static float expInPlace(float[] s, int off, int len, float max) {
        int vecEnd = len - len % L;
        var sum = FloatVector.zero(F);
        for (int i = 0; i < vecEnd; i += L) {
            var e = FloatVector.fromArray(F, s, off + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(s, off + i);
            sum = sum.add(e);
        }
        float total = sum.reduceLanes(ADD);
        for (int i = vecEnd; i < len; i++) {
            s[off + i] = (float) Math.exp(s[off + i] - max);
            total += s[off + i];
        }
        return total;
    }
}
