// matmul_f16_f32_gemvmulti: up to three one-token products sharing one input in a single launch (Q, K, V), each
//   optionally accumulated into its output (a residual add fused into the projection):
//   out_j[r] = (accumulate ? out_j[r] : 0) + Σ_i w_j[r][i] · x[i]   for r < rows_j, j = a, b, c
// Layout: w_j (rows_j, in) F16 at r*in + i (vload_half); x (1, in) F32; out_j (1, rows_j) F32. A weight left out has rows 0.
// Launch: global roundup(rows_a + rows_b + rows_c, L), local L = 32 on POCL (docs/POCL-GEMV.md); one work-item per
//   output value over the concatenated rows, a float16 accumulator, one horizontal sum at the end.
#include "matmul_f16_f32.h"

__kernel void kernel_matmul_f16_f32_gemvmulti(__global const float* x, int in, int accumulate,
        __global const half* wa, __global float* oa, int ra,
        __global const half* wb, __global float* ob, int rb,
        __global const half* wc, __global float* oc, int rc) {
    GEMV_SCRATCH;
    int r = GEMV_ROW();
    const __global half* w; __global float* o;
    if (r < ra) { w = wa; o = oa; }
    else if ((r -= ra) < rb) { w = wb; o = ob; }
    else if ((r -= rb) < rc) { w = wc; o = oc; }
    else return;
    float s = GEMV_SUM(dot_f16(w + (size_t) r * in, x, in));
    if (GEMV_LANE() == 0) o[r] = accumulate ? o[r] + s : s;
}
