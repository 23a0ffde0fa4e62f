// matmul_float_gemm.h: the tiled GEMM of matmul_gemm.h for the float weight types (matmul_f32_f32_gemm,
//   matmul_f16_f32_gemm, matmul_bf16_f32_gemm), which differ only in the weight element. The including file defines
//   W_T (the weight element type), W_LOAD16(i, w) (the 16 weights from index i as a float16), W_LOAD(i, w) (one
//   weight as a float) and GEMM_KERNEL (its entry point, kernel_ + its file stem).
//   out[t][row0 + r] = Σ_i x[t][i] · w[r][i]   for r < rows (this part of the weight), t < n
// Layout: x (n, in) F32 at t*in + i; w (rows, in) at r*in + i, kept in its file type;
//   out (n, outStride) F32 at t*outStride + row0 + r. Any in: the columns past the last multiple of 32 are a scalar
//   tail, added into lane 0 of the accumulators.
// Tiling, STAGE_X and the tunables (TILE_R, TILE_T, ITEM_R): matmul_gemm.h.
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
#ifndef MATMUL_FLOAT_GEMM_H
#define MATMUL_FLOAT_GEMM_H
#define GEMM_PARAMS __global const float* x, __global const W_T* w, __global float* out, int n, int in, int rows, \
                    int outStride, int row0
#define W_ROW in
#define W_HALF(i, b, h) W_LOAD16(woff[i] + (b) * 32 + (h) * 16, w)
#define W_COLUMN(i, c) W_LOAD(woff[i] + (c), w)
#define GEMM_TAIL_IN_ACC
#include "matmul_gemm.h"
#endif
