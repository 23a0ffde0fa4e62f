// matmul_i8_i8_gemvmulti: W8A8, up to three one-token products sharing one quantized input in a single launch (Q, K, V),
//   each optionally accumulated into its output (a residual add fused into attn_output / ffn_down):
//   out_j[r] = (accumulate ? out_j[r] : 0) + (a · s_j[r]) · Σ_i xq[i] · q_j[r][i]   for r < rows_j, j = a, b, c
// Layout: xq (1, in) int8 and a (1) F32 from quantize_f32_i8 (run once for all three weights: they share the input and
//   its smoothing, which must be the same: none on Q·K·V, wo and ffn_down alone with their own); values q_j (rows_j,
//   in) int8 at r*in + i; scales s_j (rows_j) F32; out_j (1, rows_j) F32. A weight left out has rows 0. Any in.
// Launch: global roundup(rows_a + rows_b + rows_c, L), local L = 32 on POCL; one work-item per output value over the
//   concatenated rows, the dot product as matmul_i8_i8_gemv's: products widened to int32 lanes of an int16 accumulator
//   (on POCL faster than multiplying as shorts and adding pairs), one
//   horizontal sum at the end. Where the compiler offers the 4×8-bit integer dot product, dot(char4, char4) is used
//   instead (-DNO_INT_DOT forces the general path).
#include "matmul_i8_i8.h"

__kernel void kernel_matmul_i8_i8_gemvmulti(__global const char* xq, __global const float* tokenScale, int in, int accumulate,
        __global const char* qa, __global const float* sa, __global float* oa, int ra,
        __global const char* qb, __global const float* sb, __global float* ob, int rb,
        __global const char* qc, __global const float* sc, __global float* oc, int rc) {
    GEMV_SCRATCH_INT;
    int r = GEMV_ROW();
    const __global char* q; const __global float* s; __global float* o;
    if (r < ra) { q = qa; s = sa; o = oa; }
    else if ((r -= ra) < rb) { q = qb; s = sb; o = ob; }
    else if ((r -= rb) < rc) { q = qc; s = sc; o = oc; }
    else return;
    int sum = GEMV_SUM_INT(dot_i8_i8(q + (size_t) r * in, xq, in));
    float v = tokenScale[0] * s[r] * (float) sum;
    if (GEMV_LANE() == 0) o[r] = accumulate ? o[r] + v : v;
}
