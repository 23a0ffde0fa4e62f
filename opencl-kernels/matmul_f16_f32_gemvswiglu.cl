// matmul_f16_f32_gemvswiglu: the SwiGLU feed-forward input for one token in a single launch:
//   g = Σ gate[r][i]·x[i], u = Σ up[r][i]·x[i] (F16 weights, vload_half); out[r] = g / (1 + e^(−g)) · u
// Layout: gate, up (rows, in) F16 at r*in + i; x (1, in) F32; out (1, rows) F32 (never aliases x).
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
inline float dot_f16(const __global half* wr, const __global float* x, int in) {
    float16 acc = (float16) 0.0f;
    int i = 0;
    for (; i + 16 <= in; i += 16) acc += vload_half16(0, wr + i) * vload16(0, x + i);
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    float sum = c.x + c.y + c.z + c.w;
    for (; i < in; i++) sum += vload_half(i, wr) * x[i];
    return sum;
}

__kernel void kernel_matmul_f16_f32_gemvswiglu(__global const float* x, int in, int rows,
        __global const half* wg, __global const half* wu, __global float* out) {
    int r = get_global_id(0);
    if (r >= rows) return;
    float g = dot_f16(wg + (size_t) r * in, x, in);
    float u = dot_f16(wu + (size_t) r * in, x, in);
    out[r] = g / (1.0f + exp(-g)) * u;
}
