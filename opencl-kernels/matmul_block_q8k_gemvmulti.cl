// matmul_block_q8k_gemvmulti: up to three one-token products sharing one input in a single launch (Q, K, V), each
//   optionally accumulated into its output, weights of one K type (BLOCK_TYPE: Q4_K, Q5_K or Q6_K) times Q8_K
//   activations (blocks_q8k.h: x86 CPU devices):
//   out_j[r] = (accumulate ? out_j[r] : 0) + row_dot_q8k(w_j row r, x)   for r < rows_j, j = a, b, c
// Why: a launch costs the pool a hand-off and a tail; the three products of a layer's attention input fit one.
// Layout: xq (1, in) int8, xd (1, in / 256) F32, xsum (1, in / 16) int16 (quantize_f32_q8k); w_j (rows_j, in / 256
//   blocks) of BLOCK_ROW_BYTES(in) bytes per row; out_j (1, rows_j) F32. A weight left out has rows 0. in is a
//   multiple of 256.
// Launch: global roundup(rows_a + rows_b + rows_c, 32), local 32: one work-item per output over the concatenated rows.
#define Q8K_TOKENS 1
#include "blocks_q8k.h"
__kernel void kernel_matmul_block_q8k_gemvmulti(__global const char* xq, __global const float* xd, __global const short* xsum,
        int in, int accumulate,
        __global const uchar* wa, __global float* oa, int ra,
        __global const uchar* wb, __global float* ob, int rb,
        __global const uchar* wc, __global float* oc, int rc) {
    int r = get_global_id(0);
    const __global uchar* w; __global float* o;
    if (r < ra) { w = wa; o = oa; }
    else if ((r -= ra) < rb) { w = wb; o = ob; }
    else if ((r -= rb) < rc) { w = wc; o = oc; }
    else return;
    float s = row_dot_q8k(w + (size_t) r * BLOCK_ROW_BYTES(in), xq, xd, xsum, in);
    o[r] = accumulate ? o[r] + s : s;
}
