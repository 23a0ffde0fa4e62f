// matmul_q8_0_q8_0_gemv: out = x · wᵀ for few tokens, Q8_0 weights times Q8_0 activations (quantize_f32_q8_0), in
//   matmul_q8_0_q8_0_amx's arithmetic (matmul_q8_0_q8_0.h: x86 CPU devices with AVX-512BW):
//   out[t][row0 + r] = Σ_b dw[r][b] · dx[t][b] · Σ_j q[r][32b + j] · xq[t][32b + j]   for r < rows (this part), t < n
// Layout: w the Q8_0 superblocks of matmul_q8_0_f32.h; xq (n, in) int8; xd (n, Q8X_STRIDE(in)) F16; out (n,
//   outStride) F32 at t·outStride + row0 + r. in is a multiple of 32.
// Launch: global (roundup(rows, 32), n), local (32, 1): one work-item per output value (docs/POCL-GEMV.md).
#include "matmul_q8_0_q8_0.h"
__kernel void kernel_matmul_q8_0_q8_0_gemv(__global const char* xq, __global const half* xd, __global const char* w,
                                           __global float* out, int n, int in, int rows, int outStride, int row0) {
    int r = get_global_id(0), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    out[(size_t) t * outStride + row0 + r] = dot_q8_0_q8_0(w + (size_t) r * Q8_ROW(in), xq + (size_t) t * in,
                                                           xd + (size_t) t * Q8X_STRIDE(in), in);
}
