// matmul_i8_f32_gemm: W8A16 out = x · wᵀ for many tokens (prefill): int8 weights, float activations.
//   out[t][row0 + r] = Σ_j x[t][j] · (q[r][j] · scale[r][j / gs])   for r < rows (this part), t < n
// Layout: qs (rows, in) int8 at r*in + j; scales (rows, groups) F32 at r*groups + g, groups = in / gs with
//   gs = groupSize (in when groupSize is 0: per output channel); x (n, in) F32 at t*in + j;
//   out (n, outStride) F32 at t*outStride + row0 + r. Any in and any gs dividing in.
// Tiling, STAGE_X and the tunables (TILE_R, TILE_T, ITEM_R): matmul_gemm.h. Per 32-column block each row's scale is
//   read once (a block lies in one group when gs is a multiple of 32 or the whole row); per half block its 16 values
//   are widened and scaled (q · scale).
// Tail: the columns past the last full block (in % 32), or every column when gs is neither the row nor a multiple of
//   32 (the quantizer writes 32/64/128, docs/QUANT-FORMAT.md; Int8Weight takes any divisor), are scalar with the
//   scale per column, after the blocked loop.
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
#define GEMM_KERNEL kernel_matmul_i8_f32_gemm
#define GEMM_PARAMS __global const float* x, __global const char* qs, __global const float* scales, __global float* out, \
                    int n, int in, int rows, int outStride, int row0, int groupSize
#define GEMM_SETUP int gs = groupSize > 0 ? groupSize : in; int groups = in / gs;
#define GEMM_BLOCKS (groups == 1 || gs % 32 == 0 ? in / 32 : 0) // full blocks, each inside one group
#define W_ROW in
#define S_ROW groups
#define W_BLOCK_SETUP int g = b * 32 / gs; // the block's group
#define W_SCALE(i, b) scales[soff[i] + g]
#define W_HALF(i, b, h) (convert_float16(vload16(0, qs + woff[i] + (b) * 32 + (h) * 16)) * scale[i])
#define W_COLUMN(i, c) ((float) qs[woff[i] + (c)] * scales[soff[i] + (c) / gs])
#include "matmul_gemm.h"
