// kvwrite_f16_f32_rope: rope_f32_f32 and kvwrite_f16_f32 in one launch: rotates q and k in place and stores the
//   rotated k and v of row t at position p = positions[posOff + t] of one layer's paged cache.
//   Pair i < ropeDims/2 of a head: θ = p · invFreq[i], c = cos θ · magnitude, s = sin θ · magnitude;
//   (x[a], x[b]) ← (x[a]c − x[b]s, x[a]s + x[b]c) with a = 2i, b = 2i + 1 (neox = 0) or a = i, b = i + ropeDims/2
//   (neox = 1) — rope_f32_f32's arithmetic (invFreq and magnitude carry the scaling, see there); pairs
//   i ≥ ropeDims/2 (partial rotary) are a = 2i, b = 2i + 1, copied unrotated and unscaled. KV head g of row t goes to
//   kc[((g·numBlocks + block)·headDim + a)·blockSize + p % blockSize] (keys transposed within their block) and
//   vc[((g·numBlocks + block)·blockSize + p % blockSize)·headDim + a] with block =
//   table_t[p / blockSize] (row t's sequence's table, at tabOff + ints[tabOff + t]),
//   as kvwrite_f16_f32 (round to nearest even into FP16, or F32 with KV_F32).
// Layout: q (n, qHeads·headDim), k, v (n, kvHeads·headDim) F32 row-major; kc (kvHeads, numBlocks, headDim,
//   blockSize), vc (kvHeads, numBlocks, blockSize, headDim); invFreq (ropeDims/2) F32; ints holds positions at
//   posOff and the block tables at tabOff.
// Launch: global (headDim/2, n), no local size: work-item (i, t) computes cos/sin of its pair once and applies them to
//   every q head and KV head of row t (one work-item per head and pair would compute them once per head: 36 times
//   over on the 1b shape).
#include "kvwrite_f16_f32.h"
__kernel void kernel_kvwrite_f16_f32_rope(__global float* q, __global float* k, __global const float* v, __global KV_T* kc, __global KV_T* vc,
        __global const int* ints, int posOff, int tabOff, __global const float* invFreq,
        int qHeads, int kvHeads, int blockSize, int numBlocks, int headDim, int ropeDims, int neox, float magnitude) {
    int i = get_global_id(0), t = get_global_id(1);
    int p = ints[posOff + t];
    bool rotate = i < ropeDims / 2;
    int a = rotate && neox ? i : 2 * i, b = rotate && neox ? i + ropeDims / 2 : 2 * i + 1;
    float c = 1.0f, s = 0.0f;
    if (rotate) {
        float theta = (float) p * invFreq[i];
        c = cos(theta) * magnitude;
        s = sin(theta) * magnitude;
        for (int h = 0; h < qHeads; h++) {
            size_t base = ((size_t) t * qHeads + h) * headDim;
            float x0 = q[base + a], x1 = q[base + b];
            q[base + a] = x0 * c - x1 * s;
            q[base + b] = x0 * s + x1 * c;
        }
    }
    int block = ints[tabOff + ints[tabOff + t] + p / blockSize];  // row t's sequence's table
    for (int g = 0; g < kvHeads; g++) {
        size_t src = ((size_t) t * kvHeads + g) * headDim;
        float x0 = k[src + a], x1 = k[src + b];
        float y0 = rotate ? x0 * c - x1 * s : x0, y1 = rotate ? x0 * s + x1 * c : x1;
        k[src + a] = y0;
        k[src + b] = y1;
        size_t kdst = ((size_t) g * numBlocks + block) * headDim * blockSize + p % blockSize;
        size_t vdst = (((size_t) g * numBlocks + block) * blockSize + p % blockSize) * headDim;
        KV_STORE(y0, kdst + (size_t) a * blockSize, kc);
        KV_STORE(y1, kdst + (size_t) b * blockSize, kc);
        KV_STORE(v[src + a], vdst + a, vc);
        KV_STORE(v[src + b], vdst + b, vc);
    }
}
