// embed_q8_0_f32: embedding gather from a Q8_0 table in the superblock layout of matmul_q8_0_f32.h.
//   out[t][i] = q[r][i] · d[r][i / 32],  r = tokens[tokOff + t] - row0, for tokens inside [row0, row0 + partRows)
// Layout: row r at r*Q8_ROW(cols): per 16 blocks, 16 F16 scales (32 bytes) then the blocks' int8 values, so value i
//   is at i + 32·(i/512 + 1) and the scale of block b at half index b % 16 of the superblock b / 16 (Q8_VALUES_AT,
//   Q8_SCALES_AT);
//   out (n, cols) F32 at t*cols + i; cols is a multiple of 32.
// Launch: global (roundup(cols, LOCAL), n), local (LOCAL, 1) chosen by the host; one item per value.
#include "matmul_q8_0_f32.h"
__kernel void kernel_embed_q8_0_f32(__global const char* qs, __global const int* tokens,
                                    int tokOff, int row0, int partRows, int cols, int n, __global float* out) {
    int i = get_global_id(0), t = get_global_id(1);
    if (i >= cols || t >= n) return;
    int r = tokens[tokOff + t] - row0;
    if (r < 0 || r >= partRows) return;
    const __global char* row = qs + (size_t) r * Q8_ROW(cols);
    int b = i / 32;
    float scale = vload_half(b % 16, (const __global half*) (row + Q8_SCALES_AT(b)));
    out[(size_t) t * cols + i] = row[Q8_VALUES_AT(b) + i % 32] * scale;
}
