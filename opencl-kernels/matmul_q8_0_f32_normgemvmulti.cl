// matmul_q8_0_f32_normgemvmulti: rmsnorm_f32_f32 of one row followed by matmul_q8_0_f32_gemvmulti (Q, K, V from
//   the residual stream) in one launch, without writing the normalised row:
//   s = 1 / sqrt(Σ_i x[i]² / in + eps);  out_j[r] = s · Σ_b d_j[r][b] · Σ_i q_j[r][32b + i] · (x ⊙ nw)[32b + i]
//   for r < rows_j, j = a, b, c. Every work-item recomputes Σ x² itself: `in` floats that its weight row's dot
//   product reads anyway (cached), so there is no barrier and no second launch; s scales the finished dot product.
// Layout: as matmul_q8_0_f32_gemvmulti (repacked: values q_j (rows_j, in) int8 at r*in + i, scales d_j (rows_j, in/32)
//   F16); x (1, in) F32 (the residual, not normalised); nw (in) F32 the norm weight; out_j (1, rows_j) F32.
//   A weight left out has rows 0. in is a multiple of 32.
// Launch: global roundup(rows_a + rows_b + rows_c, L), local L = 32 on POCL (notes/pocl-gemv.md); one work-item per
//   output value over the concatenated rows, float16 accumulators, one horizontal sum at the end.
inline float sum_squares(const __global float* x, int in) {
    float16 acc = (float16) 0.0f;
    for (int i = 0; i < in; i += 16) {
        float16 v = vload16(0, x + i);
        acc += v * v;
    }
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    return c.x + c.y + c.z + c.w;
}

inline float dot_q8_0_norm(const __global char* qr, const __global half* dr, const __global float* x, const __global float* nw, int in) {
    float16 acc = (float16) 0.0f;
    for (int b = 0; b < in / 32; b++) {
        float16 w0 = convert_float16(vload16(0, qr + b * 32)), w1 = convert_float16(vload16(0, qr + b * 32 + 16));
        float16 x0 = vload16(0, x + b * 32) * vload16(0, nw + b * 32), x1 = vload16(0, x + b * 32 + 16) * vload16(0, nw + b * 32 + 16);
        acc += (w0 * x0 + w1 * x1) * vload_half(b, dr);
    }
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    return c.x + c.y + c.z + c.w;
}

__kernel void kernel_matmul_q8_0_f32_normgemvmulti(__global const float* x, __global const float* nw, float eps, int in,
        __global const char* qa, __global const half* da, __global float* oa, int ra,
        __global const char* qb, __global const half* db, __global float* ob, int rb,
        __global const char* qc, __global const half* dc, __global float* oc, int rc) {
    int r = get_global_id(0);
    const __global char* q; const __global half* d; __global float* o;
    if (r < ra) { q = qa; d = da; o = oa; }
    else if ((r -= ra) < rb) { q = qb; d = db; o = ob; }
    else if ((r -= rb) < rc) { q = qc; d = dc; o = oc; }
    else return;
    float s = 1.0f / sqrt(sum_squares(x, in) / in + eps);
    o[r] = s * dot_q8_0_norm(q + (size_t) r * in, d + (size_t) r * (in / 32), x, nw, in);
}
