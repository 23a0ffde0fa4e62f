// matmul_i8_f32_gemm: W8A16 out = x · wᵀ for many tokens (prefill): int8 weights, float activations.
//   out[t][row0 + r] = Σ_j x[t][j] · (q[r][j] · scale[r][j / gs])   for r < rows (this part), t < n
// Layout: qs (rows, in) int8 at r*in + j; scales (rows, groups) F32 at r*groups + g, groups = in / gs with
//   gs = groupSize (in when groupSize is 0: per output channel); x (n, in) F32 at t*in + j;
//   out (n, outStride) F32 at t*outStride + row0 + r. Any in and any gs dividing in.
// Tiling (as matmul_q8_0_f32_gemm): each work-item owns a register tile of ITEM_R weight rows × TILE_T tokens
//   (ITEM_R · TILE_T float16 accumulators along K). Per 32-column block it loads its ITEM_R block scales (a block
//   lies in one group when gs is a multiple of 32 or the whole row), per half block (16 values) dequantizes its
//   ITEM_R weight vectors once (q · scale) and applies each x vector to all ITEM_R rows, so a weight byte is read
//   once per TILE_T tokens and an x value once per ITEM_R rows. A work-group is TILE_R such items over
//   consecutive rows, all on the same TILE_T tokens.
// Tail: the columns past the last full block (in % 32), or every column when gs is neither the row nor a
//   multiple of 32 (the quantizer writes 32/64/128, docs/QUANT-FORMAT.md; Int8Weight takes any divisor), are scalar with the
//   scale per column, after the blocked loop.
// STAGE_X (set by the host on GPUs): the group stages the TILE_T × 32 slice of x in local memory per block
//   (coalesced); unset (CPU): x is read straight from global memory (no barrier, so POCL keeps the accumulators
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
inline float hsum16_i8_f32(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void kernel_matmul_i8_f32_gemm(__global const float* x, __global const char* qs, __global const float* scales,
                               __global float* out, int n, int in, int rows, int outStride, int row0, int groupSize) {
    int r0 = (get_group_id(0) * TILE_R + get_local_id(0)) * ITEM_R;
    int t0 = get_group_id(1) * TILE_T;
    int gs = groupSize > 0 ? groupSize : in;
    int groups = in / gs;
    int blocks = groups == 1 || gs % 32 == 0 ? in / 32 : 0; // full blocks, each inside one group
    // rows past the last and tokens past n compute on the last row / token and are never written
    size_t qoff[ITEM_R], soff[ITEM_R], xoff[TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) {
        int rc = min(r0 + i, rows - 1);
        qoff[i] = (size_t) rc * in;
        soff[i] = (size_t) rc * groups;
    }
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
        int g = b * 32 / gs;
        float scale[ITEM_R];
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) scale[i] = scales[soff[i] + g];
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            float16 w[ITEM_R];
            #pragma unroll
            for (int i = 0; i < ITEM_R; i++) w[i] = convert_float16(vload16(0, qs + qoff[i] + b * 32 + h * 16)) * scale[i];
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
    float sum[ITEM_R][TILE_T];
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++)
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) sum[i][t] = hsum16_i8_f32(acc[i][t]);
    for (int c = blocks * 32; c < in; c++) {
        float w[ITEM_R];
        #pragma unroll
        for (int i = 0; i < ITEM_R; i++) w[i] = (float) qs[qoff[i] + c] * scales[soff[i] + c / gs];
        #pragma unroll
        for (int t = 0; t < TILE_T; t++) {
            float xv = x[xoff[t] + c];
            #pragma unroll
            for (int i = 0; i < ITEM_R; i++) sum[i][t] = fma(w[i], xv, sum[i][t]);
        }
    }
    #pragma unroll
    for (int i = 0; i < ITEM_R; i++) {
        #pragma unroll
        for (int t = 0; t < TILE_T; t++)
            if (r0 + i < rows && t0 + t < n) out[(size_t) (t0 + t) * outStride + row0 + r0 + i] = sum[i][t];
    }
}
