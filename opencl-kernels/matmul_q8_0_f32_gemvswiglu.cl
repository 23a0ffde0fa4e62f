// matmul_q8_0_f32_gemvswiglu: the SwiGLU feed-forward input for one token in a single launch:
//   g = Σ gate[r][i]·x[i], u = Σ up[r][i]·x[i] (Q8_0 dot products, both rows in one pass); out[r] = g / (1 + e^(−g)) · u
// Layout: Q8_0 superblocks, row stride Q8_ROW(in) bytes (matmul_q8_0_f32.h; repacked at upload, the numbers are
//   the file's). in is a multiple of 32.
//   gate, up (rows rows of Q8_ROW(in) bytes); x (1, in) F32; out (1, rows) F32 (never aliases x).
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
#include "matmul_q8_0_f32.h"
// The gate and up rows in one pass: each x load and each superblock step serves both rows, and the guarded
// unrolled loop takes full and partial superblocks alike. Two dot_q8_0 calls (one row each) read short rows (110m's
// 24 blocks) at half the rate per byte of the other GEMVs.
#ifndef GEMV_LANES
inline float2 dot2_q8_0(const __global char* rg, const __global char* ru, const __global float* x, int in) {
    float16 ag = (float16) 0.0f, au = ag;
    int blocks = in / 32;
    for (int b = 0; b < blocks; b += 16, rg += Q8_SUPER, ru += Q8_SUPER, x += 512) {
        float16 dg = vload_half16(0, (const __global half*) rg), du = vload_half16(0, (const __global half*) ru);
        const __global char* qg = rg + 32;
        const __global char* qu = ru + 32;
        int last = min(16, blocks - b);
        #pragma unroll
        for (int j = 0; j < 16; j++) {
            if (j < last) {
                float16 x0 = vload16(0, x + j * 32), x1 = vload16(0, x + j * 32 + 16);
                ag += (convert_float16(vload16(0, qg + j * 32)) * x0 + convert_float16(vload16(0, qg + j * 32 + 16)) * x1) * dg[j];
                au += (convert_float16(vload16(0, qu + j * 32)) * x0 + convert_float16(vload16(0, qu + j * 32 + 16)) * x1) * du[j];
            }
        }
    }
    return (float2) (hsum16(ag), hsum16(au));
}
#endif

__kernel void kernel_matmul_q8_0_f32_gemvswiglu(__global const float* x, int in, int rows,
        __global const char* qg, __global const char* qu, __global float* out) {
    GEMV_SCRATCH;
    int r = GEMV_ROW();
    if (r >= rows) return;
#ifdef GEMV_LANES
    float g = GEMV_SUM(dot_q8_0(qg + (size_t) r * Q8_ROW(in), x, in));
    float u = GEMV_SUM(dot_q8_0(qu + (size_t) r * Q8_ROW(in), x, in));
#else
    float2 gu = dot2_q8_0(qg + (size_t) r * Q8_ROW(in), qu + (size_t) r * Q8_ROW(in), x, in);
    float g = gu.x, u = gu.y;
#endif
    if (GEMV_LANE() == 0) out[r] = silu(g) * u;
}
