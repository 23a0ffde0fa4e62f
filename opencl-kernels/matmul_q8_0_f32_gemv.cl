// matmul_q8_0_f32_gemv: out = x · wᵀ for few tokens (decode), weights q8_0 dequantized in registers.
//   out[t][row0 + r] = Σ_b d[r][b] · Σ_j q[r][32b + j] · x[t][32b + j]   for r < rows (this part), t < n
// Layout: Q8_0 superblocks, row stride Q8_ROW(in) bytes (matmul_q8_0_f32.h; repacked at upload, the numbers are
//   the file's). in is a multiple of 32.
//   x (n, in) F32; out (n, outStride) F32 at t*outStride + row0 + r.
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32 on POCL (docs/POCL-GEMV.md). One work-item
//   per output value; a float16 accumulator scaled per block, one horizontal sum at the end.
#include "matmul_q8_0_f32.h"

__kernel void kernel_matmul_q8_0_f32_gemv(__global const float* x, __global const char* qs, __global float* out,
                                          int n, int in, int rows, int outStride, int row0) {
    GEMV_SCRATCH;
    int r = GEMV_ROW(), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    float s = GEMV_SUM(dot_q8_0(qs + (size_t) r * Q8_ROW(in), x + (size_t) t * in, in));
    if (GEMV_LANE() == 0) out[(size_t) t * outStride + row0 + r] = s;
}
