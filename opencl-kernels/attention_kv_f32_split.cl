// attention_kv_f32_split: the first half of split-over-context attention (decode of a long sequence): the context
//   0..len−1 of row t is cut into chunks of CHUNK positions (a multiple of 16); work-item (g, c, t) runs the online
//   softmax of attention_kv_f32 (all GROUP query heads of KV head g; scale, soft-cap, sliding window) over chunk c
//   only and stores, per query head h = g·GROUP + i, its unnormalised partial state
//   part[((t·heads + h)·splits + c)·(HEAD_DIM + 2) + …] = (acc[0..HEAD_DIM), m, l). A chunk past len or wholly
//   before the window stores m = −∞, l = 0, acc = 0. attention_f32_f32_combine merges the partials.
//   ENC_DEC (unmasked extent, T5's relative bias) as attention_kv_f32. Cache element type as attention_kv_f32 (FP16, KV_F32 or KV_I8 with the scales ks, vs).
// Layout: q (n, heads·HEAD_DIM) F32; kc, vc, ks, vs the paged cache of attention_tiles.h; ints: positions at
//   posOff, block tables at tabOff (row t's at tabOff + ints[tabOff + t]); part (n, heads, splits, HEAD_DIM + 2) F32.
// Chosen by the host for decode of long contexts (the longest row spans at least two chunks) when rows × KV heads
//   give fewer than 2 work-items per compute unit.
// Launch: global (kvHeads, splits, n); local size 1 so every (KV head, chunk) is its own task.
#include "attention_tiles.h"
#ifndef CHUNK
#define CHUNK 256   // positions per split (the host uses the same value to count splits)
#endif
#if CHUNK % 16 != 0
#error "CHUNK must be a multiple of the 16-position tile"
#endif
__kernel void kernel_attention_kv_f32_split(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                            __global const float* ks, __global const float* vs, __global float* part,
                                            __global const int* ints, int posOff, int tabOff, int heads, int kvHeads,
                                            int numBlocks, float scale, int splits, float softcap, int window ENC_DEC_KERNEL_PARAMS) {
    int g = get_global_id(0), c = get_global_id(1), t = get_global_id(2);
    float qs[GROUP][HEAD_DIM];
    vecf acc[GROUP][HEAD_DIM / VW];
    float m[GROUP];
    float16 l[GROUP];
    attention_start(q + ((size_t) t * heads + g * GROUP) * HEAD_DIM, scale, qs, acc, m, l);
    int pos = ints[posOff + t];
    int first = max(window > 0 ? max(0, pos - window + 1) : 0, c * CHUNK), end = min(VISIBLE_END(pos), (c + 1) * CHUNK);
    attention_tiles(kc, vc, ks, vs, ints + tabOff + ints[tabOff + t], g, kvHeads, numBlocks, first, end, softcap, qs, acc, m, l ENC_DEC_ARGS(pos));
    for (int i = 0; i < GROUP; i++) {
        __global float* o = part + (((size_t) t * heads + g * GROUP + i) * splits + c) * (HEAD_DIM + 2);
        #pragma unroll
        for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[i][j], j * VW, o);
        o[HEAD_DIM] = m[i];
        o[HEAD_DIM + 1] = hsum16(l[i]);
    }
}
