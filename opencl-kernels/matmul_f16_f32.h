// matmul_f16_f32.h: the one-row F16 dot product the matmul_f16_f32_gemv* kernels share.
//   dot_f16(wr, x, in) = Σ_i w[i] · x[i] over one weight row of in F16 values: a float16 accumulator over 16 columns a
//   step (vload_half16: no cl_khr_fp16), one horizontal sum, a scalar tail for in % 16.
//   With GEMV_LANES (gemv_lanes.h): this lane's part, every GEMV_LANES-th 16 columns and tail column.
#ifndef MATMUL_F16_F32_H
#define MATMUL_F16_F32_H
#include "gemv_lanes.h"
#ifdef GEMV_LANES
__attribute__((always_inline))
inline float dot_f16(const __global half* wr, const __global float* x, int in) {
    float acc = 0.0f;
    int steps = in / 16;
    for (int u = GEMV_LANE(); u < steps; u += GEMV_LANES) acc += hsum16(vload_half16(u, wr) * vload16(u, x));
    for (int i = steps * 16 + GEMV_LANE(); i < in; i += GEMV_LANES) acc += vload_half(i, wr) * x[i];
    return acc;
}
#else
__attribute__((always_inline))
inline float dot_f16(const __global half* wr, const __global float* x, int in) {
    float16 acc = (float16) 0.0f;
    int i = 0;
    for (; i + 16 <= in; i += 16) acc += vload_half16(0, wr + i) * vload16(0, x + i);
    float sum = hsum16(acc);
    for (; i < in; i++) sum += vload_half(i, wr) * x[i];
    return sum;
}
#endif
#endif
