// attention_kv_f32: fused causal grouped-query attention over one layer of the paged KV cache, online softmax.
//   The cache's element type is a build option (attention_tiles.h): FP16 by default, F32 with KV_F32, int8 with
//   KV_I8 (then ks, vs hold the (block, KV head) scales; the other types ignore them).
//   For row t and query head h (KV head g = h / GROUP, GROUP = heads / kvHeads), pos = positions[posOff + t]:
//   out[t][h] = Σ_{first≤p≤pos} softmax_p(score_p) · V[p][g], score_p = scale · q[t][h]·K[p][g], soft-capped to
//   softcap·tanh(score_p / softcap) when softcap > 0; first = max(0, pos − window + 1) when window > 0 (sliding
//   window), else 0. With ENC_DEC (attention_tiles.h): unmasked over keys positions and/or T5's relative bias. One pass with a running maximum, running sum and accumulator per query head (no [seq × seq]
//   matrix). One work-item serves all GROUP query heads of its KV head, so each K and V row is read once per row t,
//   not once per query head; the walk over the context is attention_tiles (attention_tiles.h).
// Layout: q, out (n, heads·HEAD_DIM) F32 at (t·heads + h)·HEAD_DIM + i; kc, vc, ks, vs one layer of the paged cache
//   as in attention_tiles.h; ints holds positions at posOff and the block tables at tabOff
//   (row t's sequence's table starts at tabOff + ints[tabOff + t]: rows may belong to different sequences).
// Launch: global (kvHeads, n); local size 1 for one row, else none. One work-item per (KV head, row).
#include "attention_tiles.h"
__kernel void kernel_attention_kv_f32(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                      __global const float* ks, __global const float* vs, __global float* out,
                                      __global const int* ints, int posOff, int tabOff, int heads, int kvHeads,
                                      int numBlocks, float scale, float softcap, int window ENC_DEC_KERNEL_PARAMS) {
    int g = get_global_id(0), t = get_global_id(1);
    float qs[GROUP][HEAD_DIM];
    vecf acc[GROUP][HEAD_DIM / VW];
    float m[GROUP];
    float16 l[GROUP];
    attention_start(q + ((size_t) t * heads + g * GROUP) * HEAD_DIM, scale, qs, acc, m, l);
    int pos = ints[posOff + t];
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    attention_tiles(kc, vc, ks, vs, ints + tabOff + ints[tabOff + t], g, kvHeads, numBlocks, first, VISIBLE_END(pos), softcap, qs, acc, m, l
                    ENC_DEC_ARGS(pos));
    __global float* o = out + ((size_t) t * heads + g * GROUP) * HEAD_DIM;
    for (int i = 0; i < GROUP; i++) {
        #pragma unroll
        for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[i][j] / hsum16(l[i]), i * HEAD_DIM + j * VW, o);
    }
}
