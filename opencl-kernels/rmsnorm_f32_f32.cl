// rmsnorm_f32_f32: out[g][i] = x[g][i] / sqrt(mean_i(x[g][i]²) + eps) · w[i] for every group g of `group`
//   consecutive values. A group is a whole row (group = cols) or one head of a row (qwen3's per-head Q/K
//   norm: group = headDim, a divisor of cols), so the groups tile the (n, cols) matrix without gaps.
// Layout: x, out (n, cols) F32 row-major, group g at g*group + i (out may be x itself); w (group) F32 (one-row F16 and
//   BF16 weights, the norm vectors, get an F32 copy at upload for this).
// Launch: global (LOCAL · n·cols/group), local (LOCAL): one work-group per group; items stride over the
//   group, then a tree reduction in local memory. LOCAL must be a power of two and equal the host's local size.
#ifndef LOCAL
#define LOCAL 64 // work-items per group (power of two; the host passes 64 on CPU devices, 256 on GPUs)
#endif
#include "common.h"
__kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1)))
void kernel_rmsnorm_f32_f32(__global const float* x, __global const float* w, __global float* out, int group, float eps) {
    __local float part[LOCAL];
    int g = get_group_id(0), lid = get_local_id(0);
    const __global float* xr = x + (size_t) g * group;
    float ss = 0.0f;
    for (int i = lid; i < group; i += LOCAL) ss += xr[i] * xr[i];
    float scale = 1.0f / sqrt(local_sum(ss, part, LOCAL) / group + eps);
    __global float* orow = out + (size_t) g * group;
    for (int i = lid; i < group; i += LOCAL) orow[i] = xr[i] * scale * w[i];
}
