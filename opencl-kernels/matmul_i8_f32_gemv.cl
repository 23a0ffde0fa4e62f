// matmul_i8_f32_gemv: W8A16 out = x · wᵀ for few tokens (decode): int8 weights, float activations.
//   out[t][row0 + r] = Σ_g scale[r][g] · Σ_{j in group g} q[r][j] · x[t][j]   for r < rows (this part), t < n
// Layout: qs (rows, in) int8 at r*in + j; scales (rows, groups) F32 at r*groups + g, groups = in / gs with
//   gs = groupSize (in when groupSize is 0: one scale per output channel); x (n, in) F32 at t*in + j;
//   out (n, outStride) F32 at t*outStride + row0 + r. Any in (a row's tail past the last 16 is scalar).
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32 (docs/POCL-GEMV.md). One work-item per output
//   value; four float16 product chains per group, scaled once per group, one horizontal sum at the end.
#include "matmul_i8_f32.h"

__kernel void kernel_matmul_i8_f32_gemv(__global const float* x, __global const char* qs, __global const float* scales,
                                        __global float* out, int n, int in, int rows, int outStride, int row0, int groupSize) {
    GEMV_SCRATCH;
    int r = GEMV_ROW(), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    int gs = groupSize > 0 ? groupSize : in;
    float s = GEMV_SUM(dot_i8_f32(qs + (size_t) r * in, scales + (size_t) r * (in / gs), x + (size_t) t * in, in, gs));
    if (GEMV_LANE() == 0) out[(size_t) t * outStride + row0 + r] = s;
}
