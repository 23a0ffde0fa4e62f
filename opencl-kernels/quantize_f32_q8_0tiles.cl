// quantize_f32_q8_0tiles: activations to Q8_0 (llama.cpp's rule) in the order AMX's int8 tile product reads them,
//   for matmul_q8_0_q8_0_amx and matmul_i8_q8_0_amx, with each block's sum as rounded (the offsets' products).
//   Per token and block of 32 values: quantize_q8_0.h's rule (the numbers quantize_f32_q8_0 writes in rows).
// Layout: x (n, in) F32; tokens in groups of 16 (the last padded with zeros), g = t / 16, j = t % 16, blocks = in / 32:
//   xq: per (g, b) 512 bytes at (g·blocks + b)·512, 8 rows of 64: row k holds, for each token j, values 4k … 4k + 3
//   of its block (bytes j·4 … j·4 + 3); xd: per (g, b) 16 F16 at (g·blocks + b)·16 + j; xs: F32 at the same index,
//   d · Σ q (d as stored: the sum of the block's values as the products see them).
// Launch: global (in / 32, roundup(n, 16)), any local size: one work-item per (block, token).
#include "common.h"
#include "quantize_q8_0.h"
__kernel void kernel_quantize_f32_q8_0tiles(__global const float* x, __global char* xq, __global half* xd, __global float* xs,
                                            int n, int in) {
    int b = get_global_id(0), t = get_global_id(1);
    int blocks = in / 32;
    if (b >= blocks) return;
    size_t tile = (size_t) (t / 16) * blocks + b;
    int j = t % 16;
    __global char* q = xq + tile * 512 + j * 4;
    if (t >= n) {
        for (int k = 0; k < 8; k++) *(__global int*) (q + k * 64) = 0;
        vstore_half(0.0f, tile * 16 + j, xd);
        xs[tile * 16 + j] = 0.0f;
        return;
    }
    const __global float* xb = x + (size_t) t * in + 32 * b;
    float d, id = q8_0_inverse_scale(xb, &d);
    vstore_half_rte(d, tile * 16 + j, xd);
    int sum = 0;
    for (int k = 0; k < 8; k++) {
        char4 c = q8_0_quad(xb, k, id);
        *(__global char4*) (q + k * 64) = c;
        int4 ci = convert_int4(c);
        sum += ci.x + ci.y + ci.z + ci.w;
    }
    xs[tile * 16 + j] = load_half(tile * 16 + j, xd) * (float) sum;
}
