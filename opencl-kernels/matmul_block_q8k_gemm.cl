// matmul_block_q8k_gemm: out = x · wᵀ for many tokens (prefill), w in Q4_K, Q5_K or Q6_K as the file stores it, x
//   already quantized by quantize_f32_q8k; each work-item decodes a row's blocks once for Q8K_TOKENS tokens and sums
//   in integers (blocks_q8k.h: x86 CPU devices).
//   out[t][row0 + r] = Σ_blocks block_dot_q8k(w[r] block, xq[t] block)   for r < rows (this part), t < n
// Layout: as matmul_block_q8k_gemv: xq (n, in) int8; xd (n, in / 256) F32; xsum (n, in / 16) int16; w (rows,
//   BLOCK_ROW_BYTES(in)) bytes; out (n, outStride) F32 at t·outStride + row0 + r. in is a multiple of 256, and
//   n ≥ Q8K_TOKENS (the host builds a run of n tokens for fewer than 8).
// Launch: global (roundup(rows, 32), ceil(n / Q8K_TOKENS)), local (32, 1): a work-item per (row, run of Q8K_TOKENS
//   tokens). The last run, when n is not a multiple, starts at n − Q8K_TOKENS instead (the same arithmetic, no branch
//   in the loop) and stores only the tokens no other run has.
#ifndef Q8K_TOKENS
#define Q8K_TOKENS 8 // tokens per work-item: 8 accumulators and the block's decoded weights fit AVX-512's 32 registers
#endif
#include "blocks_q8k.h"
__kernel void kernel_matmul_block_q8k_gemm(__global const char* xq, __global const float* xd, __global const short* xsum,
                                           __global const uchar* w, __global float* out, int n, int in, int rows,
                                           int outStride, int row0) {
    int r = get_global_id(0), t0 = get_global_id(1) * Q8K_TOKENS;
    if (r >= rows || t0 >= n) return;
    int first = min(t0, n - Q8K_TOKENS);
    const __global uchar* row = w + (size_t) r * BLOCK_ROW_BYTES(in);
    FV acc[Q8K_TOKENS];
    _Pragma("unroll") for (int t = 0; t < Q8K_TOKENS; t++) acc[t] = (FV) 0.0f;
    for (int blk = 0; blk < in / 256; blk++) {
        block_dot_q8k(row + (size_t) blk * BLOCK_ROW_BYTES(256), xq + (size_t) first * in + 256 * blk,
                      xd + (size_t) first * (in / 256) + blk, xsum + (size_t) first * (in / 16) + 16 * blk, in, acc);
    }
    _Pragma("unroll") for (int t = 0; t < Q8K_TOKENS; t++) {
        int tok = first + t;
        if (tok >= t0 && tok < n) out[(size_t) tok * outStride + row0 + r] = HSUM_FV(acc[t]);
    }
}
