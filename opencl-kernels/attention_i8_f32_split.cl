// attention_i8_f32_split: attention_f16_f32_split over the paged INT8 KV cache (kvwrite_i8_f32): the context
//   0..len−1 of row t is cut into chunks of CHUNK positions; work-item (g, s, t) runs the online softmax of
//   attention_i8_f32 (all GROUP query heads of KV head g; keys and values dequantized in registers with their
//   (block, head) scale; soft-cap; sliding window: positions before first = max(0, pos − window + 1) skipped when
//   window > 0) over chunk s only and stores, per query head h = g·GROUP + i, its partial state
//   part[((t·heads + h)·splits + s)·(HEAD_DIM + 2) + …] = (acc[0..HEAD_DIM), m, l), unnormalised.
//   A chunk past len or wholly before first stores m = −∞, l = 0, acc = 0.
//   attention_f32_f32_combine merges the partials.
// Layout: q (n, heads·HEAD_DIM) F32; kc, vc int8 and ks, vs F32 scales as in attention_i8_f32; ints: positions
//   at posOff, block table at tabOff; part (n, heads, splits, HEAD_DIM + 2) F32.
// Launch: global (kvHeads, splits, n); local size 1 so every (KV head, chunk) is its own task.
#include "attention_i8_f32.h"
#ifndef CHUNK
#define CHUNK 256   // positions per split (the host uses the same value to count splits)
#endif
__kernel void kernel_attention_i8_f32_split(__global const float* q, __global const char* kc, __global const char* vc,
                                            __global const float* ks, __global const float* vs,
                                            __global float* part, __global const int* ints, int posOff, int tabOff,
                                            int heads, int kvHeads, int blockSize, float scale, int splits,
                                            float softcap, int window) {
    int g = get_global_id(0), s = get_global_id(1), t = get_global_id(2);
    vecf qv[GROUP][HEAD_DIM / VW], acc[GROUP][HEAD_DIM / VW];
    float m[GROUP], l[GROUP];
    attention_start(q + ((size_t) t * heads + g * GROUP) * HEAD_DIM, qv, acc, m, l);
    int pos = ints[posOff + t];
    int first = max(window > 0 ? max(0, pos - window + 1) : 0, s * CHUNK), end = min(pos + 1, (s + 1) * CHUNK);
    attention_tiles(kc, vc, ks, vs, ints + tabOff, g, kvHeads, blockSize, first, end, scale, softcap, qv, acc, m, l);
    for (int i = 0; i < GROUP; i++) {
        __global float* o = part + (((size_t) t * heads + g * GROUP + i) * splits + s) * (HEAD_DIM + 2);
        for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[i][j], j * VW, o);
        o[HEAD_DIM] = m[i];
        o[HEAD_DIM + 1] = l[i];
    }
}
