// matmul_i8_i8_gemv: W8A8 out = x · wᵀ for few tokens (decode), int8 × int8 with int32 accumulation.
//   out[t][row0 + r] = (a[t] · scale[r]) · Σ_j xq[t][j] · q[r][j]   for r < rows (this part), t < n
// Layout: xq (n, in) int8 at t*in + j and a (n) F32 from quantize_f32_i8; qs (rows, in) int8 at r*in + j;
//   scales (rows) F32 (one per output channel); out (n, outStride) F32 at t*outStride + row0 + r. Any in.
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32. One work-item per output value; an int16
//   accumulator (products widened to int32), one horizontal sum at the end.
// Fast path, chosen at build time: where the compiler offers the integer dot product on 4×8-bit inputs
//   (cl_khr_integer_dot_product / OpenCL C 3.0 feature), dot(char4, char4) replaces the widening multiply;
//   -DNO_INT_DOT forces the general path.
#include "matmul_i8_i8.h"

__kernel void kernel_matmul_i8_i8_gemv(__global const char* xq, __global const float* tokenScale, __global const char* qs,
                                       __global const float* scales, __global float* out, int n, int in, int rows,
                                       int outStride, int row0) {
    GEMV_SCRATCH_INT;
    int r = GEMV_ROW(), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    int s = GEMV_SUM_INT(dot_i8_i8(qs + (size_t) r * in, xq + (size_t) t * in, in));
    if (GEMV_LANE() == 0) out[(size_t) t * outStride + row0 + r] = tokenScale[t] * scales[r] * (float) s;
}
