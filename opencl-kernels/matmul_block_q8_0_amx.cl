// matmul_block_q8_0_amx: out = x · wᵀ for several tokens on x86 CPUs with AMX, Q4_K, Q5_K or Q6_K weights (BLOCK_TYPE,
//   as the file stores them; blocks.h) times Q8_0 activations (quantize_f32_q8_0tiles), each super-block unpacked to
//   int8 in private memory right before its tile products:
//   out[t][row0 + r] = Σ_s ws[r][s] · dx[t][s·KB / 32] · Σ_{j<KB} wq[r][KB·s + j] · xq[t][KB·s + j]
//                      + Σ_b wo[r][b] · xs[t][b]   (Q4_K, Q5_K; xs[t][b] = dx[t][b] · Σ_j xq[t][32b + j], block b of 32)
//   with w = ws·wq + wo exactly (Q4_K, Q5_K: KB 32, wq = q, ws = d·sc_j, wo = −dmin·m_j; Q6_K: KB 16, wq = q − 32,
//   ws = d·sc_i; blocks.h's block_ints32): Σ_k w[r][k] · x̂[t][k] with x̂ the activations as Q8_0 rounds them.
// Why: one tdpbssd computes 16 rows × 16 tokens × KB int8 products, and the unpack happens where the tile reads it: no
//   int8 copy of the weights goes through memory, so few tokens pay for it as well as many.
// Layout: xq, xd, xs as quantize_f32_q8_0tiles writes them (tokens in groups of 16); w this part's rows of
//   BLOCK_ROW_BYTES(in); out (n, outStride) F32 at t·outStride + row0 + r. in is a multiple of 256.
// Work-item: a strip of 16 weight rows × AMX_GROUPS groups of 16 tokens. Per super-block the strip's 16 rows are
//   unpacked to 16 × 256 int8 (tile A reads 16 rows × KB of them at a stride of 256) with their scales and offsets,
//   then every group runs its 8 blocks' tile products against them; per sub-block the integer products (tile C) go to
//   private memory and are scaled into 16 float16 accumulators, one per weight row, lanes over the tokens, kept per
//   group in private memory between super-blocks; each row's next super-block is prefetched while it unpacks. A strip
//   past the last row has as many tile rows as rows remain.
// Launch: global (ceil(rows / 16), ceil(ceil(n / 16) / AMX_GROUPS)), local (1, 1).
#include "matmul_amx.h"
#include "blocks.h"
#if BLOCK_TYPE == BT_Q6_K
#define KB 16 // values per scale
#elif BLOCK_TYPE == BT_Q4_K || BLOCK_TYPE == BT_Q5_K
#define KB 32
#define OFFSETS 1
#else
#error "matmul_block_q8_0_amx takes Q4_K, Q5_K or Q6_K"
#endif
#define NIBBLES 0x0F0F0F0F0F0F0F0FUL
#define BIT0 0x0101010101010101UL

// 32 bytes at any alignment, for byte-wise bit operations 64 bits at a time.
__attribute__((always_inline))
inline ulong4 bytes32(const __global uchar* p) {
    return (ulong4) (as_ulong2(vload16(0, p)), as_ulong2(vload16(1, p)));
}

// One row's super-block b as 256 int8 codes at q (sub-block order), its sub-block scales ws and (Q4_K, Q5_K) its
// blocks' offsets wo: w = ws·q + wo exactly (blocks.h's block_ints32 decode).
__attribute__((always_inline))
inline void unpack_super_block(const __global uchar* b, char* q, float* ws, float* wo) {
#if BLOCK_TYPE == BT_Q6_K
    (void) wo;
    vstore16(convert_float16(vload16(0, (const __global char*) (b + 192))) * HALF_AT(b, 208), 0, ws);
    #pragma unroll
    for (int n = 0; n < 2; n++) {
        ulong4 qh = bytes32(b + 128 + 32 * n);
        #pragma unroll
        for (int qd = 0; qd < 4; qd++) {
            ulong4 v = ((bytes32(b + 64 * n + 32 * (qd % 2)) >> (ulong4) (4 * (qd / 2))) & (ulong4) NIBBLES)
                     | (((qh >> (ulong4) (2 * qd)) & (ulong4) (3 * BIT0)) << (ulong4) 4);
            // q − 32 per byte: codes below 32 gain the high bits 111, the others lose bit 5
            ulong4 t = ~v & (ulong4) (32 * BIT0);
            vstore4((v & (ulong4) (31 * BIT0)) | t | (t << (ulong4) 1) | (t << (ulong4) 2), 0, (ulong*) (q + 32 * (4 * n + qd)));
        }
    }
#else
    float2 dd = HALF2_AT(b, 0);
    uchar16 s = vload16(0, b + 4); // the 12 scale bytes (and 4 bytes past them, unused)
    uchar4 s0 = s.s0123, s1 = s.s4567, s2 = s.s89ab;
    vstore8(convert_float8((uchar8) (s0 & (uchar4) 63, (s2 & (uchar4) 15) | ((s0 >> (uchar4) 6) << (uchar4) 4))) * dd.x, 0, ws);
    vstore8(-(convert_float8((uchar8) (s1 & (uchar4) 63, (s2 >> (uchar4) 4) | ((s1 >> (uchar4) 6) << (uchar4) 4))) * dd.y), 0, wo);
#if BLOCK_TYPE == BT_Q5_K
    ulong4 qh = bytes32(b + 16);
#endif
    #pragma unroll
    for (int p = 0; p < 4; p++) {
        ulong4 v = bytes32(b + K_QS + 32 * p);
        ulong4 lo = v & (ulong4) NIBBLES, hi = (v >> (ulong4) 4) & (ulong4) NIBBLES;
#if BLOCK_TYPE == BT_Q5_K
        lo |= ((qh >> (ulong4) (2 * p)) & (ulong4) BIT0) << (ulong4) 4;
        hi |= ((qh >> (ulong4) (2 * p + 1)) & (ulong4) BIT0) << (ulong4) 4;
#endif
        vstore4(lo, 0, (ulong*) (q + 64 * p));
        vstore4(hi, 0, (ulong*) (q + 64 * p + 32));
    }
#endif
}

__kernel void kernel_matmul_block_q8_0_amx(__global const char* xq, __global const half* xd, __global const float* xs,
                                           __global const uchar* w, __global float* out, int n, int in, int rows,
                                           int outStride, int row0) {
#ifndef OFFSETS
    (void) xs;
#endif
    int r0 = get_global_id(0) * 16, g0 = get_global_id(1) * AMX_GROUPS;
    int groups = (n + 15) / 16, blocks = in / 32;
    if (r0 >= rows || g0 >= groups) return;
    int mr = min(16, rows - r0), gn = min(AMX_GROUPS, groups - g0);
    amx_configure(mr, KB);
    __attribute__((aligned(64))) int c[256];
    __attribute__((aligned(64))) char wt[16 * 256];  // the strip's super-block in use, row m at 256·m
    __attribute__((aligned(64))) float dw[16][16];   // … its sub-blocks' scales …
    __attribute__((aligned(64))) float dm[16][8];    // … and its blocks' offsets
    __attribute__((aligned(64))) float16 accs[AMX_GROUPS][16];
    for (int i = 0; i < gn; i++) {
        #pragma unroll
        for (int m = 0; m < 16; m++) accs[i][m] = (float16) 0.0f;
    }
    const size_t rowBytes = BLOCK_ROW_BYTES(in);
    const __global uchar* w0 = w + (size_t) r0 * rowBytes;
    for (int sb = 0; sb < in / 256; sb++) {
        for (int m = 0; m < 16; m++) {
            const __global uchar* sbw = w0 + (size_t) min(m, mr - 1) * rowBytes + (size_t) sb * BLOCK_ROW_BYTES(256);
            // the strip's rows are 16 streams read a super-block at a time with the groups' products in between,
            // which the hardware prefetcher alone leaves waiting on memory: the next one is asked for now
            if (sb + 1 < in / 256) for (int o = 0; o < BLOCK_ROW_BYTES(256); o += 64) __builtin_prefetch(sbw + BLOCK_ROW_BYTES(256) + o);
            unpack_super_block(sbw, wt + 256 * m, dw[m], dm[m]);
        }
        for (int i = 0; i < gn; i++) {
            size_t x0 = (size_t) (g0 + i) * blocks + 8 * sb; // the group's first block of this super-block
            float16 acc[16];
            #pragma unroll
            for (int m = 0; m < 16; m++) acc[m] = accs[i][m];
            for (int k = 0; k < 8; k++) {
                float16 dx = load_half16(x0 + k, xd);
                #pragma unroll
                for (int h = 0; h < 32 / KB; h++) {
                    amx_product_private(wt + 32 * k + KB * h, 256, xq + (x0 + k) * 512 + h * 256, c);
                    #pragma unroll
                    for (int m = 0; m < 16; m++) acc[m] = fma(convert_float16(vload16(m, c)), dx * dw[m][k * (32 / KB) + h], acc[m]);
                }
#ifdef OFFSETS
                float16 sx = vload16(x0 + k, xs);
                #pragma unroll
                for (int m = 0; m < 16; m++) acc[m] = fma(sx, (float16) dm[m][k], acc[m]);
#endif
            }
            #pragma unroll
            for (int m = 0; m < 16; m++) accs[i][m] = acc[m];
        }
    }
    for (int i = 0; i < gn; i++) amx_store(accs[i], mr, g0 + i, n, out, outStride, row0 + r0);
    amx_release();
}
