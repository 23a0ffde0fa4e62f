// attention_tiles.h: what the attention kernels share (attention_f16_f32 and attention_i8_f32, fused and split) — the
//   cache's element type, the compile-time shape, and the online softmax of one work-item's query group over a range
//   of positions.
//   State per query head i of the group (KV head g): qs[i] its query times scale, acc[i] the weighted sum of values,
//   m[i] the running maximum score, l[i] the running sum of e^(score − m[i]), kept per tile lane.
//   Every loop over a head's values or a tile's lanes carries #pragma unroll: POCL leaves loops over private arrays
//   rolled, with the accumulators on the stack, otherwise (docs/ARCHITECTURE.md).
// Layout of one layer of the cache (KV-head-major, so a head's blocks of a sequence stream in order): position p
//   lives in block b = table[p / BLOCK], slot s = p % BLOCK; keys transposed within the block, kc (kvHeads,
//   numBlocks, HEAD_DIM, BLOCK) at ((g·numBlocks + b)·HEAD_DIM + i)·BLOCK + s; values vc (kvHeads, numBlocks, BLOCK,
//   HEAD_DIM) at ((g·numBlocks + b)·BLOCK + s)·HEAD_DIM + i. Elements FP16 (default), F32 (KV_F32) or int8 (KV_I8:
//   symmetric, value = q · scale with one F32 scale per (block, KV head) for K and one for V, ks and vs
//   (numBlocks, kvHeads) at b·kvHeads + g, written by kvwrite_i8_f32; a tile lies in one block, so the scales are
//   factored out of its sums: score = ks · Σ_i (scale·q_i)·kq_i, acc += (w · vs) · vq).
#ifdef KV_F32
#define KV_T float                      // an F32 cache (exact keys and values)
#define KV_LOAD(i, p) ((p)[i])
#define KV_LOAD16(i, p) vload16(0, (p) + (i))
#elif defined(KV_I8)
#define KV_T char                       // an INT8 cache, widened to float in registers
#define KV_LOAD(i, p) ((float) (p)[i])
#define KV_LOAD16(i, p) convert_float16(vload16(0, (p) + (i)))
#else
#define KV_T half                       // the default FP16 cache, through vload_half (no cl_khr_fp16)
#define KV_LOAD(i, p) vload_half(i, p)
#define KV_LOAD16(i, p) vload_half16(0, (p) + (i))
#endif
#ifndef HEAD_DIM
#define HEAD_DIM 64 // values per head (compile-time so q, acc and the tile stay in private arrays)
#endif
#ifndef GROUP
#define GROUP 1     // query heads per KV head (heads / kvHeads; the host passes it)
#endif
#ifndef BLOCK
#define BLOCK 16    // positions per cache block (compile-time, so a key row's offsets are constants; the host passes it)
#endif
#if BLOCK % 16 != 0
#error "BLOCK must be a multiple of the 16-position tile"
#endif
// Values and accumulators are float16 vectors over the head (POCL keeps a work-item's inner loop vectorised;
// notes/pocl-gemv.md); a head size that is not a multiple of 16 takes the scalar path. Scores are float16 over the
// tile's positions whatever the head size.
#if HEAD_DIM % 16 == 0
#define VW 16
typedef float16 vecf;
#define VSTOREF(v, i, p) vstore16(v, 0, (p) + (i))
#define KV_VLOAD(i, p) KV_LOAD16(i, p)
#else
#define VW 1
typedef float vecf;
#define VSTOREF(v, i, p) ((p)[i] = (v))
#define KV_VLOAD(i, p) KV_LOAD(i, p)
#endif
// TILE_COPY: a tile's keys and values are first copied (converted, for FP16 and int8) into private arrays that every
// query head of the group then reads; without it each head reads them from the cache itself. The copy saves
// conversions only for an FP16 or int8 cache serving several query heads; an F32 cache, or a single head, reads
// directly.
#if !defined(KV_F32) && GROUP > 1  // FP16 or int8
#define TILE_COPY 1
#else
#define TILE_COPY 0
#endif
#define GROUP16 ((GROUP + 15) / 16 * 16) // GROUP rounded up to whole float16 vectors
inline float hmax(float16 s) {          // the largest lane (masked lanes are −∞; scores are never NaN for finite inputs)
    float8 a = select(s.hi, s.lo, s.lo > s.hi);
    float4 b = select(a.hi, a.lo, a.lo > a.hi);
    float2 c = select(b.hi, b.lo, b.lo > b.hi);
    return c.x > c.y ? c.x : c.y;
}
inline float hsum(float16 s) {
    float8 a = s.lo + s.hi;
    float4 b = a.lo + a.hi;
    return (b.x + b.y) + (b.z + b.w);
}
#define LANE ((int16) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)) // tile lane numbers

// Both helpers are always inlined: called as functions, their private arrays would be reached through pointers
// (POCL did not inline attention_tiles by itself, and 1b-shaped attention ran ~20% slower).
// The group's starting state: qs = scale · q rows of its query heads (qr: the first), acc = 0, m = −∞, l = 0.
__attribute__((always_inline))
inline void attention_start(const __global float* qr, float scale, float qs[GROUP][HEAD_DIM],
                            vecf acc[GROUP][HEAD_DIM / VW], float m[GROUP], float16 l[GROUP]) {
    for (int i = 0; i < GROUP; i++) {
        for (int d = 0; d < HEAD_DIM; d++) qs[i][d] = qr[i * HEAD_DIM + d] * scale;
        #pragma unroll
        for (int j = 0; j < HEAD_DIM / VW; j++) acc[i][j] = (vecf) 0.0f;
        m[i] = -INFINITY;
        l[i] = (float16) 0.0f;
    }
}

// Adds positions [first, end) of KV head g's cache (table: the sequence's block table) to the group's state, in
// 16-position tiles aligned to 16 (a tile lies inside one block) with the lanes outside [first, end) masked. A
// tile's 16 scores are one float16 built by HEAD_DIM multiply-adds (keys transposed: no horizontal sum per
// position); score soft-capped to softcap·tanh(score / softcap) when softcap > 0. ks, vs: the INT8 cache's scales
// (unused otherwise).
__attribute__((always_inline))
inline void attention_tiles(const __global KV_T* kc, const __global KV_T* vc, const __global float* ks,
                            const __global float* vs, const __global int* table, int g, int kvHeads, int numBlocks,
                            int first, int end, float softcap, float qs[GROUP][HEAD_DIM],
                            vecf acc[GROUP][HEAD_DIM / VW], float m[GROUP], float16 l[GROUP]) {
    float dm[GROUP16], corr[GROUP16];  // per tile: each head's change of running maximum and its rescale factor
    for (int i = 0; i < GROUP16; i++) dm[i] = 0.0f;
    for (int p0 = first - first % 16; p0 < end; p0 += 16) {
        int b = table[p0 / BLOCK], slot = p0 % BLOCK;
        int lo = max(first - p0, 0), hi = min(end - p0, 16);  // the tile's valid lanes [lo, hi)
        int16 valid = LANE >= lo && LANE < hi;
        const __global KV_T* kt = kc + ((size_t) g * numBlocks + b) * HEAD_DIM * BLOCK + slot;
        const __global KV_T* vt = vc + (((size_t) g * numBlocks + b) * BLOCK + slot) * HEAD_DIM;
#ifdef KV_I8
        float kScale = ks[b * kvHeads + g], vScale = vs[b * kvHeads + g];
#else
        const float kScale = 1.0f, vScale = 1.0f;
#endif
        // A masked lane's weight is exactly 0, and its value row is read from a valid lane's slot: slots past pos may
        // never have been written (0 · NaN would poison the sum), and a finite row times 0 adds nothing.
#define VROW(p) min(max(p, lo), hi - 1)
#if TILE_COPY
        float16 kf[HEAD_DIM];              // kf[i] = key value i of the tile's 16 positions
        #pragma unroll
        for (int i = 0; i < HEAD_DIM; i++) kf[i] = KV_LOAD16(i * BLOCK, kt);
        vecf vf[16][HEAD_DIM / VW];        // the tile's values (masked lanes: a copy of a valid row, weight 0)
        #pragma unroll
        for (int p = 0; p < 16; p++) {
            #pragma unroll
            for (int j = 0; j < HEAD_DIM / VW; j++) vf[p][j] = KV_VLOAD(VROW(p) * HEAD_DIM + j * VW, vt);
        }
#define KF(i) kf[i]
#define VF(p, j) vf[p][j]
#else
#define KF(i) KV_LOAD16((i) * BLOCK, kt)
#define VF(p, j) KV_VLOAD(VROW(p) * HEAD_DIM + (j) * VW, vt)
#endif
        // The tile in two passes over the group, so that no head waits on another's chain of dependent steps:
        // first every head's 16 scores and new running maximum, then the rescale factors of all heads as one vector
        // exp, then every head's weights, running sum and accumulator.
        float16 sc[GROUP];                 // the tile's scores per query head
        for (int i = 0; i < GROUP; i++) {
            float16 sp[8];                 // eight partial sums: eight short multiply-add chains, not one of HEAD_DIM
            #pragma unroll
            for (int e = 0; e < 8; e++) sp[e] = (float16) 0.0f;
            #pragma unroll
            for (int d = 0; d < HEAD_DIM; d++) sp[d % 8] += qs[i][d] * KF(d);
            float16 s = (((sp[0] + sp[1]) + (sp[2] + sp[3])) + ((sp[4] + sp[5]) + (sp[6] + sp[7]))) * kScale;
            if (softcap > 0.0f) s = softcap * tanh(s / softcap);
            s = select((float16) (-INFINITY), s, valid);
            float tileMax = hmax(s), mNew = m[i] > tileMax ? m[i] : tileMax;
            dm[i] = m[i] - mNew;           // −∞ on the first tile: its rescale factor is 0
            m[i] = mNew;
            sc[i] = s;
        }
        for (int i0 = 0; i0 < GROUP; i0 += 16) vstore16(exp(vload16(0, dm + i0)), 0, corr + i0);
        for (int i = 0; i < GROUP; i++) {
            float16 w = exp(sc[i] - m[i]);
            l[i] = l[i] * corr[i] + w;
            float wt[16];
            vstore16(w * vScale, 0, wt);
            vecf ai[HEAD_DIM / VW], bi[HEAD_DIM / VW];  // this head's acc in registers, even and odd positions apart
            #pragma unroll
            for (int j = 0; j < HEAD_DIM / VW; j++) {
                ai[j] = acc[i][j] * corr[i];
                bi[j] = (vecf) 0.0f;
            }
            #pragma unroll
            for (int p = 0; p < 16; p += 2) {
                #pragma unroll
                for (int j = 0; j < HEAD_DIM / VW; j++) {
                    ai[j] += wt[p] * VF(p, j);
                    bi[j] += wt[p + 1] * VF(p + 1, j);
                }
            }
            #pragma unroll
            for (int j = 0; j < HEAD_DIM / VW; j++) acc[i][j] = ai[j] + bi[j];
        }
    }
}
