// scale_f32_f32: x[i] ·= s over count values (Gemma's √dim embedding scale).
// Layout: flat F32 array of count values.
// Launch: global roundup(count, local), local chosen by the host; one item per value.
__kernel void kernel_scale_f32_f32(__global float* x, float s, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    x[i] *= s;
}
