// attention_i8_f32: attention_f16_f32 over the paged INT8 KV cache (kvwrite_i8_f32): fused causal grouped-query
//   attention with online softmax, optional soft-cap and sliding window, the same tiles (attention_tiles.h with
//   KV_I8): keys and values are widened to float in registers and their (block, head) scales factored out of each
//   tile's sums: score_p = ks[b][g] · Σ_i (scale · q[t][h][i]) · kq[p][g][i];  acc += (w_p · vs[b][g]) · vq[p][g].
//   For row t and query head h (KV head g = h / GROUP, GROUP = heads / kvHeads), pos = positions[posOff + t]:
//   out[t][h] = Σ_{first≤p≤pos} softmax_p(score_p) · V[p][g]; score soft-capped to softcap·tanh(score / softcap)
//   when softcap > 0; first = max(0, pos − window + 1) when window > 0, else 0.
// Layout: q, out (n, heads·HEAD_DIM) F32 at (t·heads + h)·HEAD_DIM + i; kc, vc one layer of the cache, int8, laid
//   out as the FP16 cache (attention_tiles.h: KV-head-major, keys transposed within their block); ks, vs
//   (numBlocks, kvHeads) F32 at b·kvHeads + g; ints holds positions at posOff and the block table at tabOff.
// Launch: global (kvHeads, n); no local size. One work-item per (KV head, row).
#define KV_I8 1
#include "attention_tiles.h"
__kernel void kernel_attention_i8_f32(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                      __global const float* ks, __global const float* vs, __global float* out,
                                      __global const int* ints, int posOff, int tabOff, int heads, int kvHeads,
                                      int numBlocks, float scale, float softcap, int window) {
    int g = get_global_id(0), t = get_global_id(1);
    float qs[GROUP][HEAD_DIM];
    vecf acc[GROUP][HEAD_DIM / VW];
    float m[GROUP];
    float16 l[GROUP];
    attention_start(q + ((size_t) t * heads + g * GROUP) * HEAD_DIM, scale, qs, acc, m, l);
    int pos = ints[posOff + t];
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    attention_tiles(kc, vc, ks, vs, ints + tabOff, g, kvHeads, numBlocks, first, pos + 1, softcap, qs, acc, m, l);
    __global float* o = out + ((size_t) t * heads + g * GROUP) * HEAD_DIM;
    for (int i = 0; i < GROUP; i++) {
        #pragma unroll
        for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[i][j] / hsum(l[i]), i * HEAD_DIM + j * VW, o);
    }
}
