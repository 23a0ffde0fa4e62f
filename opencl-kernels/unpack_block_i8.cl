// unpack_block_i8: a Q4_K, Q5_K or Q6_K weight part (BLOCK_TYPE, as the file stores it; blocks.h) as int8 values with
//   per-block F32 scales and offsets, for matmul_i8_q8_0_amx: w[r][k] = ws[r][k / KB] · wq[r][k] + wo[r][k / 32], exact
//   (the same products and differences the float decode of blocks.h forms).
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
#if BLOCK_TYPE == BT_Q6_K
    (void) wo;
    const __global uchar* b = row + (size_t) (c / 8) * 210;
    int h = (c % 8) / 4, qd = c % 4; // 128-value half; quarter: low/high nibbles of ql[0..32) or ql[32..64)
    float d = HALF_AT(b, 208);
    const __global uchar* ql = b + 64 * h + 32 * (qd % 2);
    const __global uchar* qh = b + 128 + 32 * h;
    const __global char* sc = (const __global char*) (b + 192 + 8 * h + 2 * qd);
    uchar16 lsh = (uchar16) (4 * (qd / 2)), hsh = (uchar16) (2 * qd);
    uchar16 q0 = ((vload16(0, ql) >> lsh) & (uchar16) 15) | (((vload16(0, qh) >> hsh) & (uchar16) 3) << (uchar16) 4);
    uchar16 q1 = ((vload16(0, ql + 16) >> lsh) & (uchar16) 15) | (((vload16(0, qh + 16) >> hsh) & (uchar16) 3) << (uchar16) 4);
    vstore16(convert_char16(convert_short16(q0) - (short16) 32), 0, dst);
    vstore16(convert_char16(convert_short16(q1) - (short16) 32), 0, dst + 16);
    s[2 * c] = d * sc[0];
    s[2 * c + 1] = d * sc[1];
#else
    const __global uchar* b = row + (size_t) (c / 8) * K_BYTES;
    int j = c % 8; // sub-block: the low (even j) or high (odd j) nibbles of bytes 32·(j / 2) …
    float sc, m;
    scale_min_k4(j, b + 4, &sc, &m);
    s[c] = HALF_AT(b, 0) * sc;
    wo[(size_t) r * stride + c] = -(HALF_AT(b, 2) * m);
    const __global uchar* q = b + K_QS + 32 * (j / 2);
    uchar16 sh = (uchar16) (4 * (j % 2));
    uchar16 q0 = (vload16(0, q) >> sh) & (uchar16) 15, q1 = (vload16(0, q + 16) >> sh) & (uchar16) 15;
#if BLOCK_TYPE == BT_Q5_K
    uchar16 hm = (uchar16) (1 << j); // the fifth bit: bit j of qh[l]
    q0 |= select((uchar16) 0, (uchar16) 16, (vload16(0, b + 16) & hm) != (uchar16) 0);
    q1 |= select((uchar16) 0, (uchar16) 16, (vload16(0, b + 32) & hm) != (uchar16) 0);
#endif
    vstore16(as_char16(q0), 0, dst);
    vstore16(as_char16(q1), 0, dst + 16);
#endif
}
