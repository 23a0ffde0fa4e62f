// matmul_i8_i8_gemv: W8A8 out = x · wᵀ for few tokens (decode), int8 × int8 with int32 accumulation.
//   out[t][row0 + r] = (a[t] · scale[r]) · Σ_j xq[t][j] · q[r][j]   for r < rows (this part), t < n
// Layout: xq (n, in) int8 at t*in + j and a (n) F32 from quantize_f32_i8; qs (rows, in) int8 at r*in + j;
//   scales (rows) F32 (one per output channel); out (n, outStride) F32 at t*outStride + row0 + r. Any in.
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32. One work-item per output value; an int16
//   accumulator (products widened to int32), one horizontal sum at the end.
// Fast path, chosen at build time: where the compiler offers the integer dot product on 4×8-bit inputs
//   (cl_khr_integer_dot_product / OpenCL C 3.0 feature), dot(char4, char4) replaces the widening multiply;
//   -DNO_INT_DOT forces the general path.
#if !defined(NO_INT_DOT) && defined(__opencl_c_integer_dot_product_input_4x8bit)
#define USE_INT_DOT 1
#endif

__kernel void kernel_matmul_i8_i8_gemv(__global const char* xq, __global const float* tokenScale, __global const char* qs,
                                       __global const float* scales, __global float* out, int n, int in, int rows,
                                       int outStride, int row0) {
    int r = get_global_id(0), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    const __global char* qr = qs + (size_t) r * in;
    const __global char* xr = xq + (size_t) t * in;
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
    out[(size_t) t * outStride + row0 + r] = tokenScale[t] * scales[r] * (float) sum;
}
