// matmul_f16_f32_gemvswiglu: the SwiGLU feed-forward input for one token in a single launch:
//   g = Σ gate[r][i]·x[i], u = Σ up[r][i]·x[i] (F16 weights, vload_half); out[r] = g / (1 + e^(−g)) · u
// Layout: gate, up (rows, in) F16 at r*in + i; x (1, in) F32; out (1, rows) F32 (never aliases x).
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
#include "matmul_f16_f32.h"

__kernel void kernel_matmul_f16_f32_gemvswiglu(__global const float* x, int in, int rows,
        __global const half* wg, __global const half* wu, __global float* out) {
    GEMV_SCRATCH;
    int r = GEMV_ROW();
    if (r >= rows) return;
    float g = GEMV_SUM(dot_f16(wg + (size_t) r * in, x, in));
    float u = GEMV_SUM(dot_f16(wu + (size_t) r * in, x, in));
    if (GEMV_LANE() == 0) out[r] = silu(g) * u;
}
