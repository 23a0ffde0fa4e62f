// embed_block_f32: embedding gather from a table in one of the GGML block types of blocks.h (BLOCK_TYPE), as the file
//   stores it: out[t][32c + j] = table[r][32c + j] dequantized, r = tokens[tokOff + t] − row0, for tokens inside
//   [row0, row0 + partRows) (one part of a split table).
// Layout: table (partRows, BLOCK_ROW_BYTES(cols)) bytes; out (n, cols) F32 at t·cols + i; cols a multiple of the
//   type's block (32 or 256 values).
// Launch: global (roundup(cols / 32, LOCAL), n), local (LOCAL, 1) chosen by the host; one work-item per 32 values.
#include "blocks.h"
__kernel void kernel_embed_block_f32(__global const uchar* table, __global const int* tokens, int tokOff, int row0,
                                     int partRows, int cols, int n, __global float* out) {
    int c = get_global_id(0), t = get_global_id(1);
    if (c >= cols / 32 || t >= n) return;
    int r = tokens[tokOff + t] - row0;
    if (r < 0 || r >= partRows) return;
    float16 w0, w1;
    block_decode32(table + (size_t) r * BLOCK_ROW_BYTES(cols), c, &w0, &w1);
    vstore16(w0, 0, out + (size_t) t * cols + 32 * c);
    vstore16(w1, 0, out + (size_t) t * cols + 32 * c + 16);
}
