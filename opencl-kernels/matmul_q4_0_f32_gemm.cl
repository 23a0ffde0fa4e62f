// matmul_q4_0_f32_gemm: out = x · wᵀ for many tokens (prefill), weights q4_0 dequantized in registers.
//   out[t][row0 + r] = Σ_b d[r][b] · Σ_j q[r][32b + j] · x[t][32b + j]   for r < rows (this part), t < n
// Layout (repacked at upload, same numbers as the file): qs (rows, in/2) bytes: block b of row r is 16 bytes at r*(in/2) + b*16, low nibbles = values 0–15, high nibbles = values 16–31 (value = nibble − 8);
//   d (rows, in/32) F16 at r*(in/32) + b; x (n, in) F32; out (n, outStride) F32 at t*outStride + row0 + r.
//   in is a multiple of 32.
// Tiling: a work-group owns TILE_R weight rows (one per item) × TILE_T tokens; per 32-value block the group
//   stages the TILE_T × 32 slice of x in local memory, each item dequantizes its block once in registers and
//   applies it to all TILE_T tokens, so every weight byte is read once per TILE_T tokens.
// Launch: global (roundup(rows, TILE_R), roundup(n, TILE_T) / TILE_T), local (TILE_R, 1).
#ifndef TILE_R
#define TILE_R 32 // weight rows per work-group (= local size)
#endif
#ifndef TILE_T
#define TILE_T 8 // tokens per work-group (accumulators per item)
#endif
inline float hsum16_q4_0(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void kernel_matmul_q4_0_f32_gemm(__global const float* x, __global const uchar* qs, __global const half* d,
                                  __global float* out, int n, int in, int rows, int outStride, int row0) {
    __local float xs[TILE_T * 32];
    int lid = get_local_id(0);
    int r = get_group_id(0) * TILE_R + lid;
    int t0 = get_group_id(1) * TILE_T;
    int rc = min(r, rows - 1); // items past the last row compute, never write
    const __global uchar* qr = qs + (size_t) rc * (in / 2);
    const __global half* dr = d + (size_t) rc * (in / 32);
    float16 acc[TILE_T];
    for (int tt = 0; tt < TILE_T; tt++) acc[tt] = (float16) 0.0f;
    for (int b = 0; b < in / 32; b++) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < TILE_T * 32; e += TILE_R) {
            int t = t0 + e / 32;
            xs[e] = t < n ? x[(size_t) t * in + b * 32 + e % 32] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        uchar16 q = vload16(0, qr + b * 16);
        float16 w0 = convert_float16(q & (uchar16) 15) - 8.0f, w1 = convert_float16(q >> (uchar16) 4) - 8.0f;
        float scale = vload_half(b, dr);
        w0 *= scale;
        w1 *= scale;
        for (int tt = 0; tt < TILE_T; tt++) acc[tt] += w0 * vload16(0, xs + tt * 32) + w1 * vload16(0, xs + tt * 32 + 16);
    }
    if (r >= rows) return;
    for (int tt = 0; tt < TILE_T && t0 + tt < n; tt++) out[(size_t) (t0 + tt) * outStride + row0 + r] = hsum16_q4_0(acc[tt]);
}
