// matmul_q8_0_f32_gemm: out = x · wᵀ for many tokens (prefill), weights q8_0 dequantized in registers.
//   out[t][row0 + r] = Σ_b d[r][b] · Σ_j q[r][32b + j] · x[t][32b + j]   for r < rows (this part), t < n
// Layout (repacked at upload, same numbers as the file): qs (rows, in) int8 at r*in + i (all values of a row contiguous);
//   d (rows, in/32) F16 at r*(in/32) + b; x (n, in) F32; out (n, outStride) F32 at t*outStride + row0 + r.
//   in is a multiple of 32.
// Tiling: a work-group owns TILE_R weight rows (one per item) × TILE_T tokens; per 32-value block the group
//   stages the TILE_T × 32 slice of x in local memory, each item dequantizes its block once in registers and
//   applies it to all TILE_T tokens, so every weight byte is read once per TILE_T tokens.
// STAGE_X (set by the host on GPUs): stage the x slice in local memory per block (coalesced); unset (CPU): read x directly.
// Launch: global (roundup(rows, TILE_R), roundup(n, TILE_T) / TILE_T), local (TILE_R, 1).
#ifndef TILE_R
#define TILE_R 32 // weight rows per work-group (= local size)
#endif
#ifndef TILE_T
#define TILE_T 8 // tokens per work-group (accumulators per item)
#endif
inline float hsum16_q8_0(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void kernel_matmul_q8_0_f32_gemm(__global const float* x, __global const char* qs, __global const half* d,
                                  __global float* out, int n, int in, int rows, int outStride, int row0) {
#ifdef STAGE_X
    __local float xs[TILE_T * 32];
#endif
    int lid = get_local_id(0);
    int r = get_group_id(0) * TILE_R + lid;
    int t0 = get_group_id(1) * TILE_T;
    int rc = min(r, rows - 1); // items past the last row compute, never write
    const __global char* qr = qs + (size_t) rc * in;
    const __global half* dr = d + (size_t) rc * (in / 32);
    float16 acc[TILE_T];
    for (int tt = 0; tt < TILE_T; tt++) acc[tt] = (float16) 0.0f;
#ifdef STAGE_X
    for (int b = 0; b < in / 32; b++) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < TILE_T * 32; e += TILE_R) {
            int t = t0 + e / 32;
            xs[e] = t < n ? x[(size_t) t * in + b * 32 + e % 32] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float16 w0 = convert_float16(vload16(0, qr + b * 32)), w1 = convert_float16(vload16(0, qr + b * 32 + 16));
        float scale = vload_half(b, dr);
        w0 *= scale;
        w1 *= scale;
        for (int tt = 0; tt < TILE_T; tt++) acc[tt] += w0 * vload16(0, xs + tt * 32) + w1 * vload16(0, xs + tt * 32 + 16);
    }
#else
    // CPU devices: x straight from global memory (the TILE_T rows stay in cache); no barrier, so POCL keeps the
    // accumulators in registers instead of saving them per work-item at every barrier. Tokens past n read row n − 1.
    for (int b = 0; b < in / 32; b++) {
        float scale = vload_half(b, dr);
        float16 w0 = convert_float16(vload16(0, qr + b * 32)) * scale, w1 = convert_float16(vload16(0, qr + b * 32 + 16)) * scale;
        for (int tt = 0; tt < TILE_T; tt++) {
            const __global float* xr = x + (size_t) min(t0 + tt, n - 1) * in + b * 32;
            acc[tt] += w0 * vload16(0, xr) + w1 * vload16(1, xr);
        }
    }
#endif
    if (r >= rows) return;
    for (int tt = 0; tt < TILE_T && t0 + tt < n; tt++) out[(size_t) (t0 + tt) * outStride + row0 + r] = hsum16_q8_0(acc[tt]);
}
