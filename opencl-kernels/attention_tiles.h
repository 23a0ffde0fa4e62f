// attention_tiles.h: what the one-work-item attention kernels share (attention_kv_f32 and its split form) — the
//   cache's element type, the compile-time shape, and the online softmax of one work-item's query group over a range
//   of positions.
//   State per query head i of the group (KV head g): qs[i] its query times scale, acc[i] the weighted sum of values,
//   m[i] the running maximum score, l[i] the running sum of e^(score − m[i]), kept per tile lane.
//   Every loop over a head's values or a tile's lanes carries #pragma unroll: POCL leaves loops over private arrays
//   rolled, with the accumulators on the stack, otherwise (docs/ARCHITECTURE.md).
// Layout of one layer of the cache (KV-head-major, so a head's blocks of a sequence stream in order): position p
//   lives in block b = table[p / BLOCK], slot s = p % BLOCK; keys transposed within the block, kc (kvHeads,
//   numBlocks, HEAD_DIM, BLOCK) at ((g·numBlocks + b)·HEAD_DIM + i)·BLOCK + s; values vc (kvHeads, numBlocks, BLOCK,
//   HEAD_DIM) at ((g·numBlocks + b)·BLOCK + s)·HEAD_DIM + i. Elements FP16 (default), F32 (KV_F32) or int8 (KV_I8:
//   symmetric, value = q · scale with one F32 scale per (block, KV head) for K and one for V, ks and vs
//   (numBlocks, kvHeads) at b·kvHeads + g, written by kvwrite_i8_f32; a tile lies in one block, so the scales are
//   factored out of its sums: score = ks · Σ_i (scale·q_i)·kq_i, acc += (w · vs) · vq).
#ifndef ATTENTION_TILES_H
#define ATTENTION_TILES_H
#include "common.h"
#ifdef KV_F32
#define KV_T float                      // an F32 cache (exact keys and values)
#define KV_LOAD(i, p) ((p)[i])
#define KV_LOAD16(i, p) vload16(0, (p) + (i))
#elif defined(KV_I8)
#define KV_T char                       // an INT8 cache, widened to float in registers
#define KV_LOAD(i, p) ((float) (p)[i])
#define KV_LOAD16(i, p) convert_float16(vload16(0, (p) + (i)))
#else
#define KV_T half                       // the default FP16 cache, through vload_half (no cl_khr_fp16)
#define KV_LOAD(i, p) vload_half(i, p)
#define KV_LOAD16(i, p) vload_half16(0, (p) + (i))
#endif
#ifndef HEAD_DIM
#define HEAD_DIM 64 // values per head (compile-time so q, acc and the tile stay in private arrays)
#endif
#ifndef GROUP
#define GROUP 1     // query heads per KV head (heads / kvHeads; the host passes it)
#endif
#ifndef BLOCK
#define BLOCK 16    // positions per cache block (compile-time, so a key row's offsets are constants; the host passes it)
#endif
#if BLOCK % 16 != 0
#error "BLOCK must be a multiple of the 16-position tile"
#endif
// Values and accumulators are float16 vectors over the head (POCL keeps a work-item's inner loop vectorised;
// docs/POCL-GEMV.md); a head size that is not a multiple of 16 takes the scalar path. Scores are float16 over the
// tile's positions whatever the head size.
#if HEAD_DIM % 16 == 0
#define VW 16
typedef float16 vecf;
#define VSTOREF(v, i, p) vstore16(v, 0, (p) + (i))
#define KV_VLOAD(i, p) KV_LOAD16(i, p)
#else
#define VW 1
typedef float vecf;
#define VSTOREF(v, i, p) ((p)[i] = (v))
#define KV_VLOAD(i, p) KV_LOAD(i, p)
#endif
// Register blocking. A tile's key row d (16 positions) is loaded once and multiplied into the scores of SCORE_HEADS
// query heads, and a value row once into the accumulators of VALUE_HEADS heads, so most multiply-adds take one
// memory operand, not two (keys and values per head: the loop was bound by loads, not by arithmetic). Both are the
// largest divisor of GROUP up to a cap, so a group's heads split into whole blocks: SCORE_HEADS up to 8 (8 score
// vectors in registers), VALUE_HEADS up to 16 / (HEAD_DIM / VW), at most 8, and 1 once a head alone needs 8
// accumulator vectors. SCORE_CHAINS and VALUE_CHAINS keep about eight independent multiply-add chains in flight when
// a block is small (GROUP 1: one head's scores in eight partial sums).
#define LARGEST_DIVISOR(n, cap) ((n) <= (cap) ? (n) : (cap) >= 8 && (n) % 8 == 0 ? 8 : (cap) >= 7 && (n) % 7 == 0 ? 7 \
    : (cap) >= 6 && (n) % 6 == 0 ? 6 : (cap) >= 5 && (n) % 5 == 0 ? 5 : (cap) >= 4 && (n) % 4 == 0 ? 4 \
    : (cap) >= 3 && (n) % 3 == 0 ? 3 : (cap) >= 2 && (n) % 2 == 0 ? 2 : 1)
#define SCORE_HEADS LARGEST_DIVISOR(GROUP, 8)
#define SCORE_CHAINS ((8 + SCORE_HEADS - 1) / SCORE_HEADS)
#define VALUE_VECS (HEAD_DIM / VW)       // accumulator vectors per head
#define VALUE_HEADS LARGEST_DIVISOR(GROUP, VALUE_VECS >= 8 ? 1 : 16 / VALUE_VECS > 8 ? 8 : 16 / VALUE_VECS)
#define VALUE_CHAINS (VALUE_HEADS * VALUE_VECS >= 8 ? 1 : 2)
#define GROUP16 ((GROUP + 15) / 16 * 16) // GROUP rounded up to whole float16 vectors
// The largest lane of a float16 (only attention takes maxima of vectors, so it is not in common.h).
inline float hmax(float16 s) {          // the largest lane (masked lanes are −∞; scores are never NaN for finite inputs)
    float8 a = select(s.hi, s.lo, s.lo > s.hi);
    float4 b = select(a.hi, a.lo, a.lo > a.hi);
    float2 c = select(b.hi, b.lo, b.lo > b.hi);
    return c.x > c.y ? c.x : c.y;
}
#define LANE ((int16) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)) // tile lane numbers

// Encoder–decoder attention (T5), a build option: with ENC_DEC the kernels take two more arguments, relBias and keys.
//   keys > 0: not causal, row t sees positions 0..keys−1 (the encoder, cross-attention); 0: causal as without it.
//   With REL_BIAS = D (T5's maximum distance, 128) the score of query position qp and key position p gains
//   relBias[(clamp(p − qp, −D, D) + D)·heads + h] for query head h: the relative-position bias table expanded per
//   distance by the host ((2D + 1, heads) F32; every bucket is constant past ±D, so the clamp is exact).
#ifdef ENC_DEC
#define ENC_DEC_KERNEL_PARAMS , __global const float* relBias, int keys
#define ENC_DEC_PARAMS , const __global float* relBias, int qpos, int heads
#define ENC_DEC_ARGS(qpos) , relBias, qpos, heads
#define VISIBLE_END(pos) (keys > 0 ? keys : (pos) + 1)
#else
#define ENC_DEC_KERNEL_PARAMS
#define ENC_DEC_PARAMS
#define ENC_DEC_ARGS(qpos)
#define VISIBLE_END(pos) ((pos) + 1)
#endif
#ifdef REL_BIAS
#define REL_BIAS_AT(p, qpos, h) relBias[(clamp((p) - (qpos), -(REL_BIAS), REL_BIAS) + (REL_BIAS)) * heads + (h)]
#endif

// Both helpers are always inlined: called as functions, their private arrays would be reached through pointers
// (POCL did not inline attention_tiles by itself, and attention ran slower as a call).
// The group's starting state: qs = scale · q rows of its query heads (qr: the first), acc = 0, m = −∞, l = 0.
__attribute__((always_inline))
inline void attention_start(const __global float* qr, float scale, float qs[GROUP][HEAD_DIM],
                            vecf acc[GROUP][HEAD_DIM / VW], float m[GROUP], float16 l[GROUP]) {
    for (int i = 0; i < GROUP; i++) {
        for (int d = 0; d < HEAD_DIM; d++) qs[i][d] = qr[i * HEAD_DIM + d] * scale;
        #pragma unroll
        for (int j = 0; j < HEAD_DIM / VW; j++) acc[i][j] = (vecf) 0.0f;
        m[i] = -INFINITY;
        l[i] = (float16) 0.0f;
    }
}

// Adds positions [first, end) of KV head g's cache (table: the sequence's block table) to the group's state, in
// 16-position tiles aligned to 16 (a tile lies inside one block) with the lanes outside [first, end) masked. A
// tile's 16 scores are one float16 built by HEAD_DIM multiply-adds (keys transposed: no horizontal sum per
// position); score soft-capped to softcap·tanh(score / softcap) when softcap > 0. ks, vs: the INT8 cache's scales
// (unused otherwise).
__attribute__((always_inline))
inline void attention_tiles(const __global KV_T* kc, const __global KV_T* vc, const __global float* ks,
                            const __global float* vs, const __global int* table, int g, int kvHeads, int numBlocks,
                            int first, int end, float softcap, float qs[GROUP][HEAD_DIM],
                            vecf acc[GROUP][HEAD_DIM / VW], float m[GROUP], float16 l[GROUP] ENC_DEC_PARAMS) {
    float dm[GROUP16], corr[GROUP16];  // per tile: each head's change of running maximum and its rescale factor
    for (int i = 0; i < GROUP16; i++) dm[i] = 0.0f;
    for (int p0 = first - first % 16; p0 < end; p0 += 16) {
        int b = table[p0 / BLOCK], slot = p0 % BLOCK;
        int lo = max(first - p0, 0), hi = min(end - p0, 16);  // the tile's valid lanes [lo, hi)
        int16 valid = LANE >= lo && LANE < hi;
        const __global KV_T* kt = kc + ((size_t) g * numBlocks + b) * HEAD_DIM * BLOCK + slot;
        const __global KV_T* vt = vc + (((size_t) g * numBlocks + b) * BLOCK + slot) * HEAD_DIM;
#ifdef KV_I8
        float kScale = ks[b * kvHeads + g], vScale = vs[b * kvHeads + g];
#else
        const float kScale = 1.0f, vScale = 1.0f;
        (void) ks, (void) vs, (void) kvHeads;  // the INT8 cache's scales; FP16 and F32 have none
#endif
        // The tile in two passes over the group, so that no head waits on another's chain of dependent steps:
        // first every head's 16 scores and new running maximum, then the rescale factors of all heads as one vector
        // exp, then every head's weights, running sum and accumulator.
        float16 sc[GROUP];                 // the tile's scores per query head
        for (int h0 = 0; h0 < GROUP; h0 += SCORE_HEADS) {
            float16 sp[SCORE_HEADS][SCORE_CHAINS];
            #pragma unroll
            for (int i = 0; i < SCORE_HEADS; i++) {
                #pragma unroll
                for (int e = 0; e < SCORE_CHAINS; e++) sp[i][e] = (float16) 0.0f;
            }
            #pragma unroll
            for (int d = 0; d < HEAD_DIM; d++) {
                float16 kd = KV_LOAD16(d * BLOCK, kt);
                #pragma unroll
                for (int i = 0; i < SCORE_HEADS; i++) sp[i][d % SCORE_CHAINS] += qs[h0 + i][d] * kd;
            }
            #pragma unroll
            for (int i = 0; i < SCORE_HEADS; i++) {
                float16 s = sp[i][0];
                #pragma unroll
                for (int e = 1; e < SCORE_CHAINS; e++) s += sp[i][e];
                sc[h0 + i] = s;
            }
        }
        for (int i = 0; i < GROUP; i++) {
            float16 s = sc[i] * kScale;
#ifdef REL_BIAS
            float rb[16];
            for (int e = 0; e < 16; e++) rb[e] = REL_BIAS_AT(p0 + e, qpos, g * GROUP + i);
            s += vload16(0, rb);
#endif
            if (softcap > 0.0f) s = softcap * tanh(s / softcap);
            s = select((float16) (-INFINITY), s, valid);
            float tileMax = hmax(s), mNew = m[i] > tileMax ? m[i] : tileMax;
            dm[i] = m[i] - mNew;           // −∞ on the first tile: its rescale factor is 0
            m[i] = mNew;
            sc[i] = s;
        }
        for (int i0 = 0; i0 < GROUP; i0 += 16) vstore16(exp(vload16(0, dm + i0)), 0, corr + i0);
        float wt[GROUP][16];               // each head's weights (times the INT8 value scale), read lane by lane
        for (int i = 0; i < GROUP; i++) {
            float16 w = exp(sc[i] - m[i]);
            l[i] = l[i] * corr[i] + w;
            vstore16(w * vScale, 0, wt[i]);
        }
        // A masked lane's weight is exactly 0, and its value row is read from a valid lane's slot: slots past pos may
        // never have been written (0 · NaN would poison the sum), and a finite row times 0 adds nothing.
        for (int h0 = 0; h0 < GROUP; h0 += VALUE_HEADS) {
            vecf a[VALUE_CHAINS][VALUE_HEADS][HEAD_DIM / VW];  // these heads' accumulators in registers
            #pragma unroll
            for (int i = 0; i < VALUE_HEADS; i++) {
                #pragma unroll
                for (int j = 0; j < HEAD_DIM / VW; j++) {
                    a[0][i][j] = acc[h0 + i][j] * corr[h0 + i];
                    #pragma unroll
                    for (int e = 1; e < VALUE_CHAINS; e++) a[e][i][j] = (vecf) 0.0f;
                }
            }
            #pragma unroll
            for (int p = 0; p < 16; p++) {
                int row = min(max(p, lo), hi - 1);
                #pragma unroll
                for (int j = 0; j < HEAD_DIM / VW; j++) {
                    vecf v = KV_VLOAD(row * HEAD_DIM + j * VW, vt);
                    #pragma unroll
                    for (int i = 0; i < VALUE_HEADS; i++) a[p % VALUE_CHAINS][i][j] += wt[h0 + i][p] * v;
                }
            }
            #pragma unroll
            for (int i = 0; i < VALUE_HEADS; i++) {
                #pragma unroll
                for (int j = 0; j < HEAD_DIM / VW; j++) {
                    vecf sum = a[0][i][j];
                    #pragma unroll
                    for (int e = 1; e < VALUE_CHAINS; e++) sum += a[e][i][j];
                    acc[h0 + i][j] = sum;
                }
            }
        }
    }
}
#endif
