// matmul_q8_0_q8_0.h: the one-row dot product of Q8_0 weights (matmul_q8_0_f32.h's superblocks) with activations
//   quantized to Q8_0 (quantize_f32_q8_0), in exactly the arithmetic of matmul_q8_0_q8_0_amx, for x86 CPU devices
//   with AVX-512BW:
//   dot = Σ_b dw[b]·dx[b]·isum[b], isum[b] = Σ_j q[32b + j]·xq[32b + j] exact in int32, accumulated one block at a
//   time in block order: acc = fma((float) isum[b], dx[b] · dw[b], acc), from 0.
// Why: the AMX product computes each (row, token) that way, so a token multiplied alone (decode) and in a product of
//   many (a batching step, a speculative verification, a prompt) gets the same bits, and the host may pick either
//   kernel by speed alone. The integer sums are order-free; the float steps are not, hence one block at a time.
// How: per superblock (16 blocks), 8 vectors of 64 weights: pmaddubsw wants unsigned × signed bytes, so |q| times xq
//   with q's sign (|q| ≤ 128, |xq| ≤ 127: pair sums ≤ 32512 < 2^15), pmaddwd against ones to int32; a tree of
//   shuffles and adds turns the 8 vectors' 8 partial sums per block into one vector of the 16 block sums. POCL's
//   compiler does not form pmaddubsw from portable OpenCL C, so clang's builtins are called (as in blocks_q8k.h).
#ifndef MATMUL_Q8_0_Q8_0_H
#define MATMUL_Q8_0_Q8_0_H
#include "common.h"
#include "matmul_q8_0_f32.h"
#include "quantize_q8_0.h"
#if !defined(__x86_64__) || !defined(__AVX512BW__)
#error "matmul_q8_0_q8_0.h needs an x86-64 device with AVX-512BW (the host uses the float kernels elsewhere)"
#endif

typedef char q8v __attribute__((vector_size(64)));
typedef char q8v_u __attribute__((vector_size(64), aligned(1)));
typedef char q8h __attribute__((vector_size(32)));
typedef char q8h_u __attribute__((vector_size(32), aligned(1)));
typedef short q8s __attribute__((vector_size(64)));
typedef int q8i __attribute__((vector_size(64)));

// 16 int32 lanes of one 64-byte step: lanes 0–7 add up to block 2v's sum, lanes 8–15 to block 2v + 1's.
__attribute__((always_inline))
inline q8i q8_pair_sums(q8v w, q8v x) {
    q8v neg = w < (char) 0;               // −1 where q < 0
    q8v u = (w ^ neg) - neg, s = (x ^ neg) - neg;
    return __builtin_ia32_pmaddwd512(__builtin_ia32_pmaddubsw512(u, s), (q8s) (int16) 0x00010001);
}

// 64 bytes at p, or (have < 2) the first 32 and zeros: a superblock's last block when the row ends inside it.
#define Q8_LOAD(p, have) ((have) >= 2 ? *(const __global q8v_u*) (p) \
        : __builtin_shufflevector((q8h) *(const __global q8h_u*) (p), (q8h) (int8) 0, Q8_LANES64))
#define Q8_LANES64 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, \
        28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, \
        56, 57, 58, 59, 60, 61, 62, 63

// The 16 block sums of a superblock's values at q (weights) and x (activations), blocks ≥ last counted as 0 and not
// read. Step v covers blocks 2v and 2v + 1; the tree halves the lanes per block three times (4, 2, then 1).
__attribute__((always_inline))
inline int16 q8_block_sums(const __global char* q, const __global char* x, int last) {
    q8i p[8];
    #pragma unroll
    for (int v = 0; v < 8; v++) {
        int have = last - 2 * v;
        p[v] = have > 0 ? q8_pair_sums(Q8_LOAD(q + 64 * v, have), Q8_LOAD(x + 64 * v, have)) : (q8i) (int16) 0;
    }
    q8i u[4], h[2];
    #pragma unroll
    for (int i = 0; i < 4; i++)   // 4 lanes per block: blocks 4i … 4i + 3
        u[i] = __builtin_shufflevector(p[2 * i], p[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
             + __builtin_shufflevector(p[2 * i], p[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    #pragma unroll
    for (int i = 0; i < 2; i++)   // 2 lanes per block: blocks 8i … 8i + 7
        h[i] = __builtin_shufflevector(u[2 * i], u[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29)
             + __builtin_shufflevector(u[2 * i], u[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    q8i s = __builtin_shufflevector(h[0], h[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
          + __builtin_shufflevector(h[0], h[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return __builtin_astype(s, int16);
}

// Σ_b over the row of in values (row: its superblocks; xq, xd: one token's values and padded scales).
__attribute__((always_inline))
inline float dot_q8_0_q8_0(const __global char* row, const __global char* xq, const __global half* xd, int in) {
    float acc = 0.0f;
    int blocks = in / 32;
    for (int b = 0; b < blocks; b += 16, row += Q8_SUPER, xq += 512) {
#if defined(GEMV_PREFETCH)
        for (int line = 0; line < Q8_SUPER; line += 64) __builtin_prefetch(row + GEMV_PREFETCH + line);
#endif
        int last = min(16, blocks - b);
        float16 s = load_half16(b / 16, xd) * load_half16(0, (const __global half*) row);
        float16 f = convert_float16(q8_block_sums(row + 32, xq, last));
        if (last == 16) {
            #pragma unroll
            for (int j = 0; j < 16; j++) acc = fma(f[j], s[j], acc);
        } else {
            #pragma unroll
            for (int j = 0; j < 16; j++)
                if (j < last) acc = fma(f[j], s[j], acc);
        }
    }
    return acc;
}
#endif
