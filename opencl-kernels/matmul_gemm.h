// matmul_gemm.h: the register-tiled GEMM every matmul_*_gemm kernel is built from; a kernel file defines how its
//   weights decode and includes this header, which defines the entry point.
//   out[t][row0 + r] = GEMM_OUT(Σ_k w[r][k] · x[t][k], r, t)   for r < rows (this part of the weight), t < n
// Tiling: each work-item owns a register tile of ITEM_R weight rows × TILE_T tokens (ITEM_R · TILE_T float16
//   accumulators along K). K is walked in blocks of 32 columns; per half block (16 columns) the item decodes its
//   ITEM_R weight vectors once and applies each x vector to all ITEM_R rows, so a weight is read once per TILE_T
//   tokens and an x value once per ITEM_R rows. A work-group is TILE_R such items over consecutive rows, all on the
//   same TILE_T tokens. Rows past the last and tokens past n compute on the last row / token and are never written.
// STAGE_X (set by the host on GPUs): the group stages the TILE_T × 32 slice of x in local memory per block
//   (coalesced); unset (CPU): x is read straight from global memory (no barrier, so POCL keeps the accumulators in
//   registers; the TILE_T rows stay in cache while the group's items run).
// The loops over the tile are unrolled (#pragma unroll): POCL does not unroll them itself, and a rolled loop keeps
//   the accumulators in memory.
// Tail: the columns past the last full block, where the file defines W_COLUMN, are added one at a time: with
//   GEMM_TAIL_IN_ACC into lane 0 of the float16 accumulators before their horizontal sum (GEMM_HSUM, into a SUM_T),
//   otherwise into the sums after it (GEMM_MAD).
// Launch: global (roundup(ceil(rows / ITEM_R), TILE_R), ceil(n / TILE_T)), local (TILE_R, 1).
//
// The including file defines (names it may use in these: the parameters, in, b = the block, woff[i] = row i's offset
// in weight elements (its row index times W_ROW), soff[i] = its offset in scales (times S_ROW), scale[i] and wb[i] =
// what W_SCALE and W_PACK loaded for the current block, and what GEMM_SETUP and W_BLOCK_SETUP declare):
//   GEMM_KERNEL         the entry point (kernel_ + the file stem)
//   GEMM_PARAMS         its parameter list; it names x (or GEMM_X), out, n, in, rows, outStride and row0
//   W_ROW               weight elements per row (the unit of woff)
//   W_HALF(i, b, h)     float16: row i's weights for columns 32b + 16h … 32b + 16h + 15
// and where it needs them:
//   GEMM_X (x), X_T (float), X_LOAD16(p) (vload16(0, p)): the activations' name, element type and 16-value load
//   GEMM_SETUP          statements run once at the start (values the macros below use)
//   GEMM_BLOCKS         the number of 32-column blocks the tile loop takes (in / 32)
//   S_ROW               scales per row (the unit of soff)
//   W_BLOCK_SETUP       statements at the start of each block: offsets every row shares, computed once (the Q8_0
//                       GEMM ran slower on POCL with them written inline in W_SCALE and W_HALF, once per row: its
//                       accumulators no longer fitted in registers)
//   W_SCALE(i, b)       row i's scale for block b, loaded once per block into scale[i]
//   W_PACK_T, W_PACK(i, b)   what row i's block b decodes from, loaded once per block into wb[i] (Q4_0: its bytes)
//   W_COLUMN(i, c)      row i's weight at column c as a SUM_T: defines the scalar tail over [32·GEMM_BLOCKS, in)
//   GEMM_TAIL_IN_ACC    the tail adds into the accumulators (float GEMMs: with the tail after the sums, the sums of
//                       the whole tile stay live across the tail loop, slower on POCL even when it is empty)
//   SUM_T (float), GEMM_HSUM(v) (hsum16(v)), GEMM_MAD(a, b, s) (fma(a, b, s)): the sum's type, the float16
//                       accumulator's horizontal sum, the tail's multiply-add
//   GEMM_OUT(s, r, t)   the value stored for sum s of row r, token t (s)
#ifndef MATMUL_GEMM_H
#define MATMUL_GEMM_H
#include "common.h"
// The tunables, as the host passes them: TILE_R 32; TILE_T × ITEM_R 8 × 3 on CPU devices (24 float16 accumulators of
// AVX-512's 32 registers: the fastest on POCL of 4×4, 2×8, 4×6, 2×12 and 3×8 on the 1b FFN shape), 16 × 1 on GPUs;
// STAGE_X on GPUs (-Dinfercl.opencl.stageX=true forces it on a CPU device, so the parity tests cover it).
#ifndef TILE_R
#define TILE_R 32 // work-items per work-group (= local size)
#endif
#ifndef TILE_T
#define TILE_T 8 // tokens per work-item
#endif
#ifndef ITEM_R
#define ITEM_R 3 // weight rows per work-item
#endif
#ifndef GEMM_X
#define GEMM_X x
#endif
#ifndef X_T
#define X_T float
#endif
#ifndef X_LOAD16
#define X_LOAD16(p) vload16(0, p)
#endif
#ifndef GEMM_BLOCKS
#define GEMM_BLOCKS (in / 32)
#endif
#ifndef SUM_T
#define SUM_T float
#endif
#ifndef GEMM_HSUM
#define GEMM_HSUM(v) hsum16(v)
#endif
#ifndef GEMM_MAD
#define GEMM_MAD(a, b, s) fma(a, b, s)
#endif
#ifndef GEMM_OUT
#define GEMM_OUT(s, r, t) (s)
#endif

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void GEMM_KERNEL(GEMM_PARAMS) {
    int r0 = (get_group_id(0) * TILE_R + get_local_id(0)) * ITEM_R;
    int t0 = get_group_id(1) * TILE_T;
#ifdef GEMM_SETUP
    GEMM_SETUP
#endif
    int blocks = GEMM_BLOCKS;
    size_t woff[ITEM_R], xoff[TILE_T];
#ifdef S_ROW
    size_t soff[ITEM_R];
#endif
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) {
        int rc = min(r0 + i, rows - 1);
        woff[i] = (size_t) rc * (W_ROW);
#ifdef S_ROW
        soff[i] = (size_t) rc * (S_ROW);
#endif
    }
    #pragma unroll
    for (int t = 0; t < TILE_T; t++) xoff[t] = (size_t) min(t0 + t, n - 1) * in;
    float16 acc[ITEM_R][TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++)
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) acc[i][t] = (float16) 0.0f;
#ifdef STAGE_X
    __local X_T xs[TILE_T * 32];
#endif
    for (int b = 0; b < blocks; b++) {
#ifdef STAGE_X
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = get_local_id(0); e < TILE_T * 32; e += TILE_R) xs[e] = GEMM_X[xoff[e / 32] + b * 32 + e % 32];
        barrier(CLK_LOCAL_MEM_FENCE);
#endif
#ifdef W_BLOCK_SETUP
        W_BLOCK_SETUP
#endif
#ifdef W_SCALE
        float scale[ITEM_R];
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) scale[i] = W_SCALE(i, b);
#endif
#ifdef W_PACK
        W_PACK_T wb[ITEM_R];
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) wb[i] = W_PACK(i, b);
#endif
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            float16 wv[ITEM_R];
            #pragma unroll
            for (int i = 0; i < ITEM_R; i++) wv[i] = W_HALF(i, b, h);
            #pragma unroll
            for (int t = 0; t < TILE_T; t++) {
#ifdef STAGE_X
                float16 xv = X_LOAD16(xs + t * 32 + h * 16);
#else
                float16 xv = X_LOAD16(GEMM_X + xoff[t] + b * 32 + h * 16);
#endif
                #pragma unroll
                for (int i = 0; i < ITEM_R; i++) acc[i][t] = fma(wv[i], xv, acc[i][t]);
            }
        }
    }
#if defined(W_COLUMN) && defined(GEMM_TAIL_IN_ACC)
    for (int c = blocks * 32; c < in; c++) {
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) {
            float wc = W_COLUMN(i, c);
            #pragma unroll
            for (int t = 0; t < TILE_T; t++) acc[i][t].s0 += wc * GEMM_X[xoff[t] + c];
        }
    }
#endif
    SUM_T sum[ITEM_R][TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++)
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) sum[i][t] = GEMM_HSUM(acc[i][t]);
#if defined(W_COLUMN) && !defined(GEMM_TAIL_IN_ACC)
    for (int c = blocks * 32; c < in; c++) {
        SUM_T wc[ITEM_R];
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) wc[i] = W_COLUMN(i, c);
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) {
            SUM_T xc = GEMM_X[xoff[t] + c];
            #pragma unroll
            for (int i = 0; i < ITEM_R; i++) sum[i][t] = GEMM_MAD(wc[i], xc, sum[i][t]);
        }
    }
#endif
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) {
        #pragma unroll
        for (int t = 0; t < TILE_T; t++)
            if (r0 + i < rows && t0 + t < n)
                out[(size_t) (t0 + t) * outStride + row0 + r0 + i] = GEMM_OUT(sum[i][t], r0 + i, t0 + t);
    }
}
#endif
