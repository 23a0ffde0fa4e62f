// matmul_i8_i8_gemm: W8A8 out = x · wᵀ for many tokens (prefill), int8 × int8 products summed exactly.
//   out[t][row0 + r] = (a[t] · scale[r]) · Σ_j xq[t][j] · q[r][j]   for r < rows (this part), t < n
// Layout: xq (n, in) int8 at t*in + j and a (n) F32 from quantize_f32_i8; qs (rows, in) int8 at r*in + j;
//   scales (rows) F32 (one per output channel); out (n, outStride) F32 at t*outStride + row0 + r. Any in: the
//   columns past the last full block of 32 are scalar (int32), after the blocked loop.
// Tiling, STAGE_X and the tunables (TILE_R, TILE_T, ITEM_R): matmul_gemm.h, with int8 activations (STAGE_X stages
//   the TILE_T × 32 int8 slice of xq). Per half block the item converts its ITEM_R weight vectors to float once and
//   each token's xq vector once, and multiplies them with float FMAs (AVX-512 has no cheap int32 multiply; a float
//   FMA is one instruction).
// Exactness: every product is an integer of magnitude ≤ 127 · 127 = 16129 and lane l of an accumulator sums the
//   in / 16 products of columns j ≡ l (mod 16), so each partial sum is an integer below 16129 · in / 16, exact in
//   float while that stays ≤ 2^24 = 16777216, i.e. for in ≤ 16640 (every Llama-shaped layer up to 8B: 14336).
//   The 16 lanes are converted to int32 (exact) and summed in integers, and so is the tail, so the dot product
//   equals the int32 one; wider rows round each lane at float precision (relative 2^-24, far below the int8
//   quantization error). The scales multiply once at the end, as in matmul_i8_i8_gemv.
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
#define GEMM_KERNEL kernel_matmul_i8_i8_gemm
#define GEMM_PARAMS __global const char* xq, __global const float* tokenScale, __global const char* qs, \
                    __global const float* scales, __global float* out, int n, int in, int rows, int outStride, int row0
#define GEMM_X xq
#define X_T char
#define X_LOAD16(p) convert_float16(vload16(0, p))
#define W_ROW in
#define W_HALF(i, b, h) convert_float16(vload16(0, qs + woff[i] + (b) * 32 + (h) * 16))
#define SUM_T int
#define GEMM_HSUM(v) hsum16_int(convert_int16(v)) // exact: integer lanes below 2^24
#define W_COLUMN(i, c) ((int) qs[woff[i] + (c)])
#define GEMM_MAD(a, b, s) ((s) + (a) * (b))
#define GEMM_OUT(s, r, t) (tokenScale[t] * scales[r] * (float) (s))
#include "matmul_gemm.h"
