// matmul_f16_f32_gemm: out = x · wᵀ for many tokens (prefill), weights F16 (vload_half: no cl_khr_fp16 needed).
//   out[t][row0 + r] = Σ_i x[t][i] · w[r][i]   for r < rows (this part of the weight), t < n
// Layout: x (n, in) F32 at t*in + i; w (rows, in) f16 at r*in + i, kept in its file type;
//   out (n, outStride) F32 at t*outStride + row0 + r.
// Tiling: a work-group owns TILE_R weight rows (one per item) × TILE_T tokens. For each 32-column block the
//   group stages the TILE_T × 32 slice of x in local memory; each item converts its 32 weights once in
//   registers and applies them to all TILE_T tokens, so every weight is read once per TILE_T tokens.
//   Columns past in (the last partial block) count as zero.
// STAGE_X (set by the host on GPUs): stage the x slice in local memory per block (coalesced); unset (CPU): read x directly.
// Launch: global (roundup(rows, TILE_R), roundup(n, TILE_T) / TILE_T), local (TILE_R, 1).
#ifndef TILE_R
#define TILE_R 32 // weight rows per work-group (= local size)
#endif
#ifndef TILE_T
#define TILE_T 8 // tokens per work-group (accumulators per item)
#endif
inline float hsum16_f16(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void kernel_matmul_f16_f32_gemm(__global const float* x, __global const half* w, __global float* out,
                                  int n, int in, int rows, int outStride, int row0) {
#ifdef STAGE_X
    __local float xs[TILE_T * 32];
#endif
    int lid = get_local_id(0);
    int r = get_group_id(0) * TILE_R + lid;
    int t0 = get_group_id(1) * TILE_T;
    const __global half* wr = w + (size_t) min(r, rows - 1) * in; // items past the last row compute, never write
    float16 acc[TILE_T];
    for (int tt = 0; tt < TILE_T; tt++) acc[tt] = (float16) 0.0f;
#ifdef STAGE_X
    for (int k0 = 0; k0 < in; k0 += 32) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < TILE_T * 32; e += TILE_R) {
            int t = t0 + e / 32, k = k0 + e % 32;
            xs[e] = (t < n && k < in) ? x[(size_t) t * in + k] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float16 w0, w1;
        if (k0 + 32 <= in) {
            int i = k0;
            w0 = vload_half16(0, wr + i);
            i = k0 + 16;
            w1 = vload_half16(0, wr + i);
        } else {
            float wt[32];
            for (int j = 0; j < 32; j++) {
                int i = k0 + j;
                wt[j] = i < in ? vload_half(i, wr) : 0.0f;
            }
            w0 = vload16(0, wt);
            w1 = vload16(0, wt + 16);
        }
        for (int tt = 0; tt < TILE_T; tt++) acc[tt] += w0 * vload16(0, xs + tt * 32) + w1 * vload16(0, xs + tt * 32 + 16);
    }
#else
    // CPU devices: x straight from global memory (the TILE_T rows stay in cache); no barrier, so POCL keeps the
    // accumulators in registers. Tokens past n read row n − 1 (never written); a partial last block goes scalar.
    int full = in / 32 * 32;
    for (int k0 = 0; k0 < full; k0 += 32) {
        float16 w0 = vload_half16(0, wr + k0), w1 = vload_half16(0, wr + k0 + 16);
        for (int tt = 0; tt < TILE_T; tt++) {
            const __global float* xr = x + (size_t) min(t0 + tt, n - 1) * in + k0;
            acc[tt] += w0 * vload16(0, xr) + w1 * vload16(1, xr);
        }
    }
    for (int k = full; k < in; k++) {
        float wk = vload_half(k, wr);
        for (int tt = 0; tt < TILE_T; tt++) acc[tt].s0 += wk * x[(size_t) min(t0 + tt, n - 1) * in + k];
    }
#endif
    if (r >= rows) return;
    for (int tt = 0; tt < TILE_T && t0 + tt < n; tt++) out[(size_t) (t0 + tt) * outStride + row0 + r] = hsum16_f16(acc[tt]);
}
