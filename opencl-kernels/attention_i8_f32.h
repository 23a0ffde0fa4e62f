// attention_i8_f32.h: what attention_i8_f32.cl and attention_i8_f32_split.cl share — the compile-time shape and
//   the online softmax of one work-item's query group over a range of positions of the INT8 cache.
//   State per query head i of the group (KV head g): qv[i] its query, acc[i] the weighted sum of values, m[i] the
//   running maximum score, l[i] the running sum of e^(score − m[i]).
// Layout of one layer of the cache: kc, vc (numBlocks, kvHeads, blockSize, HEAD_DIM) int8: position p lives in block
//   b = table[p / blockSize], slot p % blockSize, at ((b·kvHeads + g)·blockSize + slot)·HEAD_DIM + i; ks, vs
//   (numBlocks, kvHeads) F32 at b·kvHeads + g.
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

// Both helpers are always inlined (as attention_f16_f32.h's): their private arrays stay arrays, not pointers.
// The group's starting state: qv = the q rows of its query heads (qr: the first), acc = 0, m = −∞, l = 0.
__attribute__((always_inline))
inline void attention_start(const __global float* qr, vecf qv[GROUP][HEAD_DIM / VW], vecf acc[GROUP][HEAD_DIM / VW],
                            float m[GROUP], float l[GROUP]) {
    for (int i = 0; i < GROUP; i++) {
        for (int j = 0; j < HEAD_DIM / VW; j++) {
            qv[i][j] = VLOADF(i * HEAD_DIM + j * VW, qr);
            acc[i][j] = (vecf) 0.0f;
        }
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }
}

// Adds positions [first, end) of KV head g's cache (table: the sequence's block table) to the group's state, in
// tiles of at most 16 positions inside one block (a tile shares one pair of scales); keys and values dequantized in
// registers with the (block, head) scale factored out of the sums: score_p = (scale · ks[b][g]) · Σ_i q_i·kq[p][i],
// acc += (w_p · vs[b][g]) · vq[p]; scores soft-capped to softcap·tanh(score / softcap) when softcap > 0, then
// max-reduced and exponentiated as one float16.
__attribute__((always_inline))
inline void attention_tiles(const __global char* kc, const __global char* vc, const __global float* ks,
                            const __global float* vs, const __global int* table, int g, int kvHeads, int blockSize,
                            int first, int end, float scale, float softcap, vecf qv[GROUP][HEAD_DIM / VW],
                            vecf acc[GROUP][HEAD_DIM / VW], float m[GROUP], float l[GROUP]) {
    for (int p0 = first; p0 < end;) {
        int slot = p0 % blockSize, count = min(min(16, blockSize - slot), end - p0);
        size_t head = (size_t) table[p0 / blockSize] * kvHeads + g;
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
}
