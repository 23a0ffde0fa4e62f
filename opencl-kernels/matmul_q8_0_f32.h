// matmul_q8_0_f32.h: the OpenCL Q8_0 superblock layout and its one-row dot product, shared by the matmul_q8_0_f32_*
//   kernels and embed_q8_0_f32. A row of in values (blocks = in/32) is ceil(blocks/16) superblocks, each 16 F16
//   scales (32 bytes; slots past the row's last block are zero) followed by the values of its ≤ 16 blocks (32 int8
//   each): row stride Q8_ROW(in) = in + 32·ceil(blocks/16) bytes. in is a multiple of 32. One stream per row and every
//   vector load 32-byte aligned (faster on POCL than the values and the scales in two arrays). The numbers are the
//   GGUF's, repacked at upload through a small staging area (a staging copy of the whole weight stays resident as
//   holes in the C heap).
//   dot_q8_0(row, x, in) = Σ_b d[b] · Σ_j q[32b + j] · x[32b + j]: a float16 accumulator scaled per block, one
//   horizontal sum. With GEMV_LANES (gemv_lanes.h) it returns this lane's part of the sum: every GEMV_LANES-th
//   16-value half-block, its block's scale read alone.
#ifndef MATMUL_Q8_0_F32_H
#define MATMUL_Q8_0_F32_H
#include "gemv_lanes.h"
#define Q8_ROW(in) ((in) + 32 * (((in) / 32 + 15) / 16))
#define Q8_SUPER 544 // bytes per superblock: 16 F16 scales (32 bytes), then 16 blocks of 32 int8
// Block b of a row, as byte offsets from the row's start: its scale is half b % 16 of the superblock at
// Q8_SCALES_AT(b), its 32 values start at Q8_VALUES_AT(b) (past the superblock's 32 bytes of scales).
#define Q8_SCALES_AT(b) ((b) / 16 * Q8_SUPER)
#define Q8_VALUES_AT(b) (Q8_SCALES_AT(b) + 32 + (b) % 16 * 32)
#ifdef GEMV_LANES
__attribute__((always_inline))
inline float dot_q8_0(const __global char* row, const __global float* x, int in) {
    float acc = 0.0f;
    for (int u = GEMV_LANE(); u < in / 16; u += GEMV_LANES) {
        const __global char* sb = row + (u >> 5) * Q8_SUPER;  // the superblock of half-block u (32 per superblock)
        float16 p = convert_float16(vload16(0, sb + 32 + (u & 31) * 16)) * vload16(0, x + u * 16);
        acc += hsum16(p) * vload_half((u >> 1) & 15, (const __global half*) sb);
    }
    return acc;
}
#else
__attribute__((always_inline))
inline float dot_q8_0(const __global char* row, const __global float* x, int in) {
    float16 acc = (float16) 0.0f;
    int blocks = in / 32;
    for (int b = 0; b < blocks; b += 16, row += Q8_SUPER, x += 512) {
#if defined(GEMV_PREFETCH) && defined(__x86_64__) // a CPU device (not a simulator or GPU compiler)
        // the weights GEMV_PREFETCH bytes ahead (a later superblock, or the next rows): the hardware prefetcher alone
        // falls behind this loop's reads; a prefetch past the buffer's end never faults
        for (int line = 0; line < Q8_SUPER; line += 64) __builtin_prefetch(row + GEMV_PREFETCH + line);
#endif
        // the superblock's sixteen scales in one vload_half16: POCL turns a lone vload_half into ~17 scalar
        // instructions, more than a block's own vector work
        float16 d16 = vload_half16(0, (const __global half*) row);
        const __global char* q = row + 32;
        if (b + 16 <= blocks) {
            #pragma unroll
            for (int j = 0; j < 16; j++)
                acc += (convert_float16(vload16(0, q + j * 32)) * vload16(0, x + j * 32)
                        + convert_float16(vload16(0, q + j * 32 + 16)) * vload16(0, x + j * 32 + 16)) * d16[j];
        } else {
            // a row's last, partial superblock: unrolled with a guard so the scales stay lanes of d16 (a vload_half per
            // block made 110m's gate·up, 8 of whose 24 blocks per row are here, half as fast per byte as its other GEMVs)
            int last = blocks - b;
            #pragma unroll
            for (int j = 0; j < 16; j++)
                if (j < last)
                    acc += (convert_float16(vload16(0, q + j * 32)) * vload16(0, x + j * 32)
                            + convert_float16(vload16(0, q + j * 32 + 16)) * vload16(0, x + j * 32 + 16)) * d16[j];
        }
    }
    return hsum16(acc);
}
#endif
#endif
