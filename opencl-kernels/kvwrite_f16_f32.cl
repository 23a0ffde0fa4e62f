// kvwrite_f16_f32: stores row t of k and v (F32) into one layer of the paged FP16 KV cache.
//   p = positions[posOff + t]; block = table_t[p / blockSize] (table_t: row t's sequence's block table, at
//   tabOff + ints[tabOff + t]: rows may belong to different sequences); slot offset o = p % blockSize;
//   kc[((g·numBlocks + block)·headDim + i)·blockSize + o] = half(k[t][g·headDim + i]) (round to nearest even: keys
//   transposed within their block, so attention scores 16 positions with plain multiply-adds);
//   vc[((g·numBlocks + block)·blockSize + o)·headDim + i] = half(v[t][g·headDim + i]).
// Layout: k, v (n, kvHeads·headDim) F32; kc (kvHeads, numBlocks, headDim, blockSize) and vc (kvHeads, numBlocks,
//   blockSize, headDim) F16 (KV-head-major: one head's blocks of a sequence, allocated in order, are one sequential
//   run for the attention kernels to stream) (vstore_half_rte: no cl_khr_fp16 needed).
// FP16 (the default) keeps greedy text exact on stories260K but moves teacher-forced logits by up to ~0.02; KV_F32
//   (ClBackend.Options.withKvType(KvType.F32), -Dinfercl.opencl.kvCache=f32) builds this kernel, kvwrite_f16_f32_rope
//   and the attention kernels for an exact F32 cache.
// Launch: global (headDim, kvHeads, n); no local size.
#include "kvwrite_f16_f32.h"
__kernel void kernel_kvwrite_f16_f32(__global const float* k, __global const float* v, __global KV_T* kc, __global KV_T* vc,
                                     __global const int* ints, int posOff, int tabOff, int kvHeads, int blockSize, int numBlocks, int headDim) {
    int i = get_global_id(0), g = get_global_id(1), t = get_global_id(2);
    int p = ints[posOff + t];
    int block = ints[tabOff + ints[tabOff + t] + p / blockSize];  // row t's sequence's table
    size_t kdst = (((size_t) g * numBlocks + block) * headDim + i) * blockSize + p % blockSize;
    size_t vdst = (((size_t) g * numBlocks + block) * blockSize + p % blockSize) * headDim + i;
    size_t src = ((size_t) t * kvHeads + g) * headDim + i;
    KV_STORE(k[src], kdst, kc);
    KV_STORE(v[src], vdst, vc);
}
