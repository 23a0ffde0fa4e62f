// matmul_q4_0_f32_gemvswiglu: the SwiGLU feed-forward input for one token in a single launch:
//   g = Σ gate[r][i]·x[i], u = Σ up[r][i]·x[i] (Q4_0 dot products, both rows in one pass); out[r] = g / (1 + e^(−g)) · u
// Layout: as matmul_q4_0_f32_gemv (repacked: nibble bytes q (rows, in/2) at r*(in/2) + i, byte j of a block holding
//   value j in its low and value j+16 in its high nibble, each (nibble − 8)·d; scales d (rows, in/32) F16).
//   x (1, in) F32; out (1, rows) F32 (never aliases x). in is a multiple of 32.
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
// The gate and up rows in one pass: each x load serves both rows (two dot_q4_0-style calls, one row each, read x
// twice and ran slower than the unfused GEMVs together).
#include "matmul_q4_0_f32.h"
#ifndef GEMV_LANES
inline float2 dot2_q4_0(const __global uchar* qg, const __global half* dg, const __global uchar* qu, const __global half* du,
                        const __global float* x, int in) {
    float16 ag = (float16) 0.0f, au = ag;
    int blocks = in / 32, b = 0;
    // sixteen scales per vload_half16: POCL turns a lone vload_half into ~17 scalar instructions
    for (; b + 16 <= blocks; b += 16) {
        float16 sg = vload_half16(0, dg + b), su = vload_half16(0, du + b);
        #pragma unroll
        for (int j = 0; j < 16; j++) {
            float16 x0 = vload16(0, x + (b + j) * 32), x1 = vload16(0, x + (b + j) * 32 + 16);
            uchar16 g = vload16(0, qg + (b + j) * 16), u = vload16(0, qu + (b + j) * 16);
            ag += (Q4_LO16(g) * x0 + Q4_HI16(g) * x1) * sg[j];
            au += (Q4_LO16(u) * x0 + Q4_HI16(u) * x1) * su[j];
        }
    }
    for (; b < blocks; b++) {
        float16 x0 = vload16(0, x + b * 32), x1 = vload16(0, x + b * 32 + 16);
        uchar16 g = vload16(0, qg + b * 16), u = vload16(0, qu + b * 16);
        ag += (Q4_LO16(g) * x0 + Q4_HI16(g) * x1) * vload_half(b, dg);
        au += (Q4_LO16(u) * x0 + Q4_HI16(u) * x1) * vload_half(b, du);
    }
    return (float2) (hsum16(ag), hsum16(au));
}
#endif

__kernel void kernel_matmul_q4_0_f32_gemvswiglu(__global const float* x, int in, int rows,
        __global const uchar* qg, __global const half* dg, __global const uchar* qu, __global const half* du, __global float* out) {
    GEMV_SCRATCH;
    int r = GEMV_ROW();
    if (r >= rows) return;
#ifdef GEMV_LANES
    float g = GEMV_SUM(dot_q4_0(qg + (size_t) r * (in / 2), dg + (size_t) r * (in / 32), x, in));
    float u = GEMV_SUM(dot_q4_0(qu + (size_t) r * (in / 2), du + (size_t) r * (in / 32), x, in));
#else
    float2 gu = dot2_q4_0(qg + (size_t) r * (in / 2), dg + (size_t) r * (in / 32), qu + (size_t) r * (in / 2), du + (size_t) r * (in / 32), x, in);
    float g = gu.x, u = gu.y;
#endif
    if (GEMV_LANE() == 0) out[r] = silu(g) * u;
}
