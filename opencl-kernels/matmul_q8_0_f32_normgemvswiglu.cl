// matmul_q8_0_f32_normgemvswiglu: rmsnorm_f32_f32 of one row followed by matmul_q8_0_f32_gemvswiglu (the SwiGLU
//   feed-forward input from the residual stream) in one launch, without writing the normalised row:
//   s = 1 / sqrt(Σ_i x[i]² / in + eps); g = s · Σ gate[r][i]·x[i]·nw[i], u = s · Σ up[r][i]·x[i]·nw[i]
//   (Q8_0 dot products as matmul_q8_0_f32_gemv); out[r] = g / (1 + e^(−g)) · u. Every work-item recomputes Σ x²
//   itself (`in` cached floats next to two weight rows: no barrier, no second launch).
// Layout: gate, up repacked Q8_0 (values (rows, in) int8 at r*in + i, scales (rows, in/32) F16); x (1, in) F32 (the
//   residual, not normalised); nw (in) F32 the norm weight; out (1, rows) F32 (never aliases x). in is a multiple of 32.
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
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

__kernel void kernel_matmul_q8_0_f32_normgemvswiglu(__global const float* x, __global const float* nw, float eps, int in, int rows,
        __global const char* qg, __global const half* dg, __global const char* qu, __global const half* du, __global float* out) {
    int r = get_global_id(0);
    if (r >= rows) return;
    float s = 1.0f / sqrt(sum_squares(x, in) / in + eps);
    float g = s * dot_q8_0_norm(qg + (size_t) r * in, dg + (size_t) r * (in / 32), x, nw, in);
    float u = s * dot_q8_0_norm(qu + (size_t) r * in, du + (size_t) r * (in / 32), x, nw, in);
    out[r] = g / (1.0f + exp(-g)) * u;
}
