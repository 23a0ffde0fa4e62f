// matmul_i8_f32_gemvmulti: W8A16, up to three one-token products sharing one input in a single launch (Q, K, V), each
//   optionally accumulated into its output (a residual add fused into attn_output / ffn_down):
//   out_j[r] = (accumulate ? out_j[r] : 0) + Σ_g s_j[r][g] · Σ_{i in group g} q_j[r][i] · x[i]   for r < rows_j, j = a, b, c
// Layout: as matmul_i8_f32_gemv: values q_j (rows_j, in) int8 at r*in + i; scales s_j (rows_j, groups) F32 at
//   r*groups + g, groups = in / gs, gs = groupSize (in when 0: one scale per output channel), the same for all three;
//   x (1, in) F32; out_j (1, rows_j) F32. A weight left out has rows 0. Any in (a row's tail past the last 16 is scalar).
// Launch: global roundup(rows_a + rows_b + rows_c, L), local L = 32 on POCL (docs/POCL-GEMV.md); one work-item per
//   output value over the concatenated rows, four float16 product chains per group, scaled once, one horizontal sum at the end.
#include "matmul_i8_f32.h"

__kernel void kernel_matmul_i8_f32_gemvmulti(__global const float* x, int in, int groupSize, int accumulate,
        __global const char* qa, __global const float* sa, __global float* oa, int ra,
        __global const char* qb, __global const float* sb, __global float* ob, int rb,
        __global const char* qc, __global const float* sc, __global float* oc, int rc) {
    GEMV_SCRATCH;
    int r = GEMV_ROW();
    const __global char* q; const __global float* s; __global float* o;
    if (r < ra) { q = qa; s = sa; o = oa; }
    else if ((r -= ra) < rb) { q = qb; s = sb; o = ob; }
    else if ((r -= rb) < rc) { q = qc; s = sc; o = oc; }
    else return;
    int gs = groupSize > 0 ? groupSize : in;
    float v = GEMV_SUM(dot_i8_f32(q + (size_t) r * in, s + (size_t) r * (in / gs), x, in, gs));
    if (GEMV_LANE() == 0) o[r] = accumulate ? o[r] + v : v;
}
