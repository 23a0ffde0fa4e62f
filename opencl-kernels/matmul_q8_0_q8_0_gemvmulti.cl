// matmul_q8_0_q8_0_gemvmulti: up to three one-token products sharing one input in a single launch (Q, K, V), each
//   optionally accumulated into its output, Q8_0 weights times Q8_0 activations (matmul_q8_0_q8_0.h):
//   out_j[r] = (accumulate ? out_j[r] : 0) + dot_q8_0_q8_0(q_j row r, x)   for r < rows_j, j = a, b, c
// Layout: q_j the Q8_0 superblocks of matmul_q8_0_f32.h; xq (1, in) int8, xd (1, Q8X_STRIDE(in)) F16
//   (quantize_f32_q8_0); out_j (1, rows_j) F32. A weight left out has rows 0. in is a multiple of 32.
// Launch: global roundup(rows_a + rows_b + rows_c, 32), local 32: one work-item per output over the concatenated rows.
#include "matmul_q8_0_q8_0.h"
__kernel void kernel_matmul_q8_0_q8_0_gemvmulti(__global const char* xq, __global const half* xd, int in, int accumulate,
        __global const char* qa, __global float* oa, int ra,
        __global const char* qb, __global float* ob, int rb,
        __global const char* qc, __global float* oc, int rc) {
    int r = get_global_id(0);
    const __global char* q; __global float* o;
    if (r < ra) { q = qa; o = oa; }
    else if ((r -= ra) < rb) { q = qb; o = ob; }
    else if ((r -= rb) < rc) { q = qc; o = oc; }
    else return;
    float s = dot_q8_0_q8_0(q + (size_t) r * Q8_ROW(in), xq, xd, in);
    o[r] = accumulate ? o[r] + s : s;
}
