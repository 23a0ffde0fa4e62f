// matmul_i8_q8_0_amx: out = x · wᵀ for several tokens on x86 CPUs with AMX, for weights unpacked to int8 with F32 block
//   scales and offsets (unpack_q4_0_i8, unpack_block_i8: Q4_0, Q4_K, Q5_K, Q6_K) times Q8_0 activations
//   (quantize_f32_q8_0tiles):
//   out[t][row0 + r] = Σ_s ws[r][s] · dx[t][s·KB / 32] · Σ_{j<KB} wq[r][KB·s + j] · xq[t][KB·s + j]
//                      + Σ_b wo[r][b] · xs[t][b]   (OFFSETS; xs[t][b] = dx[t][b] · Σ_j xq[t][32b + j], block b of 32)
//   which is Σ_k w[r][k] · x̂[t][k] with w = ws·wq + wo exactly and x̂ the activations as Q8_0 rounds them.
// Why: as matmul_q8_0_q8_0_amx (the tile scaffold is matmul_amx.h's): one tdpbssd computes 16 rows × 16 tokens × KB int8 products; the float GEMMs these
//   types take elsewhere do one multiply-add per lane. The unpack costs a pass over the weights per call, which the
//   host pays only for enough tokens (KernelChooser.amx).
// Layout: xq, xd, xs as quantize_f32_q8_0tiles writes them (tokens in groups of 16); wq (rows, in) int8 of this part;
//   ws (rows, stride) F32 with stride a multiple of 16 ≥ in / KB; wo (rows, stride) F32 (read only with OFFSETS); out
//   (n, outStride) F32 at t·outStride + row0 + r. in is a multiple of 32. KB: 32 (tile A 16 rows × 32 int8, tile B a
//   block's 8 rows of 64 bytes) or 16 (Q6_K's sub-blocks: each 32-value block as two products, tile B the block's
//   rows 0–3, then 4–7).
// Work-item: a strip of 16 weight rows × AMX_GROUPS groups of 16 tokens; per sub-block the integer products (tile C)
//   go to private memory and are scaled into 16 float16 accumulators, one per weight row, lanes over the tokens; the
//   strip's scales (and offsets) are read 16 sub-blocks at a time. A strip past the last row has as many tile rows as rows remain.
// Launch: global (ceil(rows / 16), ceil(ceil(n / 16) / AMX_GROUPS)), local (1, 1).
#include "matmul_amx.h"
#ifndef KB
#define KB 32 // values per scale: 32, or 16 (Q6_K)
#endif
#if KB != 32 && KB != 16
#error "KB is 32 or 16"
#endif
__kernel void kernel_matmul_i8_q8_0_amx(__global const char* xq, __global const half* xd, __global const float* xs,
                                        __global const char* wq, __global const float* ws, __global const float* wo,
                                        __global float* out, int n, int in, int rows, int outStride, int row0, int stride) {
#ifndef OFFSETS
    (void) xs; (void) wo;
#endif
    int r0 = get_global_id(0) * 16, g0 = get_global_id(1) * AMX_GROUPS;
    int groups = (n + 15) / 16, blocks = in / 32;
    if (r0 >= rows || g0 >= groups) return;
    int mr = min(16, rows - r0);
    amx_configure(mr, KB);
    __attribute__((aligned(64))) int c[256];
    __attribute__((aligned(64))) float dw[16][16];   // the strip's scales for 16 sub-blocks
#ifdef OFFSETS
    __attribute__((aligned(64))) float dm[16][16];   // … and offsets for 16 blocks
#endif
    const __global char* w0 = wq + (size_t) r0 * in;
    for (int g = g0; g < min(g0 + AMX_GROUPS, groups); g++) {
        float16 acc[16];
        #pragma unroll
        for (int m = 0; m < 16; m++) acc[m] = (float16) 0.0f;
        for (int b = 0; b < blocks; b++) {
            const __global char* xt = xq + ((size_t) g * blocks + b) * 512;
            float16 dx = load_half16((size_t) g * blocks + b, xd);
            #pragma unroll
            for (int h = 0; h < 32 / KB; h++) {
                int s = b * (32 / KB) + h;
                amx_product(w0 + (size_t) s * KB, in, xt + h * 256, c);
                if (s % 16 == 0) {
                    #pragma unroll
                    for (int m = 0; m < 16; m++) vstore16(vload16(0, ws + (size_t) (r0 + min(m, mr - 1)) * stride + s), 0, dw[m]);
                }
                #pragma unroll
                for (int m = 0; m < 16; m++) acc[m] = fma(convert_float16(vload16(m, c)), dx * dw[m][s % 16], acc[m]);
            }
#ifdef OFFSETS
            if (b % 16 == 0) {
                #pragma unroll
                for (int m = 0; m < 16; m++) vstore16(vload16(0, wo + (size_t) (r0 + min(m, mr - 1)) * stride + b), 0, dm[m]);
            }
            float16 sx = vload16((size_t) g * blocks + b, xs);
            #pragma unroll
            for (int m = 0; m < 16; m++) acc[m] = fma(sx, (float16) dm[m][b % 16], acc[m]);
#endif
        }
        amx_store(acc, mr, g, n, out, outStride, row0 + r0);
    }
    amx_release();
}
