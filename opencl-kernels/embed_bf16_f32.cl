// embed_bf16_f32: embedding gather from a BF16 (upper 16 bits of an F32) table.
//   out[t][i] = table[tokens[tokOff + t] - row0][i]   for tokens inside this part [row0, row0 + partRows)
// Layout: table (partRows, cols) row-major, element (r, i) at r*cols + i; out (n, cols) F32 at t*cols + i;
//   tokens: int ids at tokens[tokOff + t]. A table split into several buffers is gathered part by part;
//   a token outside this part leaves its row alone (another part writes it).
// Launch: global (roundup(cols, LOCAL), n), local (LOCAL, 1) chosen by the host; one item per value.
#include "common.h"
__kernel void kernel_embed_bf16_f32(__global const ushort* table, __global const int* tokens, int tokOff,
                                     int row0, int partRows, int cols, int n, __global float* out) {
    int i = get_global_id(0), t = get_global_id(1);
    if (i >= cols || t >= n) return;
    int r = tokens[tokOff + t] - row0;
    if (r < 0 || r >= partRows) return;
    size_t src = (size_t) r * cols + i;
    out[(size_t) t * cols + i] = load_bf16(src, table);
}
