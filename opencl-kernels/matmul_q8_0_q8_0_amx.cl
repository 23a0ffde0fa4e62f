// matmul_q8_0_q8_0_amx: out = x · wᵀ for several tokens on x86 CPUs with AMX (Intel's tile unit): Q8_0 weights
//   times Q8_0 activations (quantize_f32_q8_0tiles), llama.cpp's arithmetic for a Q8_0 product:
//   out[t][row0 + r] = Σ_b dw[r][b] · dx[t][b] · Σ_j q[r][32b + j] · xq[t][32b + j]   for r < rows (this part), t < n
// Why: one tile instruction (tdpbssd) computes a block's 16 rows × 16 tokens × 32 int8 products, 8192 multiply-adds
//   where AVX-512's float FMA does 16; what is left is each block's scaling, 16 vectors of 16 per tile product.
//   The tile instructions are inline assembly (matmul_amx.h).
// Layout: xq, xd as quantize_f32_q8_0tiles writes them (tokens in groups of 16); w the Q8_0 superblocks of
//   matmul_q8_0_f32.h; out (n, outStride) F32 at t·outStride + row0 + r. in is a multiple of 32.
// Work-item: a strip of 16 weight rows (tile A: 16 rows × 32 int8 at the row stride) × AMX_GROUPS groups of 16 tokens
//   (tile B: a block's 32 values of 16 tokens, 4 consecutive values per token per tile row); per block the integer
//   products (tile C) go to private memory and are scaled into 16 float16 accumulators, one per weight row, lanes
//   over the tokens. The strip's weight scales are widened 16 blocks at a time (a row's scales of a superblock are
//   contiguous); F16 to F32 goes through common.h's load_half16 (F16C): POCL's vload_half converts one value at a
//   time in integer code, which cost more than the tile products. A strip past the last row has as many tile rows as rows remain.
// AMX_PREFETCH: bytes ahead that the first group's pass prefetches each row of the strip (0: none).
// Launch: global (ceil(rows / 16), ceil(ceil(n / 16) / AMX_GROUPS)), local (1, 1).
#include "matmul_amx.h"
#include "matmul_q8_0_f32.h"
#ifndef AMX_PREFETCH
#define AMX_PREFETCH 256 // bytes ahead in each row of the strip: the fastest of 0, 256, 512, 1024, 2048 for few tokens
#endif
__kernel void kernel_matmul_q8_0_q8_0_amx(__global const char* xq, __global const half* xd, __global const char* w,
                                          __global float* out, int n, int in, int rows, int outStride, int row0) {
    int r0 = get_global_id(0) * 16, g0 = get_global_id(1) * AMX_GROUPS;
    int groups = (n + 15) / 16, blocks = in / 32;
    if (r0 >= rows || g0 >= groups) return;
    int mr = min(16, rows - r0);
    amx_configure(mr, 32);
    __attribute__((aligned(64))) int c[256];
    __attribute__((aligned(64))) float dw[16][16];   // the strip's weight scales for the superblock in use
    const long rowBytes = Q8_ROW(in);
    const __global char* w0 = w + (size_t) r0 * rowBytes;
    for (int g = g0; g < min(g0 + AMX_GROUPS, groups); g++) {
        float16 acc[16];
        #pragma unroll
        for (int m = 0; m < 16; m++) acc[m] = (float16) 0.0f;
        for (int b = 0; b < blocks; b++) {
#if AMX_PREFETCH > 0
            // the strip's 16 rows are 16 streams read 32 bytes at a time, which the hardware prefetcher alone leaves
            // waiting on memory when few tokens make the loop fast (a line holds two blocks of a row)
            if (g == g0 && b % 2 == 0)
                for (int m = 0; m < mr; m++) __builtin_prefetch(w0 + (size_t) m * rowBytes + Q8_VALUES_AT(b) + AMX_PREFETCH);
#endif
            amx_product(w0 + Q8_VALUES_AT(b), rowBytes, xq + ((size_t) g * blocks + b) * 512, c);
            if (b % 16 == 0) {
                #pragma unroll
                for (int m = 0; m < 16; m++) vstore16(load_half16(0, (const __global half*) (w0 + (size_t) min(m, mr - 1) * rowBytes + Q8_SCALES_AT(b))), 0, dw[m]);
            }
            float16 dx = load_half16((size_t) g * blocks + b, xd);
            #pragma unroll
            for (int m = 0; m < 16; m++) acc[m] = fma(convert_float16(vload16(m, c)), dx * dw[m][b % 16], acc[m]);
        }
        amx_store(acc, mr, g, n, out, outStride, row0 + r0);
    }
    amx_release();
}
