// attention_i8_f32_lanes: attention_f16_f32_lanes over the paged INT8 KV cache (kvwrite_i8_f32): keys and values
//   widened to float as they are read, scaled by their (block, KV head) scales ks and vs (attention_lanes.h with
//   KV_I8). Stores the split partials, merged by attention_f32_f32_combine.
// Layout: q (n, heads·HEAD_DIM) F32; kc, vc int8 and ks, vs F32 scales (numBlocks, kvHeads) as in attention_i8_f32;
//   ints: positions at posOff, block table at tabOff; part (n, heads, splits, HEAD_DIM + 2) F32. chunk: positions per
//   work-group, a multiple of ATT_LANES.
// Launch: global (ATT_LANES·kvHeads, splits, n), local (ATT_LANES, 1, 1).
#define KV_I8 1
#include "attention_lanes.h"

__kernel void kernel_attention_i8_f32_lanes(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                            __global const float* ks, __global const float* vs, __global float* part,
                                            __global const int* ints, int posOff, int tabOff, int heads, int kvHeads,
                                            int numBlocks, float scale, int splits, int chunk, float softcap, int window) {
    __local float qs[GROUP * HEAD_DIM], wt[GROUP * ATT_LANES];
    attention_lanes(q, kc, vc, ks, vs, part, ints, posOff, tabOff, heads, kvHeads, numBlocks, scale, splits, chunk,
                    softcap, window, qs, wt);
}
