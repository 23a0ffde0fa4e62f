// attention_f16_f32_split: the first half of split-over-context attention (decode of a long sequence):
//   the context 0..len−1 of row t is cut into chunks of CHUNK positions; work-item (g, s, t) runs the same
//   online softmax as attention_f16_f32 (all GROUP query heads of KV head g, tiles of at most 16 positions
//   inside one cache block; scale, soft-cap, sliding window: positions before first = max(0, pos − window + 1)
//   are skipped when window > 0) over chunk s only and stores, per query head h = g·GROUP + i, its partial state
//   part[((t·heads + h)·splits + s)·(HEAD_DIM + 2) + …] = (acc[0..HEAD_DIM), m, l), unnormalised.
//   A chunk past len or wholly before first stores m = −∞, l = 0, acc = 0. attention_f32_f32_combine merges the partials.
// Layout: q (n, heads·HEAD_DIM) F32; kc, vc paged FP16 cache as in attention_f16_f32; ints: positions at
//   posOff, block table at tabOff; part (n, heads, splits, HEAD_DIM + 2) F32.
// Launch: global (kvHeads, splits, n); local size 1 so every (KV head, chunk) is its own task.
#ifdef KV_F32
#define KV_T float                      // an F32 cache (exact keys and values)
#define KV_LOAD(i, p) ((p)[i])
#else
#define KV_T half                       // the default FP16 cache, through vload_half (no cl_khr_fp16)
#define KV_LOAD(i, p) vload_half(i, p)
#endif
#ifndef HEAD_DIM
#define HEAD_DIM 64 // values per head (compile-time so q and acc stay in private arrays)
#endif
#ifndef GROUP
#define GROUP 1     // query heads per KV head (heads / kvHeads; the host passes it)
#endif
#ifndef CHUNK
#define CHUNK 256   // positions per split (the host uses the same value to count splits)
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
#define LANE ((int16) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)) // tile lane numbers
__kernel void kernel_attention_f16_f32_split(__global const float* q, __global const KV_T* kc, __global const KV_T* vc,
                                             __global float* part, __global const int* ints, int posOff, int tabOff,
                                             int heads, int kvHeads, int blockSize, int numBlocks, float scale, int splits,
                                             float softcap, int window) {
    int g = get_global_id(0), s = get_global_id(1), t = get_global_id(2);
    const __global float* qr = q + ((size_t) t * heads + g * GROUP) * HEAD_DIM;
    vecf qv[GROUP][HEAD_DIM / VW], acc[GROUP][HEAD_DIM / VW];
    float m[GROUP], l[GROUP];
    for (int i = 0; i < GROUP; i++) {
        #pragma unroll
        for (int j = 0; j < HEAD_DIM / VW; j++) {
            qv[i][j] = VLOADF(i * HEAD_DIM + j * VW, qr) * scale;
            acc[i][j] = (vecf) 0.0f;
        }
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    int pos = ints[posOff + t], len = pos + 1;
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    int end = min(len, (s + 1) * CHUNK);
    for (int p0 = max(first, s * CHUNK); p0 < end;) {
        int slot = p0 % blockSize, count = min(min(16, blockSize - slot), end - p0);
        size_t base = (((size_t) g * numBlocks + ints[tabOff + p0 / blockSize]) * blockSize + slot) * HEAD_DIM;
        for (int i = 0; i < GROUP; i++) {
            vecf qi[HEAD_DIM / VW], ai[HEAD_DIM / VW];  // this head's q and acc, in registers for the tile
            #pragma unroll
            for (int j = 0; j < HEAD_DIM / VW; j++) {
                qi[j] = qv[i][j];
                ai[j] = acc[i][j];
            }
            float st[16], wt[16];
            for (int p = 0; p < count; p++) {
                vecf dot = (vecf) 0.0f;
                #pragma unroll
                for (int j = 0; j < HEAD_DIM / VW; j++) dot += qi[j] * KV_VLOAD(base + p * HEAD_DIM + j * VW, kc);
                st[p] = vsum(dot);
            }
            for (int p = count; p < 16; p++) st[p] = 0.0f;
            // the tile's scores as one vector: soft-cap, maximum and exponentials 16 at a time
            float16 s = vload16(0, st);
            if (softcap > 0.0f) s = softcap * tanh(s / softcap);
            s = select((float16) (-INFINITY), s, LANE < count);
            float8 m8 = fmax(s.lo, s.hi);
            float4 m4 = fmax(m8.lo, m8.hi);
            float mNew = fmax(m[i], fmax(fmax(m4.x, m4.y), fmax(m4.z, m4.w))), corr = exp(m[i] - mNew);
            float16 w = exp(s - mNew);
            float8 w8 = w.lo + w.hi;
            float4 w4 = w8.lo + w8.hi;
            l[i] = l[i] * corr + (w4.x + w4.y + w4.z + w4.w);
            vstore16(w, 0, wt);
            #pragma unroll
            for (int j = 0; j < HEAD_DIM / VW; j++) ai[j] *= corr;
            for (int p = 0; p < count; p++) {
                float wp = wt[p];
                #pragma unroll
                for (int j = 0; j < HEAD_DIM / VW; j++) ai[j] += wp * KV_VLOAD(base + p * HEAD_DIM + j * VW, vc);
            }
            #pragma unroll
            for (int j = 0; j < HEAD_DIM / VW; j++) acc[i][j] = ai[j];
            m[i] = mNew;
        }
        p0 += count;
    }
    for (int i = 0; i < GROUP; i++) {
        __global float* o = part + (((size_t) t * heads + g * GROUP + i) * splits + s) * (HEAD_DIM + 2);
        #pragma unroll
        for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[i][j], j * VW, o);
        o[HEAD_DIM] = m[i];
        o[HEAD_DIM + 1] = l[i];
    }
}
