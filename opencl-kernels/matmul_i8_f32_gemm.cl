// matmul_i8_f32_gemm: W8A16 out = x · wᵀ for many tokens (prefill): int8 weights, float activations.
//   out[t][row0 + r] = Σ_j x[t][j] · (q[r][j] · scale[r][j / gs])   for r < rows (this part), t < n
// Layout: qs (rows, in) int8 at r*in + j; scales (rows, groups) F32 at r*groups + g, groups = in / gs with
//   gs = groupSize (in when groupSize is 0: per output channel); x (n, in) F32 at t*in + j;
//   out (n, outStride) F32 at t*outStride + row0 + r. Any in: a last partial block of 32 columns is scalar.
// Tiling: a work-group owns TILE_R weight rows (one per item) × TILE_T tokens; per 32-column block the group
//   stages the TILE_T × 32 slice of x in local memory, each item dequantizes its 32 weights once in registers
//   (q · scale; a block lies in one group since gs is a multiple of 32 or the whole row) and applies them to
//   all TILE_T tokens, so every weight byte is read once per TILE_T tokens.
// Launch: global (roundup(rows, TILE_R), roundup(n, TILE_T) / TILE_T), local (TILE_R, 1).
#ifndef TILE_R
#define TILE_R 32 // weight rows per work-group (= local size)
#endif
#ifndef TILE_T
#define TILE_T 8 // tokens per work-group (accumulators per item)
#endif
inline float hsum16_i8_f32(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel __attribute__((reqd_work_group_size(TILE_R, 1, 1)))
void kernel_matmul_i8_f32_gemm(__global const float* x, __global const char* qs, __global const float* scales,
                               __global float* out, int n, int in, int rows, int outStride, int row0, int groupSize) {
    __local float xs[TILE_T * 32];
    int lid = get_local_id(0);
    int r = get_group_id(0) * TILE_R + lid;
    int t0 = get_group_id(1) * TILE_T;
    int rc = min(r, rows - 1); // items past the last row compute, never write
    int gs = groupSize > 0 ? groupSize : in;
    int groups = in / gs;
    const __global char* qr = qs + (size_t) rc * in;
    const __global float* sr = scales + (size_t) rc * groups;
    float16 acc[TILE_T];
    float tail[TILE_T];
    for (int tt = 0; tt < TILE_T; tt++) {
        acc[tt] = (float16) 0.0f;
        tail[tt] = 0.0f;
    }
    bool blocksInGroups = groups == 1 || gs % 32 == 0;
    for (int b = 0; b < (in + 31) / 32; b++) {
        int c0 = b * 32;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < TILE_T * 32; e += TILE_R) {
            int t = t0 + e / 32, c = c0 + e % 32;
            xs[e] = t < n && c < in ? x[(size_t) t * in + c] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (c0 + 32 <= in && blocksInGroups) {
            float scale = sr[c0 / gs];
            float16 w0 = convert_float16(vload16(0, qr + c0)) * scale, w1 = convert_float16(vload16(0, qr + c0 + 16)) * scale;
            for (int tt = 0; tt < TILE_T; tt++) acc[tt] += w0 * vload16(0, xs + tt * 32) + w1 * vload16(0, xs + tt * 32 + 16);
        } else {
            for (int c = c0; c < min(c0 + 32, in); c++) {
                float w = (float) qr[c] * sr[c / gs];
                for (int tt = 0; tt < TILE_T; tt++) tail[tt] += w * xs[tt * 32 + c - c0];
            }
        }
    }
    if (r >= rows) return;
    for (int tt = 0; tt < TILE_T && t0 + tt < n; tt++) out[(size_t) (t0 + tt) * outStride + row0 + r] = hsum16_i8_f32(acc[tt]) + tail[tt];
}
