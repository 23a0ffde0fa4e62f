// matmul_q4_0_f32_gemvmulti: up to three one-token products sharing one input in a single launch (Q, K, V), each
//   optionally accumulated into its output (a residual add fused into the projection):
//   out_j[r] = (accumulate ? out_j[r] : 0) + Σ_b d_j[r][b] · Σ_i (q_j[r][32b + i] − 8) · x[32b + i]   for r < rows_j, j = a, b, c
// Layout: as matmul_q4_0_f32_gemv (repacked: nibble bytes q (rows, in/2) at r*(in/2) + i, byte j of a block holding
//   value j in its low and value j+16 in its high nibble, each (nibble − 8)·d; scales d (rows, in/32) F16).
//   x (1, in) F32; out_j (1, rows_j) F32. A weight left out has rows 0. in is a multiple of 32.
// Launch: global roundup(rows_a + rows_b + rows_c, L), local L = 32 on POCL (docs/POCL-GEMV.md); one work-item per
//   output value over the concatenated rows, a float16 accumulator, one horizontal sum at the end.
#include "matmul_q4_0_f32.h"

__kernel void kernel_matmul_q4_0_f32_gemvmulti(__global const float* x, int in, int accumulate,
        __global const uchar* qa, __global const half* da, __global float* oa, int ra,
        __global const uchar* qb, __global const half* db, __global float* ob, int rb,
        __global const uchar* qc, __global const half* dc, __global float* oc, int rc) {
    GEMV_SCRATCH;
    int r = GEMV_ROW();
    const __global uchar* q; const __global half* d; __global float* o;
    if (r < ra) { q = qa; d = da; o = oa; }
    else if ((r -= ra) < rb) { q = qb; d = db; o = ob; }
    else if ((r -= rb) < rc) { q = qc; d = dc; o = oc; }
    else return;
    float s = GEMV_SUM(dot_q4_0(q + (size_t) r * (in / 2), d + (size_t) r * (in / 32), x, in));
    if (GEMV_LANE() == 0) o[r] = accumulate ? o[r] + s : s;
}
