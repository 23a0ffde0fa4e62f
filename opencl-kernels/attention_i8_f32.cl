// attention_i8_f32: attention_f16_f32 over the paged INT8 KV cache (kvwrite_i8_f32): fused causal grouped-query
//   attention with online softmax, optional soft-cap and sliding window. Keys and values are dequantized in
//   registers with their (block, head) scale, which is factored out of the sums:
//   score_p = (scale · ks[block][g]) · Σ_i q[t][h][i] · kq[p][g][i];  acc += (w_p · vs[block][g]) · vq[p][g].
//   For row t and query head h (KV head g = h / GROUP, GROUP = heads / kvHeads), pos = positions[posOff + t]:
//   out[t][h] = Σ_{first≤p≤pos} softmax_p(score_p) · V[p][g]; score soft-capped to softcap·tanh(score / softcap)
//   when softcap > 0; first = max(0, pos − window + 1) when window > 0, else 0.
//   As in attention_f16_f32, one work-item serves all GROUP query heads of its KV head (each K and V row read once
//   per row t), in tiles of at most 16 positions inside one cache block, so a tile shares one pair of scales
//   (attention_tiles in attention_i8_f32.h);
//   a tile's scores are soft-capped, max-reduced and exponentiated as one float16.
// Layout: q, out (n, heads·HEAD_DIM) F32 at (t·heads + h)·HEAD_DIM + i; kc, vc one layer of the cache,
//   (numBlocks, kvHeads, blockSize, HEAD_DIM) int8: position p lives in block b = ints[tabOff + p / blockSize],
//   slot p % blockSize, at ((b·kvHeads + g)·blockSize + slot)·HEAD_DIM + i; ks, vs (numBlocks, kvHeads) F32 at
//   b·kvHeads + g; ints holds positions at posOff and the block table at tabOff.
// Launch: global (kvHeads, n); no local size. One work-item per (KV head, row).
#include "attention_i8_f32.h"
__kernel void kernel_attention_i8_f32(__global const float* q, __global const char* kc, __global const char* vc,
                                      __global const float* ks, __global const float* vs,
                                      __global float* out, __global const int* ints, int posOff, int tabOff,
                                      int heads, int kvHeads, int blockSize, float scale,
                                      float softcap, int window) {
    int g = get_global_id(0), t = get_global_id(1);
    vecf qv[GROUP][HEAD_DIM / VW], acc[GROUP][HEAD_DIM / VW];
    float m[GROUP], l[GROUP];
    attention_start(q + ((size_t) t * heads + g * GROUP) * HEAD_DIM, qv, acc, m, l);
    int pos = ints[posOff + t];
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    attention_tiles(kc, vc, ks, vs, ints + tabOff, g, kvHeads, blockSize, first, pos + 1, scale, softcap, qv, acc, m, l);
    __global float* o = out + ((size_t) t * heads + g * GROUP) * HEAD_DIM;
    for (int i = 0; i < GROUP; i++) {
        for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[i][j] / l[i], i * HEAD_DIM + j * VW, o);
    }
}
