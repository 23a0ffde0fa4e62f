// matmul_block_f32_gemm: out = x · wᵀ for many tokens (prefill), w in one of the GGML block types of blocks.h as the
//   file stores it (BLOCK_TYPE), on the register-tiled scaffold of matmul_gemm.h: each 32-column block of a weight row
//   is decoded once (block_decode32) and applied to the work-item's TILE_T tokens.
//   out[t][row0 + r] = Σ_k w[r][k] · x[t][k]   for r < rows (this part), t < n
// Layout: w (rows, BLOCK_ROW_BYTES(in)) bytes; x (n, in) F32; out (n, outStride) F32 at t·outStride + row0 + r. in is
//   a multiple of the type's block (32 or 256 values), so there is no tail.
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
#include "blocks.h"
typedef struct { float16 lo, hi; } block32; // one 32-value block of a row: its two 16-value halves
__attribute__((always_inline))
inline block32 block_decode(const __global uchar* row, int c) {
    block32 v;
    block_decode32(row, c, &v.lo, &v.hi);
    return v;
}
#define GEMM_KERNEL kernel_matmul_block_f32_gemm
#define GEMM_PARAMS __global const float* x, __global const uchar* w, __global float* out, int n, int in, int rows, \
                    int outStride, int row0
#define W_ROW BLOCK_ROW_BYTES(in)
#define W_PACK_T block32
#define W_PACK(i, b) block_decode(w + woff[i], (b))
#define W_HALF(i, b, h) ((h) == 0 ? wb[i].lo : wb[i].hi)
#include "matmul_gemm.h"
