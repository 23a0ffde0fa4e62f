// attention_i8_f32: attention_f16_f32 over the paged INT8 KV cache (kvwrite_i8_f32): fused causal grouped-query
//   attention with online softmax, optional soft-cap and sliding window. Keys and values are dequantized in
//   registers with their (block, head) scale, which is factored out of the sums:
//   score_p = (scale · ks[block][g]) · Σ_i q[t][h][i] · kq[p][g][i];  acc += (w_p · vs[block][g]) · vq[p][g].
//   For row t and query head h (KV head g = h / GROUP, GROUP = heads / kvHeads), pos = positions[posOff + t]:
//   out[t][h] = Σ_{first≤p≤pos} softmax_p(score_p) · V[p][g]; score soft-capped to softcap·tanh(score / softcap)
//   when softcap > 0; first = max(0, pos − window + 1) when window > 0, else 0.
//   As in attention_f16_f32, one work-item serves all GROUP query heads of its KV head (each K and V row read once
//   per row t), in tiles of at most 16 positions inside one cache block, so a tile shares one pair of scales;
//   a tile's scores are soft-capped, max-reduced and exponentiated as one float16.
// Layout: q, out (n, heads·HEAD_DIM) F32 at (t·heads + h)·HEAD_DIM + i; kc, vc one layer of the cache,
//   (numBlocks, kvHeads, blockSize, HEAD_DIM) int8: position p lives in block b = ints[tabOff + p / blockSize],
//   slot p % blockSize, at ((b·kvHeads + g)·blockSize + slot)·HEAD_DIM + i; ks, vs (numBlocks, kvHeads) F32 at
//   b·kvHeads + g; ints holds positions at posOff and the block table at tabOff.
// Launch: global (kvHeads, n); no local size. One work-item per (KV head, row).
#ifndef HEAD_DIM
#define HEAD_DIM 64 // values per head (compile-time so q and acc stay in private arrays)
#endif
#ifndef GROUP
#define GROUP 1     // query heads per KV head (heads / kvHeads; the host passes it)
#endif
// Vectorised over the head as attention_f16_f32 (int8 lanes widened to float16); scalar when HEAD_DIM % 16 ≠ 0.
#if HEAD_DIM % 16 == 0
#define VW 16
typedef float16 vecf;
#define VLOADF(i, p) vload16(0, (p) + (i))
#define VSTOREF(v, i, p) vstore16(v, 0, (p) + (i))
#define KV_VLOAD(i, p) convert_float16(vload16(0, (p) + (i)))
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
#define KV_VLOAD(i, p) ((float) (p)[i])
inline float vsum(float v) { return v; }
#endif
#define LANE ((int16) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)) // tile lane numbers
__kernel void kernel_attention_i8_f32(__global const float* q, __global const char* kc, __global const char* vc,
                                      __global const float* ks, __global const float* vs,
                                      __global float* out, __global const int* ints, int posOff, int tabOff,
                                      int heads, int kvHeads, int blockSize, float scale,
                                      float softcap, int window) {
    int g = get_global_id(0), t = get_global_id(1);
    const __global float* qr = q + ((size_t) t * heads + g * GROUP) * HEAD_DIM;
    vecf qv[GROUP][HEAD_DIM / VW], acc[GROUP][HEAD_DIM / VW];
    float m[GROUP], l[GROUP];
    for (int i = 0; i < GROUP; i++) {
        for (int j = 0; j < HEAD_DIM / VW; j++) {
            qv[i][j] = VLOADF(i * HEAD_DIM + j * VW, qr);
            acc[i][j] = (vecf) 0.0f;
        }
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
    int pos = ints[posOff + t], len = pos + 1;
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    for (int p0 = first; p0 < len;) {
        int slot = p0 % blockSize, count = min(min(16, blockSize - slot), len - p0);
        size_t head = (size_t) ints[tabOff + p0 / blockSize] * kvHeads + g;
        size_t base = (head * blockSize + slot) * HEAD_DIM;
        float kScale = scale * ks[head], vScale = vs[head];
        for (int i = 0; i < GROUP; i++) {
            vecf qi[HEAD_DIM / VW], ai[HEAD_DIM / VW];  // this head's q and acc, in registers for the tile
            for (int j = 0; j < HEAD_DIM / VW; j++) {
                qi[j] = qv[i][j];
                ai[j] = acc[i][j];
            }
            float st[16], wt[16];
            for (int p = 0; p < count; p++) {
                vecf dot = (vecf) 0.0f;
                for (int j = 0; j < HEAD_DIM / VW; j++) dot += qi[j] * KV_VLOAD(base + p * HEAD_DIM + j * VW, kc);
                st[p] = vsum(dot) * kScale;
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
            for (int j = 0; j < HEAD_DIM / VW; j++) ai[j] *= corr;
            for (int p = 0; p < count; p++) {
                float wp = wt[p] * vScale;
                for (int j = 0; j < HEAD_DIM / VW; j++) ai[j] += wp * KV_VLOAD(base + p * HEAD_DIM + j * VW, vc);
            }
            for (int j = 0; j < HEAD_DIM / VW; j++) acc[i][j] = ai[j];
            m[i] = mNew;
        }
        p0 += count;
    }
    __global float* o = out + ((size_t) t * heads + g * GROUP) * HEAD_DIM;
    for (int i = 0; i < GROUP; i++) {
        for (int j = 0; j < HEAD_DIM / VW; j++) VSTOREF(acc[i][j] / l[i], i * HEAD_DIM + j * VW, o);
    }
}
