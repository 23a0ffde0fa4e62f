// quantize_f32_q8k: activations to llama.cpp's Q8_K for the integer K-quant products (matmul_block_q8k_gemv):
//   per 256 values of a token, m = the value of largest magnitude (the first of equals), s = −127 / m,
//   xq = min(127, rint(s·x)) (round half to even), xd = 1 / s, and the sums of xq over each 16; all zero when m = 0.
// Layout: x (n, in) F32 at t·in + c; xq (n, in) int8 at t·in + c; xd (n, in / 256) F32; xsum (n, in / 16) int16.
//   in is a multiple of 256.
// Launch: global (in / 256, n), any local size: one work-item per 256 values.
#include "common.h"
__kernel void kernel_quantize_f32_q8k(__global const float* x, __global char* xq, __global float* xd, __global short* xsum,
                                      int in) {
    int b = get_global_id(0), t = get_global_id(1);
    if (b >= in / 256) return;
    size_t o = (size_t) t * in + 256 * b;
    const __global float* xb = x + o;
    float amax = 0.0f, m = 0.0f;
    for (int i = 0; i < 256; i++) {
        float a = fabs(xb[i]);
        if (a > amax) {
            amax = a;
            m = xb[i];
        }
    }
    float s = amax == 0.0f ? 0.0f : -127.0f / m;
    xd[(size_t) t * (in / 256) + b] = amax == 0.0f ? 0.0f : 1.0f / s;
    __global char* qb = xq + o;
    __global short* sb = xsum + (size_t) t * (in / 16) + 16 * b;
    for (int j = 0; j < 16; j++) {
        float16 v = vload16(j, xb) * s;
        int16 q = min(convert_int16(rint(v)), (int16) 127);
        vstore16(convert_char16(q), j, qb);
        sb[j] = (short) hsum16_int(q);
    }
}
