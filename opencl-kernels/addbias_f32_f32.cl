// addbias_f32_f32: x[t][i] += b[i] for every row t (a projection's bias broadcast over the tokens).
// Layout: x (n, cols) F32 row-major at t*cols + i; b (cols) F32.
// Launch: global (roundup(cols, local), n), local chosen by the host; one item per value.
__kernel void kernel_addbias_f32_f32(__global float* x, __global const float* b, int cols) {
    int i = get_global_id(0), t = get_global_id(1);
    if (i >= cols) return;
    x[(size_t) t * cols + i] += b[i];
}
