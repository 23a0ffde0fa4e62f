// matmul_i8_i8_gemvswiglu: W8A8, the SwiGLU feed-forward input for one token in a single launch:
//   g = (a · sg[r]) · Σ_i xq[i] · gate[r][i], u likewise with up; out[r] = g / (1 + e^(−g)) · u
// Layout: xq (1, in) int8 and a (1) F32 from quantize_f32_i8 (run once: gate and up share the input and its smoothing);
//   gate, up values (rows, in) int8 at r*in + i, scales (rows) F32; out (1, rows) F32. Any in.
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows). The dot
//   product is matmul_i8_i8_gemv's (int16 accumulator of widened products; dot(char4, char4) where the compiler offers
//   it, -DNO_INT_DOT forces the general path).
#include "matmul_i8_i8.h"

__kernel void kernel_matmul_i8_i8_gemvswiglu(__global const char* xq, __global const float* tokenScale, int in, int rows,
        __global const char* qg, __global const float* sg, __global const char* qu, __global const float* su, __global float* out) {
    GEMV_SCRATCH_INT;
    int r = GEMV_ROW();
    if (r >= rows) return;
    float a = tokenScale[0];
    float g = a * sg[r] * (float) GEMV_SUM_INT(dot_i8_i8(qg + (size_t) r * in, xq, in));
    float u = a * su[r] * (float) GEMV_SUM_INT(dot_i8_i8(qu + (size_t) r * in, xq, in));
    if (GEMV_LANE() == 0) out[r] = silu(g) * u;
}
