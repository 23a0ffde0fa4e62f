// matmul_i8_i8_gemvswiglu: W8A8, the SwiGLU feed-forward input for one token in a single launch:
//   g = (a · sg[r]) · Σ_i xq[i] · gate[r][i], u likewise with up; out[r] = g / (1 + e^(−g)) · u
// Layout: xq (1, in) int8 and a (1) F32 from quantize_f32_i8 (run once: gate and up share the input and its smoothing);
//   gate, up values (rows, in) int8 at r*in + i, scales (rows) F32; out (1, rows) F32. Any in.
// Launch: global roundup(rows, L), local L = 32 on POCL; one work-item per output value (reads both weight rows). The dot
//   product is matmul_i8_i8_gemv's (int16 accumulator of widened products; dot(char4, char4) where the compiler offers
//   it, -DNO_INT_DOT forces the general path).
#if !defined(NO_INT_DOT) && defined(__opencl_c_integer_dot_product_input_4x8bit)
#define USE_INT_DOT 1
#endif

inline int dot_i8_i8(const __global char* qr, const __global char* xr, int in) {
    int sum = 0, j = 0;
#ifdef USE_INT_DOT
    for (; j + 4 <= in; j += 4) sum += dot(vload4(0, qr + j), vload4(0, xr + j));
#else
    // four independent chains, 64 columns a step (standalone 1b-shaped GEMV on POCL: 50–52 against 45–49 GB/s for one chain)
    int16 acc = (int16) 0, acc1 = acc, acc2 = acc, acc3 = acc;
    for (; j + 64 <= in; j += 64) {
        acc += convert_int16(vload16(0, qr + j)) * convert_int16(vload16(0, xr + j));
        acc1 += convert_int16(vload16(0, qr + j + 16)) * convert_int16(vload16(0, xr + j + 16));
        acc2 += convert_int16(vload16(0, qr + j + 32)) * convert_int16(vload16(0, xr + j + 32));
        acc3 += convert_int16(vload16(0, qr + j + 48)) * convert_int16(vload16(0, xr + j + 48));
    }
    for (; j + 16 <= in; j += 16) acc += convert_int16(vload16(0, qr + j)) * convert_int16(vload16(0, xr + j));
    acc += (acc1 + acc2) + acc3;
    int8 a8 = acc.lo + acc.hi;
    int4 a4 = a8.lo + a8.hi;
    sum = a4.x + a4.y + a4.z + a4.w;
#endif
    for (; j < in; j++) sum += (int) qr[j] * (int) xr[j];
    return sum;
}

__kernel void kernel_matmul_i8_i8_gemvswiglu(__global const char* xq, __global const float* tokenScale, int in, int rows,
        __global const char* qg, __global const float* sg, __global const char* qu, __global const float* su, __global float* out) {
    int r = get_global_id(0);
    if (r >= rows) return;
    float a = tokenScale[0];
    float g = a * sg[r] * (float) dot_i8_i8(qg + (size_t) r * in, xq, in);
    float u = a * su[r] * (float) dot_i8_i8(qu + (size_t) r * in, xq, in);
    out[r] = g / (1.0f + exp(-g)) * u;
}
