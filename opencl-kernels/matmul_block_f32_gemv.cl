// matmul_block_f32_gemv: out = x · wᵀ for few tokens (decode), w in one of the GGML block types of blocks.h as the file
//   stores it (BLOCK_TYPE: Q2_K … Q6_K, Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS), dequantized in registers 32 values at a time.
//   out[t][row0 + r] = Σ_c Σ_j w[r][32c + j] · x[t][32c + j]   for r < rows (this part), t < n
// Layout: w (rows, BLOCK_ROW_BYTES(in)) bytes, row r at r·BLOCK_ROW_BYTES(in); x (n, in) F32; out (n, outStride) F32
//   at t·outStride + row0 + r. in is a multiple of the type's block (32 or 256 values).
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32 on CPU devices (docs/POCL-GEMV.md): one work-item per
//   output value walking its row, a float16 accumulator, one horizontal sum. With GEMV_LANES (gemv_lanes.h) a
//   work-group per output value, lane i taking the row's 32-value chunks i, i + L, …
#include "blocks.h"
#include "gemv_lanes.h"
__kernel void kernel_matmul_block_f32_gemv(__global const float* x, __global const uchar* w, __global float* out,
                                           int n, int in, int rows, int outStride, int row0) {
    GEMV_SCRATCH;
    int r = GEMV_ROW(), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    const __global uchar* row = w + (size_t) r * BLOCK_ROW_BYTES(in);
    const __global float* xt = x + (size_t) t * in;
    float16 acc = (float16) 0.0f;
#ifdef GEMV_LANES
    for (int c = GEMV_LANE(); c < in / 32; c += GEMV_LANES) {
        float16 w0, w1;
        block_decode32(row, c, &w0, &w1);
        acc = fma(w0, vload16(0, xt + 32 * c), acc);
        acc = fma(w1, vload16(0, xt + 32 * c + 16), acc);
    }
#elif defined(BLOCK_DOT)
    for (int blk = 0; blk < in / BLOCK_VALUES; blk++) acc += block_dot(row + (size_t) blk * BLOCK_ROW_BYTES(BLOCK_VALUES), xt + BLOCK_VALUES * blk);
#else
    // a whole block per step, its chunks unrolled: the block's header (scales, minimums) is decoded once, not per chunk
    for (int blk = 0; blk < in / BLOCK_VALUES; blk++) {
        #pragma unroll
        for (int j = 0; j < BLOCK_VALUES / 32; j++) {
            int c = blk * (BLOCK_VALUES / 32) + j;
            float16 w0, w1;
            block_decode32(row, c, &w0, &w1);
            acc = fma(w0, vload16(0, xt + 32 * c), acc);
            acc = fma(w1, vload16(0, xt + 32 * c + 16), acc);
        }
    }
#endif
    float s = GEMV_SUM(hsum16(acc));
    if (GEMV_LANE() == 0) out[(size_t) t * outStride + row0 + r] = s;
}
