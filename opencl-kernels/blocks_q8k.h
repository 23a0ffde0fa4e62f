// blocks_q8k.h: dot products of one super-block of Q4_K, Q5_K or Q6_K weights (the layouts of blocks.h) with 256
//   activations quantized to int8 (quantize_f32_q8k: Q8_K, one F32 scale per 256 values and the sums of each 16),
//   in integer arithmetic, for x86 CPU devices.
// Why: on POCL the float path (blocks.h's block_dot) spends about 0.9 instructions per weight widening nibbles to
//   floats, so a one-token product of a K-quant file is bound by the CPU's arithmetic, not by memory. x86's
//   pmaddubsw multiplies 64 unsigned bytes by 64 signed bytes and adds neighbours in one instruction, pmaddwd applies
//   16-bit scales and adds again; POCL's compiler does not form them from portable OpenCL C, so this header calls
//   clang's builtins for them (AVX-512BW: 64 bytes at a time; AVX2: 32). It is what llama.cpp's CPU backend computes
//   (Q8_K activations, integer sums per sub-block), with the same activation rounding.
// Per block, with s the weight scales and minimums decoded from the block and dx the activations' scale:
//   Q4_K, Q5_K: dot = d·dx·Σ_j sc_j·Σ q·xq − dmin·dx·Σ_j m_j·Σ_(sub-block j) xq        (j: 8 sub-blocks of 32)
//   Q6_K:       dot = d·dx·Σ_j sc_j·(Σ q·xq − 32·Σ_(sub-block j) xq)                     (j: 16 sub-blocks of 16)
//   Every integer stays in range: |q·xq| ≤ 63·127, pmaddubsw's pair sums ≤ 16002 < 2^15, and a block's int32 lanes
//   below 2^23, so they convert to float exactly.
// Interface: block_dot_q8k(b, xq, dx, sums, in, acc) adds one weight block's products with Q8K_TOKENS tokens to their
//   float accumulators acc[t]; token t's value for the row is the sum of acc[t]'s lanes. One accumulator per token
//   (the minimums' term goes into it too) keeps 8 tokens' state in AVX-512's 32 registers.
//   xq, dx, sums point at token 0's part for this block (its 256 int8 values, its scale, its 16 int16 sums of 16);
//   token t's lie in / 256 blocks further on. The weights are decoded once for all the tokens (the GEMM's reuse).
#ifndef BLOCKS_Q8K_H
#define BLOCKS_Q8K_H
#include "blocks.h"

#if !defined(__x86_64__) || !defined(__AVX2__)
#error "blocks_q8k.h needs an x86-64 device with AVX2 (the host uses the float kernels elsewhere)"
#endif
#if BLOCK_TYPE != BT_Q4_K && BLOCK_TYPE != BT_Q5_K && BLOCK_TYPE != BT_Q6_K
#error "blocks_q8k.h covers Q4_K, Q5_K and Q6_K"
#endif

#ifndef Q8K_BYTES // bytes per integer vector: 64 with AVX-512BW, else 32 (the host may ask for 32 to test that path)
#if defined(__AVX512BW__)
#define Q8K_BYTES 64
#else
#define Q8K_BYTES 32
#endif
#endif
#if Q8K_BYTES == 64 && !defined(__AVX512BW__)
#error "Q8K_BYTES 64 needs AVX-512BW"
#endif
#if Q8K_BYTES == 64
#define VB 64
typedef char qv __attribute__((vector_size(64)));
typedef char qv_u __attribute__((vector_size(64), aligned(1)));
typedef short sv __attribute__((vector_size(64)));
typedef int iv __attribute__((vector_size(64)));
#define MADDUBS(u, s) __builtin_ia32_pmaddubsw512((u), (s))
#define MADDWD(a, b) __builtin_ia32_pmaddwd512((a), (b))
#define FV float16
#define IV_ZERO ((iv) (int16) 0)
#define IV_TO_FV(v) convert_float16(as_int16(v))
#define HSUM_FV(v) hsum16(v)
#else
#define VB 32
typedef char qv __attribute__((vector_size(32)));
typedef char qv_u __attribute__((vector_size(32), aligned(1)));
typedef short sv __attribute__((vector_size(32)));
typedef int iv __attribute__((vector_size(32)));
#define MADDUBS(u, s) __builtin_ia32_pmaddubsw256((u), (s))
#define MADDWD(a, b) __builtin_ia32_pmaddwd256((a), (b))
#define FV float8
#define IV_ZERO ((iv) (int8) 0)
#define IV_TO_FV(v) convert_float8(as_int8(v))
#define HSUM_FV(v) hsum8(v)
#endif
typedef char q32_u __attribute__((vector_size(32), aligned(1)));
typedef short s8v __attribute__((vector_size(16)));
typedef short s16v __attribute__((vector_size(32)));
typedef short s16v_u __attribute__((vector_size(32), aligned(1)));
typedef int i8v __attribute__((vector_size(32)));

__attribute__((always_inline))
inline float hsum8(float8 v) {
    float4 a = v.lo + v.hi;
    return a.x + a.y + a.z + a.w;
}

#ifndef Q8K_TOKENS
#define Q8K_TOKENS 1 // tokens per weight decode (1: the one-token product)
#endif
#define TOKEN_X(t) ((size_t) (t) * in)
#define TOKEN_SCALE(t) dx[(size_t) (t) * (in / 256)]
#define TOKEN_SUMS(t) (*(const __global s16v_u*) (sums + (size_t) (t) * (in / 16)))
#define FOR_TOKENS _Pragma("unroll") for (int t = 0; t < Q8K_TOKENS; t++)
// Σ_j sums[j]·w[j] over 16 int16 pairs as integer lanes of an accumulator-sized vector (the upper half 0 with 64-byte
// vectors, where a 32-byte load already zero-extends)
#if VB == 64
#define PAIR_SUMS(s, w) MADDWD(__builtin_shufflevector((s), (s16v) (short16) 0, ZEXT_LANES), \
        __builtin_shufflevector((w), (s16v) (short16) 0, ZEXT_LANES))
#define ZEXT_LANES 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, \
        28, 29, 30, 31
#else
#define PAIR_SUMS(s, w) __builtin_ia32_pmaddwd256((s), (w))
#endif
#define LOAD_QV(p) (*(const __global qv_u*) (p))
#define REP8(i) i, i, i, i, i, i, i, i
#define REP16(i) REP8(i), REP8(i)

// The 32 activations a 32-lane group of weight bytes multiplies, lane groups g of one vector taking the runs at
// p + g·stride: one run with AVX2, two with AVX-512.
#if VB == 64
#define LOAD_X(p, stride) __builtin_shufflevector(*(const __global q32_u*) (p), *(const __global q32_u*) ((p) + (stride)), \
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, \
        32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63)
#else
#define LOAD_X(p, stride) (*(const __global q32_u*) (p))
#endif

#if BLOCK_TYPE == BT_Q4_K || BLOCK_TYPE == BT_Q5_K
// The sub-block scale per 16-bit lane of pmaddubsw's result: lane group g (16 lanes: 32 weights) of vector h takes
// sub-block 2·(h·VB/32 + g) + nib (nib 0: the low nibbles, 1: the high).
#if VB == 64
#define SCALES(sc, h, nib) __builtin_shufflevector((sc), (sc), REP16(4 * (h) + (nib)), REP16(4 * (h) + 2 + (nib)))
#else
#define SCALES(sc, h, nib) __builtin_shufflevector((sc), (sc), REP16(2 * (h) + (nib)))
#endif

#if BLOCK_TYPE == BT_Q5_K
// Q5_K's fifth bit as 16 or 0 per byte: value l of 32-weight group p takes bit 2p (low nibble) or 2p + 1 (high) of
// qh[l]; lane group g of vector h is group p = h·VB/32 + g.
#if VB == 64
typedef char c2v __attribute__((vector_size(2)));
#define REP32(i) REP16(i), REP16(i)
#define FIFTH_BIT(qh, h, nib) ((((qh) & __builtin_shufflevector((c2v) {(char) (1 << (4 * (h) + (nib))), \
        (char) (1 << (4 * (h) + 2 + (nib)))}, (c2v) {0, 0}, REP32(0), REP32(1))) != (char) 0) & (char) 16)
#else
#define FIFTH_BIT(qh, h, nib) ((((qh) & (char) (1 << (2 * (h) + (nib)))) != (char) 0) & (char) 16)
#endif
#endif

__attribute__((always_inline))
inline void block_dot_q8k(const __global uchar* b, const __global char* xq, const __global float* dx,
                          const __global short* sums, int in, FV* acc) {
    float2 dd = HALF2_AT(b, 0);
    uchar16 s = vload16(0, b + 4); // the 12 scale bytes (and 4 bytes past them, unused)
    uchar4 s0 = s.s0123, s1 = s.s4567, s2 = s.s89ab;
    short8 sc = convert_short8((uchar8) (s0 & (uchar4) 63, (s2 & (uchar4) 15) | ((s0 >> (uchar4) 6) << (uchar4) 4)));
    short8 mn = convert_short8((uchar8) (s1 & (uchar4) 63, (s2 >> (uchar4) 4) | ((s1 >> (uchar4) 6) << (uchar4) 4)));
    s8v scv = as_short8(sc);
    iv isum[Q8K_TOKENS];
    FOR_TOKENS isum[t] = IV_ZERO;
#if BLOCK_TYPE == BT_Q5_K
    const __global uchar* qs = b + 48;
#if VB == 64
    qv qh = LOAD_X((const __global char*) b + 16, 0); // the 32 high-bit bytes, twice
#else
    qv qh = LOAD_QV(b + 16);
#endif
#else
    const __global uchar* qs = b + 16;
#endif
#if BLOCK_TYPE == BT_Q5_K
#define HIGH_BITS(h) lo |= FIFTH_BIT(qh, h, 0); hi |= FIFTH_BIT(qh, h, 1);
#else
#define HIGH_BITS(h)
#endif
    // vector h of qs: lane group g is 32-weight group p = h·VB/32 + g, its low nibbles × xq[64p, 64p + 32), its high
    // nibbles × xq[64p + 32, 64p + 64) (shuffle indices must be constants: the steps are written out)
#define STEP(h) {                                                                       \
        qv q = LOAD_QV(qs + VB * (h));                                                  \
        qv lo = q & (char) 15, hi = (q >> 4) & (char) 15;                               \
        HIGH_BITS(h)                                                                    \
        sv slo = SCALES(scv, h, 0), shi = SCALES(scv, h, 1);                            \
        const __global char* x0 = xq + 2 * VB * (h);                                    \
        FOR_TOKENS {                                                                    \
            isum[t] += MADDWD(MADDUBS(lo, LOAD_X(x0 + TOKEN_X(t), 64)), slo);           \
            isum[t] += MADDWD(MADDUBS(hi, LOAD_X(x0 + TOKEN_X(t) + 32, 64)), shi);      \
        }                                                                               \
    }
    STEP(0) STEP(1)
#if VB == 32
    STEP(2) STEP(3)
#endif
#undef STEP
#undef HIGH_BITS
    // Σ_j m_j · (sum of sub-block j) from the sums of 16: pmaddwd adds each pair
    s16v m2 = __builtin_shufflevector(as_short8(mn), as_short8(mn), 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    FOR_TOKENS {
        float d = TOKEN_SCALE(t);
        acc[t] = fma(IV_TO_FV(isum[t]), (FV) (dd.x * d), acc[t]);
        acc[t] = fma(IV_TO_FV(PAIR_SUMS(TOKEN_SUMS(t), m2)), (FV) (-dd.y * d), acc[t]);
    }
}
#endif

#if BLOCK_TYPE == BT_Q6_K
// Vector h of ql: lane group g holds bytes o = h·VB + 32g, i.e. 128-value half n = o / 64 and quarter r = (o / 32) % 2:
// its low nibbles are values 128n + 32r + l, with bits 2r and 2r + 1 of qh[32n + l] on top; its high nibbles values
// 128n + 64 + 32r + l, with bits 4 + 2r and 5 + 2r. Sub-blocks are 16 values, so 8 pmaddubsw lanes share a scale.
#if VB == 64
// h = n; lane groups r = 0, 1: the top two bits moved to bits 4–5 differ per group, so both shifts are made and blended
#define Q6_TOP_LO(qh) __builtin_shufflevector(((qh) << 4) & (char) 48, ((qh) << 2) & (char) 48, BLEND_LANES)
#define Q6_TOP_HI(qh) __builtin_shufflevector((qh) & (char) 48, ((qh) >> 2) & (char) 48, BLEND_LANES)
#define BLEND_LANES 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, \
        27, 28, 29, 30, 31, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, \
        115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127
#define Q6_QH(b, h) LOAD_X((const __global char*) (b) + 128 + 32 * (h), 0)
#define Q6_XLO(h) (128 * (h))
#define Q6_SCALES(sc, h, nib) __builtin_shufflevector((sc), (sc), REP8(8 * (h) + 4 * (nib)), REP8(8 * (h) + 4 * (nib) + 1), \
        REP8(8 * (h) + 4 * (nib) + 2), REP8(8 * (h) + 4 * (nib) + 3))
#else
// h = 2n + r
#define Q6_TOP_LO(qh, r) ((r) ? ((qh) << 2) & (char) 48 : ((qh) << 4) & (char) 48)
#define Q6_TOP_HI(qh, r) ((r) ? ((qh) >> 2) & (char) 48 : (qh) & (char) 48)
#define Q6_QH(b, h) LOAD_QV((b) + 128 + 32 * ((h) / 2))
#define Q6_XLO(h) (128 * ((h) / 2) + 32 * ((h) % 2))
#define Q6_SCALES(sc, h, nib) __builtin_shufflevector((sc), (sc), REP8(8 * ((h) / 2) + 4 * (nib) + 2 * ((h) % 2)), \
        REP8(8 * ((h) / 2) + 4 * (nib) + 2 * ((h) % 2) + 1))
#endif

__attribute__((always_inline))
inline void block_dot_q8k(const __global uchar* b, const __global char* xq, const __global float* dx,
                          const __global short* sums, int in, FV* acc) {
    float d = HALF_AT(b, 208);
    s16v sc = as_short16(convert_short16(vload16(0, (const __global char*) (b + 192))));
    iv isum[Q8K_TOKENS];
    FOR_TOKENS isum[t] = IV_ZERO;
#if VB == 64
#define STEP(h) {                                                                       \
        qv q = LOAD_QV(b + VB * (h)), qh = Q6_QH(b, h);                                 \
        qv lo = (q & (char) 15) | Q6_TOP_LO(qh), hi = ((q >> 4) & (char) 15) | Q6_TOP_HI(qh); \
        sv slo = Q6_SCALES(sc, h, 0), shi = Q6_SCALES(sc, h, 1);                        \
        const __global char* x0 = xq + Q6_XLO(h);                                       \
        FOR_TOKENS {                                                                    \
            isum[t] += MADDWD(MADDUBS(lo, LOAD_QV(x0 + TOKEN_X(t))), slo);              \
            isum[t] += MADDWD(MADDUBS(hi, LOAD_QV(x0 + TOKEN_X(t) + 64)), shi);         \
        }                                                                               \
    }
    STEP(0) STEP(1)
#else
#define STEP(h) {                                                                       \
        qv q = LOAD_QV(b + VB * (h)), qh = Q6_QH(b, h);                                 \
        qv lo = (q & (char) 15) | Q6_TOP_LO(qh, (h) % 2), hi = ((q >> 4) & (char) 15) | Q6_TOP_HI(qh, (h) % 2); \
        sv slo = Q6_SCALES(sc, h, 0), shi = Q6_SCALES(sc, h, 1);                        \
        const __global char* x0 = xq + Q6_XLO(h);                                       \
        FOR_TOKENS {                                                                    \
            isum[t] += MADDWD(MADDUBS(lo, LOAD_QV(x0 + TOKEN_X(t))), slo);              \
            isum[t] += MADDWD(MADDUBS(hi, LOAD_QV(x0 + TOKEN_X(t) + 64)), shi);         \
        }                                                                               \
    }
    STEP(0) STEP(1) STEP(2) STEP(3)
#endif
#undef STEP
    // the −32 of every q: 32·Σ_j sc_j·(sum of sub-block j), in the integers (|32·Σ| < 2^22)
    FOR_TOKENS acc[t] = fma(IV_TO_FV(isum[t] - (PAIR_SUMS(TOKEN_SUMS(t), sc) << 5)), (FV) (d * TOKEN_SCALE(t)), acc[t]);
}
#endif

#if Q8K_TOKENS == 1
// One weight row of in / 256 super-blocks against one token's activations (xq, dx, sums at that token's part): the
// one-token products' dot (matmul_block_q8k_gemv and its fused forms compute every output this way). One row per
// work-item: two rows' blocks interleaved in one work-item read slower (more concurrent streams per core).
// GEMV_PREFETCH (bytes, optional): prefetch the weights that far ahead of each block. The integer loop consumes a
//   block faster than the hardware prefetcher runs ahead of a row-by-row stream, so without it the first load of
//   each block waits on memory; a prefetch past the buffer's end is harmless (it never faults).
__attribute__((always_inline))
inline float row_dot_q8k(const __global uchar* row, const __global char* xq, const __global float* dx,
                         const __global short* sums, int in) {
    FV acc[1] = {(FV) 0.0f};
    for (int blk = 0; blk < in / 256; blk++) {
        const __global uchar* b = row + (size_t) blk * BLOCK_ROW_BYTES(256);
#if defined(GEMV_PREFETCH)
        for (int line = 0; line < BLOCK_ROW_BYTES(256); line += 64) __builtin_prefetch(b + GEMV_PREFETCH + line);
#endif
        block_dot_q8k(b, xq + 256 * blk, dx + blk, sums + 16 * blk, in, acc);
    }
    return HSUM_FV(acc[0]);
}
#endif

#endif
