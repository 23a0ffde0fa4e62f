// unpack_q4_0_i8: a repacked Q4_0 weight part (matmul_q4_0_f32.h: each row's 16-byte blocks, then the F16 block
//   scales) as int8 values with F32 block scales, for matmul_i8_q8_0_amx: w[r][k] = ws[r][k / 32] · wq[r][k], exact:
//   wq = nibble − 8 (low nibbles values 0–15 of a block, high nibbles 16–31), ws = d.
// Why: AMX multiplies int8 tiles only.
// Layout: qs (·, in / 2) bytes, d (·, in / 32) F16, of which rows first … first + rows − 1 are unpacked; wq (rows, in) int8 row-major; ws (rows, stride) F32,
//   stride ≥ in / 32 (the host rounds it up to 16 blocks). in is a multiple of 32.
// Launch: global (in / 32, rows), any local size: one work-item per (block, row).
#include "common.h"
__kernel void kernel_unpack_q4_0_i8(__global const uchar* qs, __global const half* d, __global char* wq, __global float* ws,
                                    int in, int rows, int stride, int first) {
    int b = get_global_id(0), r = get_global_id(1), blocks = in / 32;
    if (b >= blocks || r >= rows) return;
    uchar16 q = vload16(0, qs + (size_t) (first + r) * (in / 2) + 16 * b);
    __global char* dst = wq + (size_t) r * in + 32 * b;
    vstore16(as_char16(q & (uchar16) 15) - (char16) 8, 0, dst);
    vstore16(as_char16(q >> (uchar16) 4) - (char16) 8, 0, dst + 16);
    ws[(size_t) r * stride + b] = load_half((size_t) (first + r) * blocks + b, d);
}
