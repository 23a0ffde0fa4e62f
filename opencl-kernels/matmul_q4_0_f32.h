// matmul_q4_0_f32.h: the one-row Q4_0 dot product the matmul_q4_0_f32_gemv* kernels share.
//   dot_q4_0(qr, dr, x, in) = Σ_b d[b] · Σ_j (nibble_j − 8) · x[32b + j] over one weight row: qr the row's 16-byte
//   blocks (low nibbles values 0–15, high nibbles 16–31), dr its F16 block scales; a float16 accumulator scaled per
//   block, one horizontal sum. in is a multiple of 32.
//   With GEMV_LANES (gemv_lanes.h): this lane's part, every GEMV_LANES-th block.
#include "gemv_lanes.h"
#ifdef GEMV_LANES
__attribute__((always_inline))
inline float dot_q4_0(const __global uchar* qr, const __global half* dr, const __global float* x, int in) {
    float acc = 0.0f;
    for (int b = GEMV_LANE(); b < in / 32; b += GEMV_LANES) {
        uchar16 q = vload16(b, qr);
        float16 p = (convert_float16(q & (uchar16) 15) - 8.0f) * vload16(0, x + b * 32)
                + (convert_float16(q >> (uchar16) 4) - 8.0f) * vload16(0, x + b * 32 + 16);
        acc += gemv_hsum16(p) * vload_half(b, dr);
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
            float16 w0 = convert_float16(q & (uchar16) 15) - 8.0f, w1 = convert_float16(q >> (uchar16) 4) - 8.0f;
            acc += (w0 * vload16(0, x + (b + j) * 32) + w1 * vload16(0, x + (b + j) * 32 + 16)) * d16[j];
        }
    }
    for (; b < blocks; b++) {
        uchar16 q = vload16(0, qr + b * 16);
        float16 w0 = convert_float16(q & (uchar16) 15) - 8.0f, w1 = convert_float16(q >> (uchar16) 4) - 8.0f;
        acc += (w0 * vload16(0, x + b * 32) + w1 * vload16(0, x + b * 32 + 16)) * vload_half(b, dr);
    }
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    return c.x + c.y + c.z + c.w;
}
#endif
