// matmul_i8_f32_gemvswiglu: W8A16, the SwiGLU feed-forward input for one token in a single launch:
//   g = x · gate[r], u = x · up[r] (dot products as matmul_i8_f32_gemv); out[r] = g / (1 + e^(−g)) · u
// Layout: gate, up: values (rows, in) int8 at r*in + i, scales (rows, groups) F32 at r*groups + g, groups = in / gs,
//   gs = groupSize (in when 0), the same for both; x (1, in) F32; out (1, rows) F32 (never aliases x). Any in.
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
#include "matmul_i8_f32.h"

__kernel void kernel_matmul_i8_f32_gemvswiglu(__global const float* x, int in, int groupSize, int rows,
        __global const char* qg, __global const float* sg, __global const char* qu, __global const float* su, __global float* out) {
    GEMV_SCRATCH;
    int r = GEMV_ROW();
    if (r >= rows) return;
    int gs = groupSize > 0 ? groupSize : in, groups = in / gs;
    float g = GEMV_SUM(dot_i8_f32(qg + (size_t) r * in, sg + (size_t) r * groups, x, in, gs));
    float u = GEMV_SUM(dot_i8_f32(qu + (size_t) r * in, su + (size_t) r * groups, x, in, gs));
    if (GEMV_LANE() == 0) out[r] = silu(g) * u;
}
