// matmul_q8_0_f32_gemvswiglu: the SwiGLU feed-forward input for one token in a single launch:
//   g = Σ gate[r][i]·x[i], u = Σ up[r][i]·x[i] (Q8_0 dot products as matmul_q8_0_f32_gemv); out[r] = g / (1 + e^(−g)) · u
// Layout: gate, up repacked Q8_0 (values (rows, in) int8 at r*in + i, scales (rows, in/32) F16); x (1, in) F32;
//   out (1, rows) F32 (never aliases x). in is a multiple of 32.
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
inline float dot_q8_0(const __global char* qr, const __global half* dr, const __global float* x, int in) {
    float16 acc = (float16) 0.0f;
    int blocks = in / 32, b = 0;
    // Scales sixteen blocks at a time: POCL turns vload_half16 into one vector conversion, a lone vload_half into
    // ~17 scalar instructions per block (more than the block's own vector work).
    for (; b + 16 <= blocks; b += 16) {
        float16 d16 = vload_half16(0, dr + b);
        #pragma unroll
        for (int j = 0; j < 16; j++) {
            const __global char* q = qr + (b + j) * 32;
            const __global float* xb = x + (b + j) * 32;
            acc += (convert_float16(vload16(0, q)) * vload16(0, xb) + convert_float16(vload16(0, q + 16)) * vload16(0, xb + 16)) * d16[j];
        }
    }
    for (; b < blocks; b++) {
        float16 w0 = convert_float16(vload16(0, qr + b * 32)), w1 = convert_float16(vload16(0, qr + b * 32 + 16));
        acc += (w0 * vload16(0, x + b * 32) + w1 * vload16(0, x + b * 32 + 16)) * vload_half(b, dr);
    }
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    return c.x + c.y + c.z + c.w;
}

__kernel void kernel_matmul_q8_0_f32_gemvswiglu(__global const float* x, int in, int rows,
        __global const char* qg, __global const half* dg, __global const char* qu, __global const half* du, __global float* out) {
    int r = get_global_id(0);
    if (r >= rows) return;
    float g = dot_q8_0(qg + (size_t) r * in, dg + (size_t) r * (in / 32), x, in);
    float u = dot_q8_0(qu + (size_t) r * in, du + (size_t) r * (in / 32), x, in);
    out[r] = g / (1.0f + exp(-g)) * u;
}
