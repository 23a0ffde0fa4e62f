// matmul_float_gemm.h: the tiled GEMM that matmul_f32_f32_gemm, matmul_f16_f32_gemm and matmul_bf16_f32_gemm share;
//   they differ only in the weight element. The including file defines
//   W_T (the weight element type), W_LOAD16(i, w) (the 16 weights from index i as a float16), W_LOAD(i, w) (one
//   weight as a float) and GEMM_KERNEL (its entry point, kernel_ + its file stem).
//   out[t][row0 + r] = Σ_i x[t][i] · w[r][i]   for r < rows (this part of the weight), t < n
// Layout: x (n, in) F32 at t*in + i; w (rows, in) at r*in + i, kept in its file type;
//   out (n, outStride) F32 at t*outStride + row0 + r.
// Tiling: each work-item owns a register tile of ITEM_R weight rows × TILE_T tokens (ITEM_R · TILE_T float16
//   accumulators along K). Per 16 columns it loads (converts) its ITEM_R weight vectors once and applies each x vector
//   to all ITEM_R rows, so a weight is read once per TILE_T tokens and an x value once per ITEM_R rows. A
//   work-group is TILE_R such items over consecutive rows, all on the same TILE_T tokens. Columns past the last
//   multiple of 32 are a scalar tail.
// STAGE_X (set by the host on GPUs): the group stages the TILE_T × 32 slice of x in local memory per 32 columns
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
inline float hsum16_gemm(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void GEMM_KERNEL(__global const float* x, __global const W_T* w, __global float* out, int n, int in, int rows, int outStride,
                 int row0) {
    int r0 = (get_group_id(0) * TILE_R + get_local_id(0)) * ITEM_R;
    int t0 = get_group_id(1) * TILE_T;
    // rows past the last and tokens past n compute on the last row / token and are never written
    size_t woff[ITEM_R], xoff[TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) woff[i] = (size_t) min(r0 + i, rows - 1) * in;
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
    int full = in / 32 * 32;
    for (int k0 = 0; k0 < full; k0 += 32) {
#ifdef STAGE_X
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = get_local_id(0); e < TILE_T * 32; e += TILE_R) xs[e] = x[xoff[e / 32] + k0 + e % 32];
        barrier(CLK_LOCAL_MEM_FENCE);
#endif
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            float16 wv[ITEM_R];
            #pragma unroll
            for (int i = 0; i < ITEM_R; i++) wv[i] = W_LOAD16(woff[i] + k0 + h * 16, w);
            #pragma unroll
            for (int t = 0; t < TILE_T; t++) {
#ifdef STAGE_X
                float16 xv = vload16(0, xs + t * 32 + h * 16);
#else
                float16 xv = vload16(0, x + xoff[t] + k0 + h * 16);
#endif
                #pragma unroll
                for (int i = 0; i < ITEM_R; i++) acc[i][t] = fma(wv[i], xv, acc[i][t]);
            }
        }
    }
    for (int k = full; k < in; k++) {
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) {
            float wk = W_LOAD(woff[i] + k, w);
            #pragma unroll
            for (int t = 0; t < TILE_T; t++) acc[i][t].s0 += wk * x[xoff[t] + k];
        }
    }
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) {
        #pragma unroll
        for (int t = 0; t < TILE_T; t++)
            if (r0 + i < rows && t0 + t < n) out[(size_t) (t0 + t) * outStride + row0 + r0 + i] = hsum16_gemm(acc[i][t]);
    }
}
