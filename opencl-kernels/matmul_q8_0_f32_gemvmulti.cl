// matmul_q8_0_f32_gemvmulti: up to three one-token products sharing one input in a single launch (Q, K, V), each
//   optionally accumulated into its output (a residual add fused into the projection):
//   out_j[r] = (accumulate ? out_j[r] : 0) + Σ_b d_j[r][b] · Σ_i q_j[r][32b + i] · x[32b + i]   for r < rows_j, j = a, b, c
// Layout: Q8_0 superblocks, row stride Q8_ROW(in) bytes (matmul_q8_0_f32.h; repacked at upload, the numbers are
//   the file's). in is a multiple of 32.
//   q_j (rows_j rows of Q8_ROW(in) bytes); x (1, in) F32; out_j (1, rows_j) F32. A weight left out has rows 0.
// Launch: global roundup(rows_a + rows_b + rows_c, L), local L = 32 on POCL (docs/POCL-GEMV.md); one work-item per
//   output value over the concatenated rows, a float16 accumulator, one horizontal sum at the end.
#include "matmul_q8_0_f32.h"

__kernel void kernel_matmul_q8_0_f32_gemvmulti(__global const float* x, int in, int accumulate,
        __global const char* qa, __global float* oa, int ra,
        __global const char* qb, __global float* ob, int rb,
        __global const char* qc, __global float* oc, int rc) {
    GEMV_SCRATCH;
    int r = GEMV_ROW();
    const __global char* q; __global float* o;
    if (r < ra) { q = qa; o = oa; }
    else if ((r -= ra) < rb) { q = qb; o = ob; }
    else if ((r -= rb) < rc) { q = qc; o = oc; }
    else return;
    float s = GEMV_SUM(dot_q8_0(q + (size_t) r * Q8_ROW(in), x, in));
    if (GEMV_LANE() == 0) o[r] = accumulate ? o[r] + s : s;
}
