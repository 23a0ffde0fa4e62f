// add_f32_f32: x[i] += y[i] over count values (the residual connection).
// Layout: flat F32 arrays of count values.
// Launch: global roundup(count, LOCAL), local LOCAL chosen by the host; one item per value.
__kernel void kernel_add_f32_f32(__global float* x, __global const float* y, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    x[i] += y[i];
}
