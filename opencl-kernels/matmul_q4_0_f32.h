// matmul_q4_0_f32.h: the one-row Q4_0 dot product the matmul_q4_0_f32_gemv* kernels share.
//   dot_q4_0(qr, dr, x, in) = Σ_b d[b] · Σ_j (nibble_j − 8) · x[32b + j] over one weight row: qr the row's 16-byte
//   blocks (low nibbles values 0–15, high nibbles 16–31), dr its F16 block scales; a float16 accumulator scaled per
//   block, one horizontal sum. in is a multiple of 32. The numbers are the GGUF's, repacked at upload into two arrays
//   per row range (all nibble bytes of a row contiguous, then the F16 scales) so vector loads are aligned.
//   With GEMV_LANES (gemv_lanes.h): this lane's part, every GEMV_LANES-th block.
#ifndef MATMUL_Q4_0_F32_H
#define MATMUL_Q4_0_F32_H
#include "gemv_lanes.h"
// A block's 16 bytes q (uchar16) as weights: the low nibbles are its values 0–15, the high nibbles 16–31, each − 8.
#define Q4_LO16(q) (convert_float16((q) & (uchar16) 15) - 8.0f)
#define Q4_HI16(q) (convert_float16((q) >> (uchar16) 4) - 8.0f)
#ifdef GEMV_LANES
__attribute__((always_inline))
inline float dot_q4_0(const __global uchar* qr, const __global half* dr, const __global float* x, int in) {
    float acc = 0.0f;
    for (int b = GEMV_LANE(); b < in / 32; b += GEMV_LANES) {
        uchar16 q = vload16(b, qr);
        float16 p = Q4_LO16(q) * vload16(0, x + b * 32) + Q4_HI16(q) * vload16(0, x + b * 32 + 16);
        acc += hsum16(p) * vload_half(b, dr);
    }
    return acc;
}
#else
__attribute__((always_inline))
inline float dot_q4_0(const __global uchar* qr, const __global half* dr, const __global float* x, int in) {
    float16 acc = (float16) 0.0f;
    int blocks = in / 32, b = 0;
    // Scales sixteen blocks at a time: POCL turns vload_half16 into one vector conversion, a lone vload_half into
    // ~17 scalar instructions per block.
    for (; b + 16 <= blocks; b += 16) {
        float16 d16 = vload_half16(0, dr + b);
        #pragma unroll
        for (int j = 0; j < 16; j++) {
            uchar16 q = vload16(0, qr + (b + j) * 16);
            float16 w0 = Q4_LO16(q), w1 = Q4_HI16(q);
            acc += (w0 * vload16(0, x + (b + j) * 32) + w1 * vload16(0, x + (b + j) * 32 + 16)) * d16[j];
        }
    }
    for (; b < blocks; b++) {
        uchar16 q = vload16(0, qr + b * 16);
        float16 w0 = Q4_LO16(q), w1 = Q4_HI16(q);
        acc += (w0 * vload16(0, x + b * 32) + w1 * vload16(0, x + b * 32 + 16)) * vload_half(b, dr);
    }
    return hsum16(acc);
}
#endif
#endif
