// matmul_q8_0_f32_gemm: out = x · wᵀ for many tokens (prefill), weights q8_0 dequantized in registers.
//   out[t][row0 + r] = Σ_b d[r][b] · Σ_j q[r][32b + j] · x[t][32b + j]   for r < rows (this part), t < n
// Layout: the Q8_0 superblocks of matmul_q8_0_f32_gemv (row r at r*Q8_ROW(in): per 16 blocks, 16 F16 scales in 32
//   bytes, then the blocks' int8 values); x (n, in) F32; out (n, outStride) F32 at t*outStride + row0 + r.
//   in is a multiple of 32.
// Tiling: each work-item owns a register tile of ITEM_R weight rows × TILE_T tokens (ITEM_R · TILE_T float16
//   accumulators along K). Per half block (16 values) it dequantizes its ITEM_R weight vectors once and applies
//   each x vector to all ITEM_R rows, so a weight byte is read once per TILE_T tokens and an x value once per
//   ITEM_R rows. A work-group is TILE_R such items over consecutive rows, all on the same TILE_T tokens.
// STAGE_X (set by the host on GPUs): the group stages the TILE_T × 32 slice of x in local memory per block
//   (coalesced); unset (CPU): x is read straight from global memory (no barrier, so POCL keeps the accumulators
//   in registers; the TILE_T rows stay in cache while the group's items run).
// The loops over the tile are unrolled (#pragma unroll): POCL does not unroll them itself, and a rolled loop
//   keeps the accumulators in memory.
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
#ifndef TILE_R
#define TILE_R 32 // work-items per work-group (= local size)
#endif
#ifndef TILE_T
#define TILE_T 8 // tokens per work-item
#endif
#ifndef ITEM_R
#define ITEM_R 3 // weight rows per work-item
#endif
#include "matmul_q8_0_f32.h"
inline float hsum16_q8_0(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void kernel_matmul_q8_0_f32_gemm(__global const float* x, __global const char* qs, __global float* out,
                                  int n, int in, int rows, int outStride, int row0) {
    int r0 = (get_group_id(0) * TILE_R + get_local_id(0)) * ITEM_R;
    int t0 = get_group_id(1) * TILE_T;
    int blocks = in / 32;
    // rows past the last and tokens past n compute on the last row / token and are never written
    size_t qoff[ITEM_R], xoff[TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) qoff[i] = (size_t) min(r0 + i, rows - 1) * Q8_ROW(in);
    #pragma unroll
    for (int t = 0; t < TILE_T; t++) xoff[t] = (size_t) min(t0 + t, n - 1) * in;
    float16 acc[ITEM_R][TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++)
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) acc[i][t] = (float16) 0.0f;
#ifdef STAGE_X
    __local float xs[TILE_T * 32];
#endif
    for (int b = 0; b < blocks; b++) {
#ifdef STAGE_X
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = get_local_id(0); e < TILE_T * 32; e += TILE_R) xs[e] = x[xoff[e / 32] + b * 32 + e % 32];
        barrier(CLK_LOCAL_MEM_FENCE);
#endif
        // block b: scale at half index b % 16 of superblock b / 16, values 32 bytes past the superblock's scales
        int sb = (b / 16) * 544, vb = sb + 32 + (b % 16) * 32;
        float scale[ITEM_R];
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) scale[i] = vload_half(b % 16, (const __global half*) (qs + qoff[i] + sb));
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            float16 w[ITEM_R];
            #pragma unroll
            for (int i = 0; i < ITEM_R; i++) w[i] = convert_float16(vload16(0, qs + qoff[i] + vb + h * 16)) * scale[i];
            #pragma unroll
            for (int t = 0; t < TILE_T; t++) {
#ifdef STAGE_X
                float16 xv = vload16(0, xs + t * 32 + h * 16);
#else
                float16 xv = vload16(0, x + xoff[t] + b * 32 + h * 16);
#endif
                #pragma unroll
                for (int i = 0; i < ITEM_R; i++) acc[i][t] = fma(w[i], xv, acc[i][t]);
            }
        }
    }
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) {
        #pragma unroll
        for (int t = 0; t < TILE_T; t++)
            if (r0 + i < rows && t0 + t < n) out[(size_t) (t0 + t) * outStride + row0 + r0 + i] = hsum16_q8_0(acc[i][t]);
    }
}
