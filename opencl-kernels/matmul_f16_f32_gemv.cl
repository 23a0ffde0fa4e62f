// matmul_f16_f32_gemv: out = x · wᵀ for few tokens (decode), weights F16 (vload_half: no cl_khr_fp16 needed).
//   out[t][row0 + r] = Σ_i x[t][i] · w[r][i]   for r < rows (this part of the weight), t < n
// Layout: x (n, in) F32 at t*in + i; w (rows, in) f16 at r*in + i, kept in its file type;
//   out (n, outStride) F32 at t*outStride + row0 + r (a weight split into row ranges writes its columns).
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32 on POCL (docs/POCL-GEMV.md). One work-item
//   per output value: a float16 accumulator over 16 columns at a time, one horizontal sum at the end.
#include "matmul_f16_f32.h"

__kernel void kernel_matmul_f16_f32_gemv(__global const float* x, __global const half* w, __global float* out,
                                          int n, int in, int rows, int outStride, int row0) {
    GEMV_SCRATCH;
    int r = GEMV_ROW(), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    float s = GEMV_SUM(dot_f16(w + (size_t) r * in, x + (size_t) t * in, in));
    if (GEMV_LANE() == 0) out[(size_t) t * outStride + row0 + r] = s;
}
