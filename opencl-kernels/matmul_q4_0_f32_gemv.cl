// matmul_q4_0_f32_gemv: out = x · wᵀ for few tokens (decode), weights q4_0 dequantized in registers.
//   out[t][row0 + r] = Σ_b d[r][b] · Σ_j q[r][32b + j] · x[t][32b + j]   for r < rows (this part), t < n
// Layout (repacked at upload, same numbers as the file): qs (rows, in/2) bytes: block b of row r is 16 bytes at r*(in/2) + b*16, low nibbles = values 0–15, high nibbles = values 16–31 (value = nibble − 8);
//   d (rows, in/32) F16 scales at r*(in/32) + b (vload_half); x (n, in) F32; out (n, outStride) F32 at
//   t*outStride + row0 + r. in is a multiple of 32.
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32 on POCL (docs/POCL-GEMV.md). One work-item
//   per output value; a float16 accumulator scaled per block, one horizontal sum at the end.
#include "matmul_q4_0_f32.h"

__kernel void kernel_matmul_q4_0_f32_gemv(__global const float* x, __global const uchar* qs, __global const half* d,
                                          __global float* out, int n, int in, int rows, int outStride, int row0) {
    GEMV_SCRATCH;
    int r = GEMV_ROW(), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    float s = GEMV_SUM(dot_q4_0(qs + (size_t) r * (in / 2), d + (size_t) r * (in / 32), x + (size_t) t * in, in));
    if (GEMV_LANE() == 0) out[(size_t) t * outStride + row0 + r] = s;
}
