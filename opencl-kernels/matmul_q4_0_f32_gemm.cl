// matmul_q4_0_f32_gemm: out = x · wᵀ for many tokens (prefill), weights q4_0 dequantized in registers.
//   out[t][row0 + r] = Σ_b d[r][b] · Σ_j (nibble[r][32b + j] − 8) · x[t][32b + j]   for r < rows (this part), t < n
// Layout (repacked at upload, same numbers as the file): qs (rows, in/2) bytes: block b of row r is 16 bytes at
//   r*(in/2) + b*16, low nibbles = values 0–15, high nibbles = values 16–31 (value = nibble − 8);
//   d (rows, in/32) F16 at r*(in/32) + b; x (n, in) F32; out (n, outStride) F32 at t*outStride + row0 + r.
//   in is a multiple of 32.
// Tiling, STAGE_X and the tunables (TILE_R, TILE_T, ITEM_R): matmul_gemm.h. Per block each row's scale and 16 bytes
//   are read once; the first half block is the low nibbles, the second the high nibbles (matmul_q4_0_f32.h's
//   Q4_LO16, Q4_HI16), scaled by d.
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
#include "matmul_q4_0_f32.h"
#define GEMM_KERNEL kernel_matmul_q4_0_f32_gemm
#define GEMM_PARAMS __global const float* x, __global const uchar* qs, __global const half* d, __global float* out, \
                    int n, int in, int rows, int outStride, int row0
#define W_ROW (in / 2)
#define S_ROW (in / 32)
#define W_SCALE(i, b) load_half(soff[i] + (b), d)
#define W_PACK_T uchar16
#define W_PACK(i, b) vload16(0, qs + woff[i] + (b) * 16)
#define W_HALF(i, b, h) (((h) == 0 ? Q4_LO16(wb[i]) : Q4_HI16(wb[i])) * scale[i])
#include "matmul_gemm.h"
