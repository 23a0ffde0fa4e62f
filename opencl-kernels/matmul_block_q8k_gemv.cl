// matmul_block_q8k_gemv: out = x · wᵀ for few tokens (decode), w in Q4_K, Q5_K or Q6_K as the file stores it, x
//   already quantized by quantize_f32_q8k; integer dot products per super-block (blocks_q8k.h: x86 CPU devices).
//   out[t][row0 + r] = row_dot_q8k(w row r, xq[t])   for r < rows (this part), t < n
// Layout: xq (n, in) int8 at t·in + c; xd (n, in / 256) F32 at t·(in / 256) + c / 256; xsum (n, in / 16) int16 at
//   t·(in / 16) + c / 16; w (rows, in / 256 blocks) of BLOCK_ROW_BYTES(in) bytes per row; out (n, outStride) F32 at
//   t·outStride + row0 + r. in is a multiple of 256.
// Launch: global (roundup(rows, 32), n), local (32, 1): one work-item per output value (docs/POCL-GEMV.md).
#define Q8K_TOKENS 1
#include "blocks_q8k.h"
__kernel void kernel_matmul_block_q8k_gemv(__global const char* xq, __global const float* xd, __global const short* xsum,
                                           __global const uchar* w, __global float* out, int n, int in, int rows,
                                           int outStride, int row0) {
    int r = get_global_id(0), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    out[(size_t) t * outStride + row0 + r] = row_dot_q8k(w + (size_t) r * BLOCK_ROW_BYTES(in), xq + (size_t) t * in,
                                                         xd + (size_t) t * (in / 256), xsum + (size_t) t * (in / 16), in);
}
