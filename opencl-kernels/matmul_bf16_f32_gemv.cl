// matmul_bf16_f32_gemv: out = x · wᵀ for few tokens (decode), weights BF16 (upper half of an F32: widened by a 16-bit shift in registers).
//   out[t][row0 + r] = Σ_i x[t][i] · w[r][i]   for r < rows (this part of the weight), t < n
// Layout: x (n, in) F32 at t*in + i; w (rows, in) bf16 at r*in + i, kept in its file type;
//   out (n, outStride) F32 at t*outStride + row0 + r (a weight split into row ranges writes its columns).
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32 on POCL (docs/POCL-GEMV.md). One work-item
//   per output value: a float16 accumulator over 16 columns at a time, one horizontal sum at the end.
#include "gemv_lanes.h"

__kernel void kernel_matmul_bf16_f32_gemv(__global const float* x, __global const ushort* w, __global float* out,
                                          int n, int in, int rows, int outStride, int row0) {
    GEMV_SCRATCH;
    int r = GEMV_ROW(), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    const __global ushort* wr = w + (size_t) r * in;
    const __global float* xr = x + (size_t) t * in;
#ifdef GEMV_LANES
    float sum = 0.0f;
    int steps = in / 16;
    for (int u = GEMV_LANE(); u < steps; u += GEMV_LANES) sum += hsum16(load_bf16x16(u, wr) * vload16(u, xr));
    for (int i = steps * 16 + GEMV_LANE(); i < in; i += GEMV_LANES) sum += load_bf16(i, wr) * xr[i];
    sum = GEMV_SUM(sum);
#else
    float16 acc = (float16) 0.0f;
    int i = 0;
    for (; i + 16 <= in; i += 16) acc += load_bf16x16(0, wr + i) * vload16(0, xr + i);
    float sum = hsum16(acc);
    for (; i < in; i++) sum += load_bf16(i, wr) * xr[i];
#endif
    if (GEMV_LANE() == 0) out[(size_t) t * outStride + row0 + r] = sum;
}
