// blocks.h: the GGML block types the matmul_block_f32_* and embed_block_f32 kernels read as the file stores them
//   (no repacking): which one is a build option, BLOCK_TYPE = the type's GGML id. For each, block_decode32(row, c, &w0,
//   &w1) gives the weights of columns 32c … 32c + 31 of one row (w0 the first 16, w1 the next 16) with their scales
//   and minimums applied, BLOCK_VALUES the values of one block (32 or 256) and BLOCK_ROW_BYTES(in) the bytes of a row of
//   `in` values.
//   Super-block types (256 values): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS; 32-value blocks: Q4_1, Q5_0, Q5_1, IQ4_NL.
//   Layouts (bytes; F16 "half" fields little-endian, read with vload_half: every one sits at an even offset):
//   Q4_1   (20 / 32):  d, m, qs[16]                      w = q·d + m, q the low nibbles (values 0–15), high (16–31)
//   Q5_0   (22 / 32):  d, qh[4], qs[16]                  w = (q | bit·16 − 16)·d, bit j of qh (uint32) for value j
//   Q5_1   (24 / 32):  d, m, qh[4], qs[16]               w = (q | bit·16)·d + m
//   IQ4_NL (18 / 32):  d, qs[16]                         w = d·KV[q], KV the 16 non-linear levels below
//   Q2_K   (84 / 256): scales[16], qs[64], d, dmin       16 sub-blocks of 16: w = d·(sc & 15)·q − dmin·(sc >> 4)
//   Q3_K   (110 / 256): hmask[32], qs[64], scales[12], d 16 sub-blocks of 16, 6-bit scales − 32: w = d·sc·(q − 4·!h)
//   Q4_K   (144 / 256): d, dmin, scales[12], qs[128]     8 sub-blocks of 32, 6-bit scale and min: w = d·sc·q − dmin·m
//   Q5_K   (176 / 256): d, dmin, scales[12], qh[32], qs[128]  as Q4_K with a fifth bit from qh
//   Q6_K   (210 / 256): ql[128], qh[64], scales[16] (int8), d   16 sub-blocks of 16: w = d·sc·(q − 32), q 6 bits
//   IQ4_XS (136 / 256): d, scales_h (uint16), scales_l[4], qs[128]  8 sub-blocks of 32: w = d·(ls − 32)·KV[q]
//   2- and 3-bit quants pack four values a byte: value l of a 128-value half sits in byte l % 32 at bits 2·(l / 32).
//   Where a type defines BLOCK_DOT, block_dot(block, x) gives a whole block's products with x as float16 partial sums,
//   its header decoded once (the one-token products' inner loop); the others go 32 values at a time.
#ifndef BLOCKS_H
#define BLOCKS_H
#include "common.h"

#define BT_Q4_1 3
#define BT_Q5_0 6
#define BT_Q5_1 7
#define BT_Q2_K 10
#define BT_Q3_K 11
#define BT_Q4_K 12
#define BT_Q5_K 13
#define BT_Q6_K 14
#define BT_IQ4_NL 20
#define BT_IQ4_XS 23
#ifndef BLOCK_TYPE
#define BLOCK_TYPE BT_Q4_K // which type (its GGML id; the host passes it)
#endif

#define LANE16 ((uint16) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))

// A little-endian F16 at byte offset o of p, and a little-endian uint32 / uint16 at any byte offset.
#define HALF_AT(p, o) load_half(0, (const __global half*) ((p) + (o)))
#define HALF2_AT(p, o) load_half2(0, (const __global half*) ((p) + (o)))
__attribute__((always_inline))
inline uint u32_at(const __global uchar* p) {
    return (uint) p[0] | ((uint) p[1] << 8) | ((uint) p[2] << 16) | ((uint) p[3] << 24);
}

// Bits 0–15 (hi = 0) or 16–31 (hi = 1) of a 32-bit mask as 0/1 lanes.
__attribute__((always_inline))
inline uint16 bits16(uint mask, int hi) {
    return ((uint16) (mask >> (16 * hi)) >> LANE16) & (uint16) 1;
}

#if BLOCK_TYPE == BT_IQ4_NL || BLOCK_TYPE == BT_IQ4_XS
// The 16 levels of IQ4_NL and IQ4_XS, picked per lane by shuffle (a gather from a 16-lane vector).
#define IQ4_LEVELS ((char16) (-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113))
#define IQ4_DECODE(nibbles) convert_float16(shuffle(IQ4_LEVELS, (nibbles)))
#endif

// Q4_K and Q5_K: sub-block j's 6-bit scale and minimum from the 12 packed bytes s.
__attribute__((always_inline))
inline void scale_min_k4(int j, const __global uchar* s, float* sc, float* m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// Q3_K: sub-block i's signed 6-bit scale from the 12 packed bytes s (low 4 bits, then 2 high bits).
__attribute__((always_inline))
inline float scale_q3_k(int i, const __global uchar* s) {
    int lo = i < 8 ? s[i] & 15 : s[i - 8] >> 4;
    int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (float) ((lo | (hi << 4)) - 32);
}

#if BLOCK_TYPE == BT_Q4_1
#define BLOCK_VALUES 32
#define BLOCK_ROW_BYTES(in) ((size_t) (in) / 32 * 20)
__attribute__((always_inline))
inline void block_decode32(const __global uchar* row, int c, float16* w0, float16* w1) {
    const __global uchar* b = row + (size_t) c * 20;
    float d = HALF_AT(b, 0), m = HALF_AT(b, 2);
    uchar16 q = vload16(0, b + 4);
    *w0 = convert_float16(q & (uchar16) 15) * d + m;
    *w1 = convert_float16(q >> (uchar16) 4) * d + m;
}
#elif BLOCK_TYPE == BT_Q5_0 || BLOCK_TYPE == BT_Q5_1
#if BLOCK_TYPE == BT_Q5_0
#define Q5_BYTES 22
#define Q5_QH 2
#else
#define Q5_BYTES 24
#define Q5_QH 4
#endif
#define BLOCK_VALUES 32
#define BLOCK_ROW_BYTES(in) ((size_t) (in) / 32 * Q5_BYTES)
__attribute__((always_inline))
inline void block_decode32(const __global uchar* row, int c, float16* w0, float16* w1) {
    const __global uchar* b = row + (size_t) c * Q5_BYTES;
    float d = HALF_AT(b, 0);
    uint qh = u32_at(b + Q5_QH);
    uint16 q = convert_uint16(vload16(0, b + Q5_QH + 4));
    float16 v0 = convert_float16((q & (uint16) 15) | (bits16(qh, 0) << 4));
    float16 v1 = convert_float16((q >> 4) | (bits16(qh, 1) << 4));
#if BLOCK_TYPE == BT_Q5_0
    *w0 = (v0 - 16.0f) * d;
    *w1 = (v1 - 16.0f) * d;
#else
    float m = HALF_AT(b, 2);
    *w0 = v0 * d + m;
    *w1 = v1 * d + m;
#endif
}
#elif BLOCK_TYPE == BT_IQ4_NL
#define BLOCK_VALUES 32
#define BLOCK_ROW_BYTES(in) ((size_t) (in) / 32 * 18)
__attribute__((always_inline))
inline void block_decode32(const __global uchar* row, int c, float16* w0, float16* w1) {
    const __global uchar* b = row + (size_t) c * 18;
    float d = HALF_AT(b, 0);
    uchar16 q = vload16(0, b + 2);
    *w0 = IQ4_DECODE(q & (uchar16) 15) * d;
    *w1 = IQ4_DECODE(q >> (uchar16) 4) * d;
}
#elif BLOCK_TYPE == BT_Q2_K
#define BLOCK_VALUES 256
#define BLOCK_ROW_BYTES(in) ((size_t) (in) / 256 * 84)
__attribute__((always_inline))
inline void block_decode32(const __global uchar* row, int c, float16* w0, float16* w1) {
    const __global uchar* b = row + (size_t) (c / 8) * 84;
    int n = (c % 8) / 4, j = c % 4; // 128-value half, then which 2-bit field of its bytes
    float d = HALF_AT(b, 80), dmin = HALF_AT(b, 82);
    uchar s0 = b[8 * n + 2 * j], s1 = b[8 * n + 2 * j + 1];
    const __global uchar* q = b + 16 + 32 * n;
    uchar16 sh = (uchar16) (2 * j);
    *w0 = convert_float16((vload16(0, q) >> sh) & (uchar16) 3) * (d * (s0 & 15)) - dmin * (s0 >> 4);
    *w1 = convert_float16((vload16(0, q + 16) >> sh) & (uchar16) 3) * (d * (s1 & 15)) - dmin * (s1 >> 4);
}
#elif BLOCK_TYPE == BT_Q3_K
#define BLOCK_VALUES 256
#define BLOCK_ROW_BYTES(in) ((size_t) (in) / 256 * 110)
__attribute__((always_inline))
inline void block_decode32(const __global uchar* row, int c, float16* w0, float16* w1) {
    const __global uchar* b = row + (size_t) (c / 8) * 110;
    int n = (c % 8) / 4, j = c % 4;
    float d = HALF_AT(b, 108);
    const __global uchar* q = b + 32 + 32 * n;
    uchar16 sh = (uchar16) (2 * j), hm = (uchar16) (1 << (4 * n + j));
    // a clear high bit takes 4 off the 2-bit value
    float16 v0 = convert_float16((vload16(0, q) >> sh) & (uchar16) 3) - convert_float16(select((uchar16) 4, (uchar16) 0, (vload16(0, b) & hm) != (uchar16) 0));
    float16 v1 = convert_float16((vload16(0, q + 16) >> sh) & (uchar16) 3) - convert_float16(select((uchar16) 4, (uchar16) 0, (vload16(0, b + 16) & hm) != (uchar16) 0));
    *w0 = v0 * (d * scale_q3_k(8 * n + 2 * j, b + 96));
    *w1 = v1 * (d * scale_q3_k(8 * n + 2 * j + 1, b + 96));
}
#elif BLOCK_TYPE == BT_Q4_K || BLOCK_TYPE == BT_Q5_K
#if BLOCK_TYPE == BT_Q4_K
#define K_BYTES 144
#define K_QS 16
#else
#define K_BYTES 176
#define K_QS 48
#endif
#define BLOCK_VALUES 256
#define BLOCK_ROW_BYTES(in) ((size_t) (in) / 256 * K_BYTES)
// block_ints32(row, c, q0, q1, s0, s1, m): the 32 values of block_decode32 as integers: value = q · s − m, q the
// 4- or 5-bit code (values 0–15 of q0, then q1), s0 = s1 = d·sc_j, m = dmin·m_j. block_decode32 forms the same
// products in float; matmul_block_q8_0_amx unpacks the same integers a whole super-block at a time.
__attribute__((always_inline))
inline void block_ints32(const __global uchar* row, int c, uchar16* q0, uchar16* q1, float* s0, float* s1, float* m) {
    const __global uchar* b = row + (size_t) (c / 8) * K_BYTES;
    int j = c % 8; // sub-block: the low (even j) or high (odd j) nibbles of bytes 32·(j / 2) …
    float sc, mn;
    scale_min_k4(j, b + 4, &sc, &mn);
    *s0 = *s1 = HALF_AT(b, 0) * sc;
    *m = HALF_AT(b, 2) * mn;
    const __global uchar* q = b + K_QS + 32 * (j / 2);
    uchar16 sh = (uchar16) (4 * (j % 2));
    *q0 = (vload16(0, q) >> sh) & (uchar16) 15;
    *q1 = (vload16(0, q + 16) >> sh) & (uchar16) 15;
#if BLOCK_TYPE == BT_Q5_K
    uchar16 hm = (uchar16) (1 << j); // the fifth bit: bit j of qh[l]
    *q0 |= select((uchar16) 0, (uchar16) 16, (vload16(0, b + 16) & hm) != (uchar16) 0);
    *q1 |= select((uchar16) 0, (uchar16) 16, (vload16(0, b + 32) & hm) != (uchar16) 0);
#endif
}
__attribute__((always_inline))
inline void block_decode32(const __global uchar* row, int c, float16* w0, float16* w1) {
    uchar16 q0, q1;
    float d, d1, dm;
    block_ints32(row, c, &q0, &q1, &d, &d1, &dm);
    *w0 = convert_float16(q0) * d - dm;
    *w1 = convert_float16(q1) * d - dm;
}
// One whole super-block's products with x (256 values) as float16 partial sums: the eight scales and minimums decoded
// at once with vector operations, each scale applied once per 32 products, the minimums through the sums of x.
#define BLOCK_DOT 1
__attribute__((always_inline))
inline float16 block_dot(const __global uchar* b, const __global float* x) {
    float2 dd = HALF2_AT(b, 0);
    float d = dd.x, dmin = dd.y;
    uchar16 s = vload16(0, b + 4); // the 12 scale bytes (and 4 bytes past them, unused)
    uchar4 s0 = s.s0123, s1 = s.s4567, s2 = s.s89ab;
    float8 sc = convert_float8((uchar8) (s0 & (uchar4) 63, (s2 & (uchar4) 15) | ((s0 >> (uchar4) 6) << (uchar4) 4))) * d;
    float8 mn = convert_float8((uchar8) (s1 & (uchar4) 63, (s2 >> (uchar4) 4) | ((s1 >> (uchar4) 6) << (uchar4) 4))) * dmin;
    float16 acc = (float16) 0.0f, xm = (float16) 0.0f;
    #pragma unroll
    for (int p = 0; p < 4; p++) {
        uchar16 q0 = vload16(0, b + K_QS + 32 * p), q1 = vload16(0, b + K_QS + 32 * p + 16);
        float16 x0 = vload16(0, x + 64 * p), x1 = vload16(0, x + 64 * p + 16);
        float16 x2 = vload16(0, x + 64 * p + 32), x3 = vload16(0, x + 64 * p + 48);
        uchar16 l0 = q0 & (uchar16) 15, l1 = q1 & (uchar16) 15, h0 = q0 >> (uchar16) 4, h1 = q1 >> (uchar16) 4;
#if BLOCK_TYPE == BT_Q5_K
        uchar16 qh0 = vload16(0, b + 16), qh1 = vload16(0, b + 32);
        uchar16 bl = (uchar16) (1 << (2 * p)), bh = (uchar16) (2 << (2 * p));
        l0 |= select((uchar16) 0, (uchar16) 16, (qh0 & bl) != (uchar16) 0);
        l1 |= select((uchar16) 0, (uchar16) 16, (qh1 & bl) != (uchar16) 0);
        h0 |= select((uchar16) 0, (uchar16) 16, (qh0 & bh) != (uchar16) 0);
        h1 |= select((uchar16) 0, (uchar16) 16, (qh1 & bh) != (uchar16) 0);
#endif
        acc = fma((float16) sc[2 * p], fma(convert_float16(l1), x1, convert_float16(l0) * x0), acc);
        acc = fma((float16) sc[2 * p + 1], fma(convert_float16(h1), x3, convert_float16(h0) * x2), acc);
        xm = fma((float16) mn[2 * p], x0 + x1, xm);
        xm = fma((float16) mn[2 * p + 1], x2 + x3, xm);
    }
    return acc - xm;
}
#elif BLOCK_TYPE == BT_Q6_K
#define BLOCK_VALUES 256
#define BLOCK_ROW_BYTES(in) ((size_t) (in) / 256 * 210)
// block_ints32(row, c, q0, q1, s0, s1): the 32 values of block_decode32 as integers: value = (q − 32) · s, q the 6-bit
// code, s0 = d·sc of values 0–15 (q0), s1 of values 16–31 (q1). block_decode32 forms the same products in float;
// matmul_block_q8_0_amx unpacks the same integers a whole super-block at a time.
__attribute__((always_inline))
inline void block_ints32(const __global uchar* row, int c, uchar16* q0, uchar16* q1, float* s0, float* s1) {
    const __global uchar* b = row + (size_t) (c / 8) * 210;
    int n = (c % 8) / 4, qd = c % 4; // 128-value half; quarter: low/high nibbles of ql[0..32) or ql[32..64)
    float d = HALF_AT(b, 208);
    const __global uchar* ql = b + 64 * n + 32 * (qd % 2);
    const __global uchar* qh = b + 128 + 32 * n;
    const __global char* sc = (const __global char*) (b + 192 + 8 * n + 2 * qd);
    uchar16 lsh = (uchar16) (4 * (qd / 2)), hsh = (uchar16) (2 * qd);
    *q0 = ((vload16(0, ql) >> lsh) & (uchar16) 15) | (((vload16(0, qh) >> hsh) & (uchar16) 3) << (uchar16) 4);
    *q1 = ((vload16(0, ql + 16) >> lsh) & (uchar16) 15) | (((vload16(0, qh + 16) >> hsh) & (uchar16) 3) << (uchar16) 4);
    *s0 = d * sc[0];
    *s1 = d * sc[1];
}
__attribute__((always_inline))
inline void block_decode32(const __global uchar* row, int c, float16* w0, float16* w1) {
    uchar16 q0, q1;
    float s0, s1;
    block_ints32(row, c, &q0, &q1, &s0, &s1);
    *w0 = (convert_float16(q0) - 32.0f) * s0;
    *w1 = (convert_float16(q1) - 32.0f) * s1;
}
// One whole super-block's products with x as float16 partial sums: the 16 scales converted at once, each applied once
// per 16 products; q − 32 taken as Σ q·x − 32·Σ x.
#define BLOCK_DOT 1
__attribute__((always_inline))
inline float16 block_dot(const __global uchar* b, const __global float* x) {
    float16 sc = convert_float16(vload16(0, (const __global char*) (b + 192))) * HALF_AT(b, 208);
    float16 acc = (float16) 0.0f, xs = (float16) 0.0f;
    #pragma unroll
    for (int n = 0; n < 2; n++) {
        #pragma unroll
        for (int h = 0; h < 2; h++) { // the first or second 16 of each 32-value run
            uchar16 ql0 = vload16(0, b + 64 * n + 16 * h), ql1 = vload16(0, b + 64 * n + 32 + 16 * h);
            uchar16 qh = vload16(0, b + 128 + 32 * n + 16 * h);
            const __global float* xb = x + 128 * n + 16 * h;
            float16 x0 = vload16(0, xb), x1 = vload16(0, xb + 32), x2 = vload16(0, xb + 64), x3 = vload16(0, xb + 96);
            uchar16 q0 = (ql0 & (uchar16) 15) | ((qh & (uchar16) 3) << (uchar16) 4);
            uchar16 q1 = (ql1 & (uchar16) 15) | (((qh >> (uchar16) 2) & (uchar16) 3) << (uchar16) 4);
            uchar16 q2 = (ql0 >> (uchar16) 4) | (((qh >> (uchar16) 4) & (uchar16) 3) << (uchar16) 4);
            uchar16 q3 = (ql1 >> (uchar16) 4) | ((qh >> (uchar16) 6) << (uchar16) 4);
            int s = 8 * n + h; // scale of values 16·h … of each quarter: sc[s], sc[s + 2], sc[s + 4], sc[s + 6]
            acc = fma((float16) sc[s], convert_float16(q0) * x0, acc);
            acc = fma((float16) sc[s + 2], convert_float16(q1) * x1, acc);
            acc = fma((float16) sc[s + 4], convert_float16(q2) * x2, acc);
            acc = fma((float16) sc[s + 6], convert_float16(q3) * x3, acc);
            xs = fma((float16) sc[s], x0, xs);
            xs = fma((float16) sc[s + 2], x1, xs);
            xs = fma((float16) sc[s + 4], x2, xs);
            xs = fma((float16) sc[s + 6], x3, xs);
        }
    }
    return acc - 32.0f * xs;
}
#elif BLOCK_TYPE == BT_IQ4_XS
#define BLOCK_VALUES 256
#define BLOCK_ROW_BYTES(in) ((size_t) (in) / 256 * 136)
__attribute__((always_inline))
inline void block_decode32(const __global uchar* row, int c, float16* w0, float16* w1) {
    const __global uchar* b = row + (size_t) (c / 8) * 136;
    int ib = c % 8;
    uint scalesH = (uint) b[2] | ((uint) b[3] << 8);
    int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 15) | (((scalesH >> (2 * ib)) & 3) << 4);
    float dl = HALF_AT(b, 0) * (ls - 32);
    uchar16 q = vload16(0, b + 8 + 16 * ib);
    *w0 = IQ4_DECODE(q & (uchar16) 15) * dl;
    *w1 = IQ4_DECODE(q >> (uchar16) 4) * dl;
}
#else
#error "unknown BLOCK_TYPE"
#endif

#endif
