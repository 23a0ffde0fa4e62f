// matmul_i8_i8_gemm: W8A8 out = x · wᵀ for many tokens (prefill), int8 × int8 products summed exactly.
//   out[t][row0 + r] = (a[t] · scale[r]) · Σ_j xq[t][j] · q[r][j]   for r < rows (this part), t < n
// Layout: xq (n, in) int8 at t*in + j and a (n) F32 from quantize_f32_i8; qs (rows, in) int8 at r*in + j;
//   scales (rows) F32 (one per output channel); out (n, outStride) F32 at t*outStride + row0 + r. Any in: the
//   columns past the last full block of 32 are scalar (int32), after the blocked loop.
// Tiling (as matmul_q8_0_f32_gemm): each work-item owns a register tile of ITEM_R weight rows × TILE_T tokens
//   (ITEM_R · TILE_T float16 accumulators along K). Per half block (16 values) it converts its ITEM_R weight
//   vectors to float once and each token's xq vector once, and applies each x vector to all ITEM_R rows with float
//   FMAs (AVX-512 has no cheap int32 multiply; a float FMA is one instruction). A work-group is TILE_R such items
//   over consecutive rows, all on the same TILE_T tokens.
// Exactness: every product is an integer of magnitude ≤ 127 · 127 = 16129 and lane l of an accumulator sums the
//   in / 16 products of columns j ≡ l (mod 16), so each partial sum is an integer below 16129 · in / 16, exact in
//   float while that stays ≤ 2^24 = 16777216, i.e. for in ≤ 16640 (every Llama-shaped layer up to 8B: 14336).
//   The 16 lanes are converted to int32 (exact) and summed in integers, so the dot product equals the int32 one;
//   wider rows round each lane at float precision (relative 2^-24, far below the int8 quantization error).
//   The scales multiply once at the end, as in matmul_i8_i8_gemv.
// STAGE_X (set by the host on GPUs): the group stages the TILE_T × 32 int8 slice of xq in local memory per block
//   (coalesced); unset (CPU): xq is read straight from global memory (no barrier, so POCL keeps the accumulators
//   in registers). The loops over the tile are unrolled (#pragma unroll): POCL does not unroll them itself, and
//   a rolled loop keeps the accumulators in memory.
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
inline int hsum16_i8_i8(float16 v) {
    int16 q = convert_int16(v); // exact: integer lanes below 2^24
    int8 a = q.lo + q.hi;
    int4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void kernel_matmul_i8_i8_gemm(__global const char* xq, __global const float* tokenScale, __global const char* qs,
                              __global const float* scales, __global float* out, int n, int in, int rows,
                              int outStride, int row0) {
    int r0 = (get_group_id(0) * TILE_R + get_local_id(0)) * ITEM_R;
    int t0 = get_group_id(1) * TILE_T;
    int blocks = in / 32;
    // rows past the last and tokens past n compute on the last row / token and are never written
    size_t qoff[ITEM_R], xoff[TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) qoff[i] = (size_t) min(r0 + i, rows - 1) * in;
    #pragma unroll
    for (int t = 0; t < TILE_T; t++) xoff[t] = (size_t) min(t0 + t, n - 1) * in;
    float16 acc[ITEM_R][TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++)
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) acc[i][t] = (float16) 0.0f;
#ifdef STAGE_X
    __local char xs[TILE_T * 32];
#endif
    for (int b = 0; b < blocks; b++) {
#ifdef STAGE_X
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = get_local_id(0); e < TILE_T * 32; e += TILE_R) xs[e] = xq[xoff[e / 32] + b * 32 + e % 32];
        barrier(CLK_LOCAL_MEM_FENCE);
#endif
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            float16 w[ITEM_R];
            #pragma unroll
            for (int i = 0; i < ITEM_R; i++) w[i] = convert_float16(vload16(0, qs + qoff[i] + b * 32 + h * 16));
            #pragma unroll
            for (int t = 0; t < TILE_T; t++) {
#ifdef STAGE_X
                float16 xv = convert_float16(vload16(0, xs + t * 32 + h * 16));
#else
                float16 xv = convert_float16(vload16(0, xq + xoff[t] + b * 32 + h * 16));
#endif
                #pragma unroll
                for (int i = 0; i < ITEM_R; i++) acc[i][t] = fma(w[i], xv, acc[i][t]);
            }
        }
    }
    int sum[ITEM_R][TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++)
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) sum[i][t] = hsum16_i8_i8(acc[i][t]);
    for (int c = blocks * 32; c < in; c++) {
        int w[ITEM_R];
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) w[i] = qs[qoff[i] + c];
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) {
            int xv = xq[xoff[t] + c];
            #pragma unroll
            for (int i = 0; i < ITEM_R; i++) sum[i][t] += w[i] * xv;
        }
    }
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) {
        #pragma unroll
        for (int t = 0; t < TILE_T; t++)
            if (r0 + i < rows && t0 + t < n) {
                int r = r0 + i;
                out[(size_t) (t0 + t) * outStride + row0 + r] = tokenScale[t0 + t] * scales[r] * (float) sum[i][t];
            }
    }
}
