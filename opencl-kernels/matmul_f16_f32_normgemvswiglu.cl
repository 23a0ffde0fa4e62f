// matmul_f16_f32_normgemvswiglu: rmsnorm_f32_f32 of one row followed by matmul_f16_f32_gemvswiglu (the SwiGLU
//   feed-forward input from the residual stream) in one launch, without writing the normalised row:
//   s = 1 / sqrt(Σ_i x[i]² / in + eps); g = s · Σ gate[r][i]·x[i]·nw[i], u = s · Σ up[r][i]·x[i]·nw[i];
//   out[r] = g / (1 + e^(−g)) · u. Every work-item recomputes Σ x² itself (`in` cached floats next to two weight
//   rows: no barrier, no second launch).
// Layout: gate, up (rows, in) F16 at r*in + i; x (1, in) F32 (the residual, not normalised); nw (in) F32 the norm
//   weight; out (1, rows) F32 (never aliases x). Any in (scalar tail).
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
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

__kernel void kernel_matmul_f16_f32_normgemvswiglu(__global const float* x, __global const float* nw, float eps, int in, int rows,
        __global const half* wg, __global const half* wu, __global float* out) {
    int r = get_global_id(0);
    if (r >= rows) return;
    float s = 1.0f / sqrt(sum_squares(x, in) / in + eps);
    float g = s * dot_f16_norm(wg + (size_t) r * in, x, nw, in);
    float u = s * dot_f16_norm(wu + (size_t) r * in, x, nw, in);
    out[r] = g / (1.0f + exp(-g)) * u;
}
