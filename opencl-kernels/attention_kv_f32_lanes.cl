// attention_kv_f32_lanes: split-over-context attention shaped for GPUs: a work-group of ATT_LANES work-items per
//   (KV head, chunk, row) instead of attention_kv_f32_split's one work-item, so a tile's keys and value rows are
//   read across the lanes and each lane keeps a few accumulators instead of a whole query group's
//   (attention_lanes.h). Scale, soft-cap and sliding window as attention_kv_f32_split; stores the same partials,
//   merged by attention_f32_f32_combine. ENC_DEC (unmasked extent, T5's relative bias) as attention_kv_f32. Cache element type as attention_kv_f32 (FP16, KV_F32, or KV_I8 with ks, vs).
// Layout: q (n, heads·HEAD_DIM) F32; kc, vc, ks, vs the paged cache of attention_tiles.h; ints: positions at
//   posOff, block tables at tabOff (row t's at tabOff + ints[tabOff + t]); part (n, heads, splits, HEAD_DIM + 2) F32. chunk: positions per work-group, a
//   multiple of ATT_LANES; the host cuts the context so that rows × KV heads × chunks give each compute unit about
//   four work-groups (not tuned yet). Chosen whenever the backend has lanes (GPUs; -Dinfercl.opencl.lanes=N forces
//   it), with ATT_LANES = the lanes (32 on GPUs).
// Launch: global (ATT_LANES·kvHeads, splits, n), local (ATT_LANES, 1, 1).
#include "attention_lanes.h"

__kernel void kernel_attention_kv_f32_lanes(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                            __global const float* ks, __global const float* vs, __global float* part,
                                            __global const int* ints, int posOff, int tabOff, int heads, int kvHeads,
                                            int numBlocks, float scale, int splits, int chunk, float softcap, int window
                                            ENC_DEC_KERNEL_PARAMS) {
    __local float qs[GROUP * HEAD_DIM], wt[GROUP * ATT_LANES];
    attention_lanes(q, kc, vc, ks, vs, part, ints, posOff, tabOff, heads, kvHeads, numBlocks, scale, splits, chunk,
                    softcap, window, qs, wt ENC_DEC_LANES_ARGS);
}
