// matmul_i8_i8.h: the one-row W8A8 integer dot product the matmul_i8_i8_gemv* kernels share.
//   dot_i8_i8(qr, xr, in) = Σ_j q[j] · xq[j] in int32 over one int8 weight row and the int8 input; any in. Where the
//   compiler offers the 4×8-bit integer dot product, dot(char4, char4) is used (-DNO_INT_DOT forces the general path;
//   POCL does not offer it and takes the general path).
//   With GEMV_LANES (gemv_lanes.h): this lane's part, every GEMV_LANES-th 16 columns and tail column.
#ifndef MATMUL_I8_I8_H
#define MATMUL_I8_I8_H
#if !defined(NO_INT_DOT) && defined(__opencl_c_integer_dot_product_input_4x8bit)
#define USE_INT_DOT 1
#endif
#include "gemv_lanes.h"
#ifdef GEMV_LANES
__attribute__((always_inline))
inline int dot_i8_i8(const __global char* qr, const __global char* xr, int in) {
    int sum = 0;
    int steps = in / 16;
    for (int u = GEMV_LANE(); u < steps; u += GEMV_LANES) {
#ifdef USE_INT_DOT
        char16 q = vload16(u, qr), v = vload16(u, xr);
        sum += dot(q.s0123, v.s0123) + dot(q.s4567, v.s4567) + dot(q.s89ab, v.s89ab) + dot(q.scdef, v.scdef);
#else
        sum += hsum16_int(convert_int16(vload16(u, qr)) * convert_int16(vload16(u, xr)));
#endif
    }
    for (int i = steps * 16 + GEMV_LANE(); i < in; i += GEMV_LANES) sum += (int) qr[i] * (int) xr[i];
    return sum;
}
#else
__attribute__((always_inline))
inline int dot_i8_i8(const __global char* qr, const __global char* xr, int in) {
    int sum = 0, j = 0;
#ifdef USE_INT_DOT
    for (; j + 4 <= in; j += 4) sum += dot(vload4(0, qr + j), vload4(0, xr + j));
#else
    // four independent chains, 64 columns a step (one chain waits on each multiply-add's latency)
    int16 acc = (int16) 0, acc1 = acc, acc2 = acc, acc3 = acc;
    for (; j + 64 <= in; j += 64) {
        acc += convert_int16(vload16(0, qr + j)) * convert_int16(vload16(0, xr + j));
        acc1 += convert_int16(vload16(0, qr + j + 16)) * convert_int16(vload16(0, xr + j + 16));
        acc2 += convert_int16(vload16(0, qr + j + 32)) * convert_int16(vload16(0, xr + j + 32));
        acc3 += convert_int16(vload16(0, qr + j + 48)) * convert_int16(vload16(0, xr + j + 48));
    }
    for (; j + 16 <= in; j += 16) acc += convert_int16(vload16(0, qr + j)) * convert_int16(vload16(0, xr + j));
    sum = hsum16_int(acc + ((acc1 + acc2) + acc3));
#endif
    for (; j < in; j++) sum += (int) qr[j] * (int) xr[j];
    return sum;
}
#endif
#endif
