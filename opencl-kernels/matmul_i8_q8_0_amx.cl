// matmul_i8_q8_0_amx: out = x · wᵀ for several tokens on x86 CPUs with AMX, for Q4_0 weights unpacked to int8 with F32
//   block scales (unpack_q4_0_i8) times Q8_0 activations (quantize_f32_q8_0tiles):
//   out[t][row0 + r] = Σ_b ws[r][b] · dx[t][b] · Σ_{j<32} wq[r][32b + j] · xq[t][32b + j]
//   which is Σ_k w[r][k] · x̂[t][k] with w = ws·wq exactly and x̂ the activations as Q8_0 rounds them.
// Why: as matmul_q8_0_q8_0_amx (the tile scaffold is matmul_amx.h's): one tdpbssd computes 16 rows × 16 tokens × 32
//   int8 products; the float GEMM Q4_0 takes elsewhere does one multiply-add per lane. The unpack costs a pass over the
//   weights per call, which the host pays only for enough tokens (KernelChooser.amx).
// Layout: xq, xd as quantize_f32_q8_0tiles writes them (tokens in groups of 16); wq (rows, in) int8 of this part;
//   ws (rows, stride) F32 with stride a multiple of 16 ≥ in / 32; out (n, outStride) F32 at t·outStride + row0 + r.
//   in is a multiple of 32.
// Work-item: a strip of 16 weight rows (tile A 16 rows × 32 int8, tile B a block's 8 rows of 64 bytes) × AMX_GROUPS
//   groups of 16 tokens; per block the integer products (tile C) go to private memory and are scaled into 16 float16
//   accumulators, one per weight row, lanes over the tokens; the strip's scales are read 16 blocks at a time. A strip
//   past the last row has as many tile rows as rows remain.
// Launch: global (ceil(rows / 16), ceil(ceil(n / 16) / AMX_GROUPS)), local (1, 1).
#include "matmul_amx.h"
__kernel void kernel_matmul_i8_q8_0_amx(__global const char* xq, __global const half* xd, __global const char* wq,
                                        __global const float* ws, __global float* out, int n, int in, int rows,
                                        int outStride, int row0, int stride) {
    int r0 = get_global_id(0) * 16, g0 = get_global_id(1) * AMX_GROUPS;
    int groups = (n + 15) / 16, blocks = in / 32;
    if (r0 >= rows || g0 >= groups) return;
    int mr = min(16, rows - r0);
    amx_configure(mr, 32);
    __attribute__((aligned(64))) int c[256];
    __attribute__((aligned(64))) float dw[16][16];   // the strip's scales for 16 blocks
    const __global char* w0 = wq + (size_t) r0 * in;
    for (int g = g0; g < min(g0 + AMX_GROUPS, groups); g++) {
        float16 acc[16];
        #pragma unroll
        for (int m = 0; m < 16; m++) acc[m] = (float16) 0.0f;
        for (int b = 0; b < blocks; b++) {
            amx_product(w0 + (size_t) b * 32, in, xq + ((size_t) g * blocks + b) * 512, c);
            if (b % 16 == 0) {
                #pragma unroll
                for (int m = 0; m < 16; m++) vstore16(vload16(0, ws + (size_t) (r0 + min(m, mr - 1)) * stride + b), 0, dw[m]);
            }
            float16 dx = load_half16((size_t) g * blocks + b, xd);
            #pragma unroll
            for (int m = 0; m < 16; m++) acc[m] = fma(convert_float16(vload16(m, c)), dx * dw[m][b % 16], acc[m]);
        }
        amx_store(acc, mr, g, n, out, outStride, row0 + r0);
    }
    amx_release();
}
