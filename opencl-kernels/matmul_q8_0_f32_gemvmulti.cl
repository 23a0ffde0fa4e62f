// matmul_q8_0_f32_gemvmulti: up to three one-token products sharing one input in a single launch (Q, K, V), each
//   optionally accumulated into its output (a residual add fused into the projection):
//   out_j[r] = (accumulate ? out_j[r] : 0) + Σ_b d_j[r][b] · Σ_i q_j[r][32b + i] · x[32b + i]   for r < rows_j, j = a, b, c
// Layout: Q8_0 superblocks (repacked at upload; the numbers are the file's): a row of in values (blocks = in/32) is
//   ceil(blocks/16) superblocks, each 16 F16 scales (32 bytes; slots past the row's last block are zero) followed by
//   the values of its ≤ 16 blocks (32 int8 each); row stride Q8_ROW(in) = in + 32·ceil(blocks/16). One stream per row
//   and every vector load 32-byte aligned: 1b-shaped one-token GEMVs read 43–44 against 35–36 GB/s on POCL with the
//   values and the scales in two arrays. in is a multiple of 32.
//   q_j (rows_j rows of Q8_ROW(in) bytes); x (1, in) F32; out_j (1, rows_j) F32. A weight left out has rows 0.
// Launch: global roundup(rows_a + rows_b + rows_c, L), local L = 32 on POCL (notes/pocl-gemv.md); one work-item per
//   output value over the concatenated rows, a float16 accumulator, one horizontal sum at the end.
#define Q8_ROW(in) ((in) + 32 * (((in) / 32 + 15) / 16))
inline float dot_q8_0(const __global char* row, const __global float* x, int in) {
    float16 acc = (float16) 0.0f;
    int blocks = in / 32;
    for (int b = 0; b < blocks; b += 16, row += 544, x += 512) {
        // the superblock's sixteen scales in one vload_half16: POCL turns a lone vload_half into ~17 scalar
        // instructions, more than a block's own vector work
        float16 d16 = vload_half16(0, (const __global half*) row);
        const __global char* q = row + 32;
        if (b + 16 <= blocks) {
            #pragma unroll
            for (int j = 0; j < 16; j++)
                acc += (convert_float16(vload16(0, q + j * 32)) * vload16(0, x + j * 32)
                        + convert_float16(vload16(0, q + j * 32 + 16)) * vload16(0, x + j * 32 + 16)) * d16[j];
        } else {
            // a row's last, partial superblock: unrolled with a guard so the scales stay lanes of d16 (a vload_half per
            // block made 110m's gate·up, 8 of whose 24 blocks per row are here, half as fast per byte as its other GEMVs)
            int last = blocks - b;
            #pragma unroll
            for (int j = 0; j < 16; j++)
                if (j < last)
                    acc += (convert_float16(vload16(0, q + j * 32)) * vload16(0, x + j * 32)
                            + convert_float16(vload16(0, q + j * 32 + 16)) * vload16(0, x + j * 32 + 16)) * d16[j];
        }
    }
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    return c.x + c.y + c.z + c.w;
}

__kernel void kernel_matmul_q8_0_f32_gemvmulti(__global const float* x, int in, int accumulate,
        __global const char* qa, __global float* oa, int ra,
        __global const char* qb, __global float* ob, int rb,
        __global const char* qc, __global float* oc, int rc) {
    int r = get_global_id(0);
    const __global char* q; __global float* o;
    if (r < ra) { q = qa; o = oa; }
    else if ((r -= ra) < rb) { q = qb; o = ob; }
    else if ((r -= rb) < rc) { q = qc; o = oc; }
    else return;
    float s = dot_q8_0(q + (size_t) r * Q8_ROW(in), x, in);
    o[r] = accumulate ? o[r] + s : s;
}
