// unpack_block_i8: a Q4_K, Q5_K or Q6_K weight part (BLOCK_TYPE, as the file stores it; blocks.h) as int8 values with
//   per-block F32 scales and offsets, for matmul_i8_q8_0_amx: w[r][k] = ws[r][k / KB] · wq[r][k] + wo[r][k / 32], exact
//   (blocks.h's block_ints32, whose products and differences its float decode forms).
//   Q4_K, Q5_K: KB 32, wq = q (0–15, 0–31), ws = d·sc_j, wo = −dmin·m_j. Q6_K: KB 16, wq = q − 32, ws = d·sc_i, no wo.
// Why: AMX multiplies int8 tiles only; the super-block layouts pack 4–6 bits per value with 6-bit sub-block scales.
// Layout: w rows of BLOCK_ROW_BYTES(in), of which rows first … first + rows − 1 are unpacked; wq (rows, in) int8 row-major; ws, wo (rows, stride) F32, stride ≥ in / KB
//   (the host rounds it up to 16 blocks so the product reads 16 blocks' scales at once). in is a multiple of 256.
// Launch: global (in / 32, rows), any local size: one work-item per (32 values, row).
#include "blocks.h"
#if BLOCK_TYPE != BT_Q4_K && BLOCK_TYPE != BT_Q5_K && BLOCK_TYPE != BT_Q6_K
#error "unpack_block_i8 takes Q4_K, Q5_K or Q6_K"
#endif
__kernel void kernel_unpack_block_i8(__global const uchar* w, __global char* wq, __global float* ws, __global float* wo,
                                     int in, int rows, int stride, int first) {
    int c = get_global_id(0), r = get_global_id(1);
    if (c >= in / 32 || r >= rows) return;
    const __global uchar* row = w + (size_t) (first + r) * BLOCK_ROW_BYTES(in);
    __global char* dst = wq + (size_t) r * in + 32 * c;
    __global float* s = ws + (size_t) r * stride;
    uchar16 q0, q1;
#if BLOCK_TYPE == BT_Q6_K
    (void) wo;
    float s0, s1;
    block_ints32(row, c, &q0, &q1, &s0, &s1);
    s[2 * c] = s0;
    s[2 * c + 1] = s1;
    vstore16(convert_char16(convert_short16(q0) - (short16) 32), 0, dst);
    vstore16(convert_char16(convert_short16(q1) - (short16) 32), 0, dst + 16);
#else
    float scale, unused, m;
    block_ints32(row, c, &q0, &q1, &scale, &unused, &m);
    s[c] = scale;
    wo[(size_t) r * stride + c] = -m;
    vstore16(as_char16(q0), 0, dst);
    vstore16(as_char16(q1), 0, dst + 16);
#endif
}
