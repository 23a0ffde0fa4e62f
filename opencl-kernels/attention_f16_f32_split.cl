// attention_f16_f32_split: the first half of split-over-context attention (decode of a long sequence):
//   the context 0..len−1 of row t is cut into chunks of CHUNK positions; work-item (h, s, t) runs the same
//   online softmax as attention_f16_f32 (scale, soft-cap, sliding window: positions before
//   first = max(0, pos − window + 1) are skipped when window > 0) over chunk s only and stores its partial state
//   part[((t·heads + h)·splits + s)·(HEAD_DIM + 2) + …] = (acc[0..HEAD_DIM), m, l), unnormalised.
//   A chunk past len or wholly before first stores m = −∞, l = 0, acc = 0. attention_f32_f32_combine merges the partials.
// Layout: q (n, heads·HEAD_DIM) F32; kc, vc paged FP16 cache as in attention_f16_f32; ints: positions at
//   posOff, block table at tabOff; part (n, heads, splits, HEAD_DIM + 2) F32.
// Launch: global (heads, splits, n); no local size.
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
#define HEAD_DIM 64 // values per head
#endif
#ifndef CHUNK
#define CHUNK 256 // positions per split (the host uses the same value to count splits)
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
__kernel void kernel_attention_f16_f32_split(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                             __global float* part, __global const int* ints, int posOff, int tabOff,
                                             int heads, int kvHeads, int blockSize, float scale, int splits,
                                             float softcap, int window) {
    int h = get_global_id(0), s = get_global_id(1), t = get_global_id(2);
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
    int end = min(len, (s + 1) * CHUNK);
    for (int p = max(first, s * CHUNK); p < end; p++) {
        int block = ints[tabOff + p / blockSize];
        size_t base = (((size_t) block * kvHeads + g) * blockSize + p % blockSize) * HEAD_DIM;
        vecf dot = (vecf) 0.0f;
        for (int j = 0; j < HEAD_DIM / VW; j++) dot += qv[j] * KV_VLOAD(base + j * VW, kc);
        float sc = vsum(dot);
        if (softcap > 0.0f) sc = softcap * tanh(sc / softcap);
        float mNew = fmax(m, sc);
        float corr = exp(m - mNew), wgt = exp(sc - mNew);
        l = l * corr + wgt;
        for (int j = 0; j < HEAD_DIM / VW; j++) acc[j] = acc[j] * corr + wgt * KV_VLOAD(base + j * VW, vc);
        m = mNew;
    }
    __global float* o = part + (((size_t) t * heads + h) * splits + s) * (HEAD_DIM + 2);
    for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[j], j * VW, o);
    o[HEAD_DIM] = m;
    o[HEAD_DIM + 1] = l;
}
