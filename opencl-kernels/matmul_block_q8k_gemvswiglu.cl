// matmul_block_q8k_gemvswiglu: the SwiGLU feed-forward input for one token in a single launch, gate and up weights of
//   one K type (BLOCK_TYPE: Q4_K, Q5_K or Q6_K) times Q8_K activations (blocks_q8k.h: x86 CPU devices):
//   g = row_dot_q8k(gate row r, x), u = row_dot_q8k(up row r, x); out[r] = g / (1 + e^(−g)) · u
// Why: one launch instead of two products and the gate op.
// Layout: xq (1, in) int8, xd (1, in / 256) F32, xsum (1, in / 16) int16 (quantize_f32_q8k); gate, up (rows, in / 256
//   blocks) of BLOCK_ROW_BYTES(in) bytes per row; out (1, rows) F32. in is a multiple of 256.
// Launch: global roundup(rows, 32), local 32: one work-item per output value (reads both weight rows).
#define Q8K_TOKENS 1
#include "blocks_q8k.h"
__kernel void kernel_matmul_block_q8k_gemvswiglu(__global const char* xq, __global const float* xd, __global const short* xsum,
        int in, int rows, __global const uchar* wg, __global const uchar* wu, __global float* out) {
    int r = get_global_id(0);
    if (r >= rows) return;
    float g = row_dot_q8k(wg + (size_t) r * BLOCK_ROW_BYTES(in), xq, xd, xsum, in);
    float u = row_dot_q8k(wu + (size_t) r * BLOCK_ROW_BYTES(in), xq, xd, xsum, in);
    out[r] = silu(g) * u;
}
