// matmul_i8_f32_gemvswiglu: W8A16, the SwiGLU feed-forward input for one token in a single launch:
//   g = x · gate[r], u = x · up[r] (dot products as matmul_i8_f32_gemv); out[r] = g / (1 + e^(−g)) · u
// Layout: gate, up: values (rows, in) int8 at r*in + i, scales (rows, groups) F32 at r*groups + g, groups = in / gs,
//   gs = groupSize (in when 0), the same for both; x (1, in) F32; out (1, rows) F32 (never aliases x). Any in.
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows).
inline float dot_i8_f32(const __global char* qr, const __global float* sr, const __global float* x, int in, int gs) {
    float16 acc = (float16) 0.0f;
    float tail = 0.0f;
    for (int g = 0, j = 0; j < in; g++) {
        int j1 = j + gs;
        // Four independent product chains, 64 values a step: with one chain the loop waits on each multiply-add's
        // latency (POCL keeps it in order), 31 against 52 GB/s for a one-token GEMV of 1b's gate·up shape.
        float16 s0 = (float16) 0.0f, s1 = s0, s2 = s0, s3 = s0;
        for (; j + 64 <= j1; j += 64) {
            s0 += convert_float16(vload16(0, qr + j)) * vload16(0, x + j);
            s1 += convert_float16(vload16(0, qr + j + 16)) * vload16(0, x + j + 16);
            s2 += convert_float16(vload16(0, qr + j + 32)) * vload16(0, x + j + 32);
            s3 += convert_float16(vload16(0, qr + j + 48)) * vload16(0, x + j + 48);
        }
        for (; j + 16 <= j1; j += 16) s0 += convert_float16(vload16(0, qr + j)) * vload16(0, x + j);
        float st = 0.0f;
        for (; j < j1; j++) st += (float) qr[j] * x[j];
        acc += ((s0 + s1) + (s2 + s3)) * sr[g];
        tail += st * sr[g];
    }
    float8 a = acc.lo + acc.hi;
    float4 c = a.lo + a.hi;
    return c.x + c.y + c.z + c.w + tail;
}

__kernel void kernel_matmul_i8_f32_gemvswiglu(__global const float* x, int in, int groupSize, int rows,
        __global const char* qg, __global const float* sg, __global const char* qu, __global const float* su, __global float* out) {
    int r = get_global_id(0);
    if (r >= rows) return;
    int gs = groupSize > 0 ? groupSize : in, groups = in / gs;
    float g = dot_i8_f32(qg + (size_t) r * in, sg + (size_t) r * groups, x, in, gs);
    float u = dot_i8_f32(qu + (size_t) r * in, su + (size_t) r * groups, x, in, gs);
    out[r] = g / (1.0f + exp(-g)) * u;
}
