// attention_lanes.h: attention over the paged cache shaped for GPUs (attention_kv_f32_lanes). The element type
//   (FP16, KV_F32 or KV_I8), shape defines and cache layout are attention_tiles.h's.
//   One work-group of ATT_LANES work-items per (KV head g, chunk c, row t) runs the online softmax of all GROUP query
//   heads of g over the positions [c·chunk, (c + 1)·chunk) ∩ [first, pos] (first = max(0, pos − window + 1) when
//   window > 0, else 0) and stores the split kernels' partial state for attention_f32_f32_combine:
//   part[((t·heads + g·GROUP + i)·splits + c)·(HEAD_DIM + 2) + …] = (acc[0..HEAD_DIM), m, l), unnormalised; a chunk
//   with no position stores m = −∞, l = 0, acc = 0.
//   The chunk is walked in tiles of ATT_LANES positions aligned to ATT_LANES. Lane j scores position p0 + j for every
//   head of the group (keys are transposed within their block, so the lanes of a tile read neighbouring slots of
//   each key row), the group's new running maxima come from a max over the lanes in local memory, and each lane then
//   adds the tile's weighted values to its own dimensions d = j, j + ATT_LANES, … of every head (a value row read
//   across the lanes). Per lane: GROUP × ceil(HEAD_DIM / ATT_LANES) accumulators and a running sum per head (summed
//   over the lanes at the end); the scaled queries and the tile's scores or weights live in local memory.
//   Masked lanes (outside the chunk, the window or past pos) read a valid position's key, score −∞ and weigh 0;
//   value rows are read only for valid positions, so slots an earlier sequence left NaN never reach the sums.
// Launch: global (ATT_LANES·kvHeads, splits, n), local (ATT_LANES, 1, 1); the entry point declares the local arrays
//   qs[GROUP·HEAD_DIM] and wt[GROUP·ATT_LANES].
#ifndef ATTENTION_LANES_H
#define ATTENTION_LANES_H
#include "attention_tiles.h"
#ifndef ATT_LANES
#define ATT_LANES 32 // work-items per group = positions per tile (a power of two)
#endif
#define ATT_DIMS ((HEAD_DIM + ATT_LANES - 1) / ATT_LANES) // value dimensions per lane
#ifdef ENC_DEC
#define ENC_DEC_LANES_PARAMS , const __global float* relBias, int keys
#define ENC_DEC_LANES_ARGS , relBias, keys
#else
#define ENC_DEC_LANES_PARAMS
#define ENC_DEC_LANES_ARGS
#endif

// wt[i·ATT_LANES + 0] ← the max (or sum) over the lanes of wt[i·ATT_LANES + lane], for every head i; every lane
// must call it (barriers inside) and may read the results after it returns.
__attribute__((always_inline))
inline void attention_lanes_reduce(__local float* wt, int lane, int isMax) {
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = ATT_LANES / 2; h > 0; h >>= 1) {
        if (lane < h) {
            for (int i = 0; i < GROUP; i++) {
                float a = wt[i * ATT_LANES + lane], b = wt[i * ATT_LANES + lane + h];
                wt[i * ATT_LANES + lane] = isMax ? fmax(a, b) : a + b;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

__attribute__((always_inline))
inline void attention_lanes(const __global float* q, const __global KV_T* kc, const __global KV_T* vc,
                            const __global float* ks, const __global float* vs, __global float* part,
                            const __global int* ints, int posOff, int tabOff, int heads, int kvHeads, int numBlocks,
                            float scale, int splits, int chunk, float softcap, int window,
                            __local float* qs, __local float* wt ENC_DEC_LANES_PARAMS) {
    int lane = get_local_id(0), g = get_group_id(0), c = get_global_id(1), t = get_global_id(2);
    const __global int* table = ints + tabOff + ints[tabOff + t];  // row t's sequence's block table
#ifndef KV_I8
    (void) ks, (void) vs, (void) kvHeads;  // the INT8 cache's scales; FP16 and F32 have none
#endif
    const __global float* qr = q + ((size_t) t * heads + g * GROUP) * HEAD_DIM;
    for (int k = lane; k < GROUP * HEAD_DIM; k += ATT_LANES) qs[k] = qr[k] * scale;
    int pos = ints[posOff + t];
    int first = max(window > 0 ? max(0, pos - window + 1) : 0, c * chunk), end = min(VISIBLE_END(pos), (c + 1) * chunk);
    float m[GROUP], l[GROUP], corr[GROUP], s[GROUP], acc[GROUP][ATT_DIMS];
    for (int i = 0; i < GROUP; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
        for (int e = 0; e < ATT_DIMS; e++) acc[i][e] = 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);  // qs complete
    // first, end and so every loop bound below are the same for the whole work-group: all lanes meet every barrier
    for (int p0 = first - first % ATT_LANES; p0 < end; p0 += ATT_LANES) {
        int p = p0 + lane;
        int valid = p >= first && p < end;
        int pk = clamp(p, first, end - 1);  // a masked lane reads a valid position's key
        int b = table[pk / BLOCK];
        const __global KV_T* kt = kc + ((size_t) g * numBlocks + b) * HEAD_DIM * BLOCK + pk % BLOCK;
#ifdef KV_I8
        float kScale = ks[b * kvHeads + g];
#else
        const float kScale = 1.0f;
#endif
        for (int i = 0; i < GROUP; i++) s[i] = 0.0f;
        for (int d = 0; d < HEAD_DIM; d++) {
            float kd = KV_LOAD(d * BLOCK, kt);
            for (int i = 0; i < GROUP; i++) s[i] += qs[i * HEAD_DIM + d] * kd;
        }
        for (int i = 0; i < GROUP; i++) {
            float v = s[i] * kScale;
#ifdef REL_BIAS
            v += REL_BIAS_AT(pk, pos, g * GROUP + i);
#endif
            if (softcap > 0.0f) v = softcap * tanh(v / softcap);
            s[i] = valid ? v : -INFINITY;
            wt[i * ATT_LANES + lane] = s[i];
        }
        attention_lanes_reduce(wt, lane, 1);
        for (int i = 0; i < GROUP; i++) {
            float mNew = fmax(m[i], wt[i * ATT_LANES]);  // finite: every tile holds a valid position
            corr[i] = exp(m[i] - mNew);                   // 0 on the first tile (m = −∞)
            m[i] = mNew;
        }
        barrier(CLK_LOCAL_MEM_FENCE);  // every lane has read the maxima before wt takes the weights
        for (int i = 0; i < GROUP; i++) {
            float w = valid ? exp(s[i] - m[i]) : 0.0f;
            wt[i * ATT_LANES + lane] = w;
            l[i] = l[i] * corr[i] + w;
            for (int e = 0; e < ATT_DIMS; e++) acc[i][e] *= corr[i];
        }
        barrier(CLK_LOCAL_MEM_FENCE);  // the tile's weights complete
        int lo = max(first - p0, 0), hi = min(end - p0, ATT_LANES);  // the tile's valid positions
        for (int j = lo; j < hi; j++) {
            int pj = p0 + j, bj = table[pj / BLOCK];
            const __global KV_T* vr = vc + (((size_t) g * numBlocks + bj) * BLOCK + pj % BLOCK) * HEAD_DIM;
#ifdef KV_I8
            float vScale = vs[bj * kvHeads + g];
#else
            const float vScale = 1.0f;
#endif
            for (int e = 0; e < ATT_DIMS; e++) {
                int d = lane + e * ATT_LANES;
                if (d < HEAD_DIM) {
                    float vd = KV_LOAD(d, vr) * vScale;
                    for (int i = 0; i < GROUP; i++) acc[i][e] += wt[i * ATT_LANES + j] * vd;
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);  // every lane is done with the weights before the next tile's scores
    }
    for (int i = 0; i < GROUP; i++) wt[i * ATT_LANES + lane] = l[i];
    attention_lanes_reduce(wt, lane, 0);
    for (int i = 0; i < GROUP; i++) {
        __global float* o = part + (((size_t) t * heads + g * GROUP + i) * splits + c) * (HEAD_DIM + 2);
        for (int e = 0; e < ATT_DIMS; e++) {
            int d = lane + e * ATT_LANES;
            if (d < HEAD_DIM) o[d] = acc[i][e];
        }
        if (lane == 0) {
            o[HEAD_DIM] = m[i];
            o[HEAD_DIM + 1] = wt[i * ATT_LANES];
        }
    }
}
#endif
