// matmul_q8_0_q8_0_gemvswiglu: the SwiGLU feed-forward input for one token in a single launch, Q8_0 weights times
//   Q8_0 activations (matmul_q8_0_q8_0.h): g = dot_q8_0_q8_0(gate row r, x), u = dot_q8_0_q8_0(up row r, x);
//   out[r] = g / (1 + e^(−g)) · u
// Layout: gate, up the Q8_0 superblocks of matmul_q8_0_f32.h (rows rows each); xq (1, in) int8, xd (1,
//   Q8X_STRIDE(in)) F16 (quantize_f32_q8_0); out (1, rows) F32. in is a multiple of 32.
// Launch: global roundup(rows, 32), local 32: one work-item per output value (reads both weight rows).
#include "matmul_q8_0_q8_0.h"
__kernel void kernel_matmul_q8_0_q8_0_gemvswiglu(__global const char* xq, __global const half* xd, int in, int rows,
        __global const char* qg, __global const char* qu, __global float* out) {
    int r = get_global_id(0);
    if (r >= rows) return;
    float g = dot_q8_0_q8_0(qg + (size_t) r * Q8_ROW(in), xq, xd, in);
    float u = dot_q8_0_q8_0(qu + (size_t) r * Q8_ROW(in), xq, xd, in);
    out[r] = silu(g) * u;
}
