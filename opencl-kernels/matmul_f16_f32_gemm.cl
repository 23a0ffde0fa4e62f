// matmul_f16_f32_gemm: out = x · wᵀ for many tokens (prefill), weights F16 (vload_half: no cl_khr_fp16 needed).
//   out[t][row0 + r] = Σ_i x[t][i] · w[r][i]   for r < rows (this part of the weight), t < n
// Layout: x (n, in) F32 at t*in + i; w (rows, in) f16 at r*in + i, kept in its file type;
//   out (n, outStride) F32 at t*outStride + row0 + r.
// Tiling, STAGE_X and the tunables: matmul_gemm.h through matmul_float_gemm.h (register tiles of ITEM_R rows × TILE_T
//   tokens). Any in: the columns past the last multiple of 32 are a scalar tail.
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
#define W_T half
#define W_LOAD16(i, w) vload_half16(0, (w) + (i))
#define W_LOAD(i, w) vload_half(i, w)
#define GEMM_KERNEL kernel_matmul_f16_f32_gemm
#include "matmul_float_gemm.h"
