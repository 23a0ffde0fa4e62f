// attention_f16_f32: fused causal grouped-query attention over the paged FP16 KV cache, online softmax.
//   For row t and query head h (KV head g = h / (heads / kvHeads)), pos = positions[posOff + t]:
//   out[t][h] = Σ_{first≤p≤pos} softmax_p(score_p) · V[p][g], score_p = scale · q[t][h]·K[p][g], soft-capped to
//   softcap·tanh(score_p / softcap) when softcap > 0; first = max(0, pos − window + 1) when window > 0 (sliding
//   window), else 0. Computed in one pass with a running
//   maximum m, running sum l and accumulator acc[HEAD_DIM] (flash-attention style: no [seq × seq] matrix).
// Layout: q, out (n, heads·HEAD_DIM) F32 at (t·heads + h)·HEAD_DIM + i; kc, vc one layer of the cache,
//   (numBlocks, kvHeads, blockSize, HEAD_DIM) F16: position p lives in block ints[tabOff + p / blockSize],
//   slot p % blockSize, at ((block·kvHeads + g)·blockSize + slot)·HEAD_DIM + i; ints holds positions at
//   posOff and the block table at tabOff.
// Launch: global (heads, n); no local size. One work-item per (head, row).
#ifdef KV_F32
#define KV_T float                      // an F32 cache (exact keys and values)
#define KV_LOAD(i, p) ((p)[i])
#define KV_STORE(v, i, p) ((p)[i] = (v))
#else
#define KV_T half                       // the default FP16 cache, through vload_half/vstore_half (no cl_khr_fp16)
#define KV_LOAD(i, p) vload_half(i, p)
#define KV_STORE(v, i, p) vstore_half_rte(v, i, p)
#endif
#ifndef HEAD_DIM
#define HEAD_DIM 64 // values per head (compile-time so q and acc stay in registers)
#endif
// Vectorised over the head: HEAD_DIM/16 float16 registers for q and the accumulator (POCL keeps a work-item's
// inner loop vectorised; notes/pocl-gemv.md); a head size that is not a multiple of 16 takes the scalar path.
#if HEAD_DIM % 16 == 0
#define VW 16
typedef float16 vecf;
#define VLOADF(i, p) vload16(0, (p) + (i))
#define VSTOREF(v, i, p) vstore16(v, 0, (p) + (i))
#ifdef KV_F32
#define KV_VLOAD(i, p) vload16(0, (p) + (i))
#else
#define KV_VLOAD(i, p) vload_half16(0, (p) + (i))
#endif
inline float vsum(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}
#else
#define VW 1
typedef float vecf;
#define VLOADF(i, p) ((p)[i])
#define VSTOREF(v, i, p) ((p)[i] = (v))
#define KV_VLOAD(i, p) KV_LOAD(i, p)
inline float vsum(float v) { return v; }
#endif
__kernel void kernel_attention_f16_f32(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                       __global float* out, __global const int* ints, int posOff, int tabOff,
                                       int heads, int kvHeads, int blockSize, float scale,
                                       float softcap, int window) {
    int h = get_global_id(0), t = get_global_id(1);
    int g = h / (heads / kvHeads);
    const __global float* qr = q + ((size_t) t * heads + h) * HEAD_DIM;
    vecf qv[HEAD_DIM / VW], acc[HEAD_DIM / VW];
    for (int j = 0; j < HEAD_DIM / VW; j++) {
        qv[j] = VLOADF(j * VW, qr) * scale;
        acc[j] = (vecf) 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int pos = ints[posOff + t], len = pos + 1;
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    for (int p = first; p < len; p++) {
        int block = ints[tabOff + p / blockSize];
        size_t base = (((size_t) block * kvHeads + g) * blockSize + p % blockSize) * HEAD_DIM;
        vecf dot = (vecf) 0.0f;
        for (int j = 0; j < HEAD_DIM / VW; j++) dot += qv[j] * KV_VLOAD(base + j * VW, kc);
        float s = vsum(dot);
        if (softcap > 0.0f) s = softcap * tanh(s / softcap);
        float mNew = fmax(m, s);
        float corr = exp(m - mNew), wgt = exp(s - mNew);
        l = l * corr + wgt;
        for (int j = 0; j < HEAD_DIM / VW; j++) acc[j] = acc[j] * corr + wgt * KV_VLOAD(base + j * VW, vc);
        m = mNew;
    }
    __global float* o = out + ((size_t) t * heads + h) * HEAD_DIM;
    for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[j] / l, j * VW, o);
}
