// matmul_i8_f32.h: the one-row W8A16 dot product the matmul_i8_f32_gemv* kernels share.
//   dot_i8_f32(qr, sr, x, in, gs) = Σ_g sr[g] · Σ_{j in group g} q[j] · x[j] over one int8 weight row with one F32
//   scale per group of gs columns (gs = in: per channel); any in that is a multiple of gs.
//   INT8 weights (docs/QUANTIZATION.md, docs/QUANT-FORMAT.md) are held per row range as their int8 values plus an F32
//   scale array; W8A16 runs the matmul_i8_f32_* kernels, W8A8 quantize_f32_i8 and then the matmul_i8_i8_* ones.
//   With GEMV_LANES (gemv_lanes.h): this lane's part, every GEMV_LANES-th 16 columns (every GEMV_LANES-th column
//   where a group size is not a multiple of 16) and tail column.
#ifndef MATMUL_I8_F32_H
#define MATMUL_I8_F32_H
#include "gemv_lanes.h"
#ifdef GEMV_LANES
__attribute__((always_inline))
inline float dot_i8_f32(const __global char* qr, const __global float* sr, const __global float* x, int in, int gs) {
    float acc = 0.0f;
    int i = 0;
    if (gs % 16 == 0 || gs == in) {                          // every 16 columns lie in one group
        int steps = in / 16;
        for (int u = GEMV_LANE(); u < steps; u += GEMV_LANES)
            acc += hsum16(convert_float16(vload16(u, qr)) * vload16(u, x)) * sr[u * 16 / gs];
        i = steps * 16;
    }
    for (i += GEMV_LANE(); i < in; i += GEMV_LANES) acc += (float) qr[i] * x[i] * sr[i / gs];
    return acc;
}
#else
__attribute__((always_inline))
inline float dot_i8_f32(const __global char* qr, const __global float* sr, const __global float* x, int in, int gs) {
    float16 acc = (float16) 0.0f;
    float tail = 0.0f;
    for (int g = 0, j = 0; j < in; g++) {
        int j1 = j + gs;
        // Four independent product chains, 64 values a step: with one chain the loop waits on each multiply-add's
        // latency (POCL keeps it in order) and reads well below the memory's rate.
        float16 s0 = (float16) 0.0f, s1 = s0, s2 = s0, s3 = s0;
        for (; j + 64 <= j1; j += 64) {
            s0 += convert_float16(vload16(0, qr + j)) * vload16(0, x + j);
            s1 += convert_float16(vload16(0, qr + j + 16)) * vload16(0, x + j + 16);
            s2 += convert_float16(vload16(0, qr + j + 32)) * vload16(0, x + j + 32);
            s3 += convert_float16(vload16(0, qr + j + 48)) * vload16(0, x + j + 48);
        }
        for (; j + 16 <= j1; j += 16) s0 += convert_float16(vload16(0, qr + j)) * vload16(0, x + j);
        float st = 0.0f;
        for (; j < j1; j++) st += (float) qr[j] * x[j];
        acc += ((s0 + s1) + (s2 + s3)) * sr[g];
        tail += st * sr[g];
    }
    return hsum16(acc) + tail;
}
#endif
#endif
