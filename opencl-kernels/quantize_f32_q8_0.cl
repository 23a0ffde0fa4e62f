// quantize_f32_q8_0: activations to Q8_0 in rows (quantize_q8_0.h's rule), for the one-token products of
//   matmul_q8_0_q8_0.h.
// Layout: x (n, in) F32; xq (n, in) int8 at t·in + c; xd (n, Q8X_STRIDE(in)) F16 at t·Q8X_STRIDE(in) + c / 32, the
//   blocks' scales padded with zeros to a multiple of 16 per token (the products read a superblock's 16 at once).
//   in is a multiple of 32.
// Launch: global (Q8X_STRIDE(in), n), any local size: one work-item per (block or padding slot, token).
#include "common.h"
#include "quantize_q8_0.h"
__kernel void kernel_quantize_f32_q8_0(__global const float* x, __global char* xq, __global half* xd, int in) {
    int b = get_global_id(0), t = get_global_id(1);
    size_t slot = (size_t) t * Q8X_STRIDE(in) + b;
    if (b >= in / 32) {
        if (b < Q8X_STRIDE(in)) vstore_half(0.0f, slot, xd);
        return;
    }
    const __global float* xb = x + (size_t) t * in + 32 * b;
    float d, id = q8_0_inverse_scale(xb, &d);
    vstore_half_rte(d, slot, xd);
    __global char* q = xq + (size_t) t * in + 32 * b;
    for (int k = 0; k < 8; k++) vstore4(q8_0_quad(xb, k, id), k, q);
}
