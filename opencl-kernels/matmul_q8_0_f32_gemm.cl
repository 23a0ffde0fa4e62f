// matmul_q8_0_f32_gemm: out = x · wᵀ for many tokens (prefill), weights q8_0 dequantized in registers.
//   out[t][row0 + r] = Σ_b d[r][b] · Σ_j q[r][32b + j] · x[t][32b + j]   for r < rows (this part), t < n
// Layout: the Q8_0 superblocks of matmul_q8_0_f32.h (row r at r*Q8_ROW(in): per 16 blocks, 16 F16 scales in 32
//   bytes, then the blocks' int8 values); x (n, in) F32; out (n, outStride) F32 at t*outStride + row0 + r.
//   in is a multiple of 32.
// Tiling, STAGE_X and the tunables (TILE_R, TILE_T, ITEM_R): matmul_gemm.h. Per block each row's scale is read once
//   (the block's offsets in a row, Q8_SCALES_AT and Q8_VALUES_AT, are the same for every row: computed once per
//   block); per half block its 16 int8 values are widened and scaled (q · d), so a weight byte is read once per
//   TILE_T tokens.
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
#include "matmul_q8_0_f32.h"
#define GEMM_KERNEL kernel_matmul_q8_0_f32_gemm
#define GEMM_PARAMS __global const float* x, __global const char* qs, __global float* out, int n, int in, int rows, \
                    int outStride, int row0
#define W_ROW Q8_ROW(in)
#define W_BLOCK_SETUP int sb = Q8_SCALES_AT(b), vb = Q8_VALUES_AT(b); // the same offsets in every row
#define W_SCALE(i, b) load_half((b) % 16, (const __global half*) (qs + woff[i] + sb))
#define W_HALF(i, b, h) (convert_float16(vload16(0, qs + woff[i] + vb + (h) * 16)) * scale[i])
#include "matmul_gemm.h"
