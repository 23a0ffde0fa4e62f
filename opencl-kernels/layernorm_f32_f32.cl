// layernorm_f32_f32: out[t][i] = (x[t][i] − μ) / sqrt(σ² + eps) · w[i] + b[i], μ and σ² the mean and the
//   (biased) variance of row t, computed in two passes (mean first, then Σ(x − μ)²) so a large common offset
//   does not cancel.
// Layout: x, out (n, cols) F32 row-major at t*cols + i (out may be x itself); w, b (cols) F32.
// Launch: global (LOCAL · n), local (LOCAL): one work-group per row; items stride over the row, each pass
//   ends in a tree reduction in local memory. LOCAL must be a power of two and equal the host's local size.
#ifndef LOCAL
#define LOCAL 64 // work-items per row (power of two; the host passes 64 on CPU devices, 256 on GPUs)
#endif
#include "common.h"
__kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1)))
void kernel_layernorm_f32_f32(__global const float* x, __global const float* w, __global const float* b,
                              __global float* out, int cols, float eps) {
    __local float part[LOCAL];
    int t = get_group_id(0), lid = get_local_id(0);
    const __global float* xr = x + (size_t) t * cols;
    float sum = 0.0f;
    for (int i = lid; i < cols; i += LOCAL) sum += xr[i];
    float mean = local_sum(sum, part, LOCAL) / cols;
    barrier(CLK_LOCAL_MEM_FENCE); // everyone has read part[0] before it is reused
    float var = 0.0f;
    for (int i = lid; i < cols; i += LOCAL) {
        float d = xr[i] - mean;
        var += d * d;
    }
    float inv = 1.0f / sqrt(local_sum(var, part, LOCAL) / cols + eps);
    __global float* orow = out + (size_t) t * cols;
    for (int i = lid; i < cols; i += LOCAL) orow[i] = (xr[i] - mean) * inv * w[i] + b[i];
}
