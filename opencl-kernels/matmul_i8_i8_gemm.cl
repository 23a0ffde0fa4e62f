// matmul_i8_i8_gemm: W8A8 out = x · wᵀ for many tokens (prefill), int8 × int8 with int32 accumulation.
//   out[t][row0 + r] = (a[t] · scale[r]) · Σ_j xq[t][j] · q[r][j]   for r < rows (this part), t < n
// Layout: xq (n, in) int8 at t*in + j and a (n) F32 from quantize_f32_i8; qs (rows, in) int8 at r*in + j;
//   scales (rows) F32 (one per output channel); out (n, outStride) F32 at t*outStride + row0 + r. Any in: a last
//   partial block of 32 columns is scalar.
// Tiling: a work-group owns TILE_R weight rows (one per item) × TILE_T tokens; per 32-column block the group
//   stages the TILE_T × 32 int8 slice of xq in local memory, each item widens its 32 weights once and applies
//   them to all TILE_T tokens (int16 accumulators of int32 lanes).
// Launch: global (roundup(rows, TILE_R), roundup(n, TILE_T) / TILE_T), local (TILE_R, 1).
#ifndef TILE_R
#define TILE_R 32 // weight rows per work-group (= local size)
#endif
#ifndef TILE_T
#define TILE_T 8 // tokens per work-group (accumulators per item)
#endif

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void kernel_matmul_i8_i8_gemm(__global const char* xq, __global const float* tokenScale, __global const char* qs,
                              __global const float* scales, __global float* out, int n, int in, int rows,
                              int outStride, int row0) {
    __local char xs[TILE_T * 32];
    int lid = get_local_id(0);
    int r = get_group_id(0) * TILE_R + lid;
    int t0 = get_group_id(1) * TILE_T;
    int rc = min(r, rows - 1); // items past the last row compute, never write
    const __global char* qr = qs + (size_t) rc * in;
    int16 acc[TILE_T];
    int tail[TILE_T];
    for (int tt = 0; tt < TILE_T; tt++) {
        acc[tt] = (int16) 0;
        tail[tt] = 0;
    }
    for (int b = 0; b < (in + 31) / 32; b++) {
        int c0 = b * 32;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < TILE_T * 32; e += TILE_R) {
            int t = t0 + e / 32, c = c0 + e % 32;
            xs[e] = t < n && c < in ? xq[(size_t) t * in + c] : (char) 0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (c0 + 32 <= in) {
            int16 w0 = convert_int16(vload16(0, qr + c0)), w1 = convert_int16(vload16(0, qr + c0 + 16));
            for (int tt = 0; tt < TILE_T; tt++) {
                acc[tt] += w0 * convert_int16(vload16(0, xs + tt * 32)) + w1 * convert_int16(vload16(0, xs + tt * 32 + 16));
            }
        } else {
            for (int c = c0; c < in; c++) {
                int w = qr[c];
                for (int tt = 0; tt < TILE_T; tt++) tail[tt] += w * (int) xs[tt * 32 + c - c0];
            }
        }
    }
    if (r >= rows) return;
    for (int tt = 0; tt < TILE_T && t0 + tt < n; tt++) {
        int8 a8 = acc[tt].lo + acc[tt].hi;
        int4 a4 = a8.lo + a8.hi;
        int sum = a4.x + a4.y + a4.z + a4.w + tail[tt];
        out[(size_t) (t0 + tt) * outStride + row0 + r] = tokenScale[t0 + tt] * scales[r] * (float) sum;
    }
}
