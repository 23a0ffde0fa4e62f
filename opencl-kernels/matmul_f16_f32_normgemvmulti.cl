// matmul_f16_f32_normgemvmulti: rmsnorm_f32_f32 of one row followed by matmul_f16_f32_gemvmulti (Q, K, V from the
//   residual stream) in one launch, without writing the normalised row:
//   s = 1 / sqrt(Σ_i x[i]² / in + eps);  out_j[r] = s · Σ_i w_j[r][i] · x[i] · nw[i]   for r < rows_j, j = a, b, c.
//   Every work-item recomputes Σ x² itself: `in` floats that its weight row's dot product reads anyway (cached),
//   so there is no barrier and no second launch; s scales the finished dot product.
// Layout: w_j (rows_j, in) F16 at r*in + i (vload_half); x (1, in) F32 (the residual, not normalised); nw (in) F32
//   the norm weight; out_j (1, rows_j) F32. A weight left out has rows 0. Any in (scalar tail).
// Launch: global roundup(rows_a + rows_b + rows_c, L), local L = 32 on POCL (notes/pocl-gemv.md); one work-item per
//   output value over the concatenated rows, float16 accumulators, one horizontal sum at the end.
inline float sum_squares(const __global float* x, int in) {
    float16 acc = (float16) 0.0f;
    int i = 0;
    for (; i + 16 <= in; i += 16) {
        float16 v = vload16(0, x + i);
        acc += v * v;
    }
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    float sum = c.x + c.y + c.z + c.w;
    for (; i < in; i++) sum += x[i] * x[i];
    return sum;
}

inline float dot_f16_norm(const __global half* wr, const __global float* x, const __global float* nw, int in) {
    float16 acc = (float16) 0.0f;
    int i = 0;
    for (; i + 16 <= in; i += 16) acc += vload_half16(0, wr + i) * (vload16(0, x + i) * vload16(0, nw + i));
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    float sum = c.x + c.y + c.z + c.w;
    for (; i < in; i++) sum += vload_half(i, wr) * (x[i] * nw[i]);
    return sum;
}

__kernel void kernel_matmul_f16_f32_normgemvmulti(__global const float* x, __global const float* nw, float eps, int in,
        __global const half* wa, __global float* oa, int ra,
        __global const half* wb, __global float* ob, int rb,
        __global const half* wc, __global float* oc, int rc) {
    int r = get_global_id(0);
    const __global half* w; __global float* o;
    if (r < ra) { w = wa; o = oa; }
    else if ((r -= ra) < rb) { w = wb; o = ob; }
    else if ((r -= rb) < rc) { w = wc; o = oc; }
    else return;
    float s = 1.0f / sqrt(sum_squares(x, in) / in + eps);
    o[r] = s * dot_f16_norm(w + (size_t) r * in, x, nw, in);
}
