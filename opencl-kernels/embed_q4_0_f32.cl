// embed_q4_0_f32: embedding gather from a Q4_0 table, repacked at upload into two arrays.
//   out[t][i] = (nibble(r, i) - 8) · d[r][i / 32],  r = tokens[tokOff + t] - row0, for tokens inside this part
// Layout: qs (partRows, cols/2) bytes: block b of row r is 16 bytes at r*(cols/2) + b*16; value j < 16 of the
//   block is the low nibble of byte j, value j ≥ 16 the high nibble of byte j − 16 (GGML order);
//   d (partRows, cols/32) F16 at r*(cols/32) + b; out (n, cols) F32; cols is a multiple of 32.
// Launch: global (roundup(cols, LOCAL), n), local (LOCAL, 1) chosen by the host; one item per value.
__kernel void kernel_embed_q4_0_f32(__global const uchar* qs, __global const half* d, __global const int* tokens,
                                    int tokOff, int row0, int partRows, int cols, int n, __global float* out) {
    int i = get_global_id(0), t = get_global_id(1);
    if (i >= cols || t >= n) return;
    int r = tokens[tokOff + t] - row0;
    if (r < 0 || r >= partRows) return;
    int b = i / 32, j = i % 32;
    uchar q = qs[(size_t) r * (cols / 2) + b * 16 + (j & 15)];
    int nib = j < 16 ? (q & 15) : (q >> 4);
    out[(size_t) t * cols + i] = (nib - 8) * vload_half((size_t) r * (cols / 32) + b, d);
}
