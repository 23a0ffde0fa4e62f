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
__kernel void kernel_attention_f16_f32_split(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                             __global float* part, __global const int* ints, int posOff, int tabOff,
                                             int heads, int kvHeads, int blockSize, float scale, int splits,
                                             float softcap, int window) {
    int h = get_global_id(0), s = get_global_id(1), t = get_global_id(2);
    int g = h / (heads / kvHeads);
    const __global float* qr = q + ((size_t) t * heads + h) * HEAD_DIM;
    float qv[HEAD_DIM], acc[HEAD_DIM];
    for (int i = 0; i < HEAD_DIM; i++) {
        qv[i] = qr[i] * scale;
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int pos = ints[posOff + t], len = pos + 1;
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    int end = min(len, (s + 1) * CHUNK);
    for (int p = max(first, s * CHUNK); p < end; p++) {
        int block = ints[tabOff + p / blockSize];
        size_t base = (((size_t) block * kvHeads + g) * blockSize + p % blockSize) * HEAD_DIM;
        float sc = 0.0f;
        for (int i = 0; i < HEAD_DIM; i++) sc += qv[i] * KV_LOAD(base + i, kc);
        if (softcap > 0.0f) sc = softcap * tanh(sc / softcap);
        float mNew = fmax(m, sc);
        float corr = exp(m - mNew), wgt = exp(sc - mNew);
        l = l * corr + wgt;
        for (int i = 0; i < HEAD_DIM; i++) acc[i] = acc[i] * corr + wgt * KV_LOAD(base + i, vc);
        m = mNew;
    }
    __global float* o = part + (((size_t) t * heads + h) * splits + s) * (HEAD_DIM + 2);
    for (int i = 0; i < HEAD_DIM; i++) o[i] = acc[i];
    o[HEAD_DIM] = m;
    o[HEAD_DIM + 1] = l;
}
