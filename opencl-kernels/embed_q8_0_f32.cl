// embed_q8_0_f32: embedding gather from a Q8_0 table, repacked at upload into two arrays.
//   out[t][i] = qs[r][i] · d[r][i / 32],  r = tokens[tokOff + t] - row0, for tokens inside [row0, row0 + partRows)
// Layout: qs (partRows, cols) int8, element (r, i) at r*cols + i; d (partRows, cols/32) F16 scales at
//   r*(cols/32) + b (read with vload_half); out (n, cols) F32 at t*cols + i; cols is a multiple of 32.
// Launch: global (roundup(cols, LOCAL), n), local (LOCAL, 1) chosen by the host; one item per value.
__kernel void kernel_embed_q8_0_f32(__global const char* qs, __global const half* d, __global const int* tokens,
                                    int tokOff, int row0, int partRows, int cols, int n, __global float* out) {
    int i = get_global_id(0), t = get_global_id(1);
    if (i >= cols || t >= n) return;
    int r = tokens[tokOff + t] - row0;
    if (r < 0 || r >= partRows) return;
    float scale = vload_half((size_t) r * (cols / 32) + i / 32, d);
    out[(size_t) t * cols + i] = qs[(size_t) r * cols + i] * scale;
}
