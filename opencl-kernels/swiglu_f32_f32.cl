// swiglu_f32_f32: out[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^−g), over count values.
// Layout: flat F32 arrays of count values (out may be gate or up itself).
// Launch: global roundup(count, LOCAL), local LOCAL chosen by the host; one item per value.
__kernel void kernel_swiglu_f32_f32(__global float* out, __global const float* gate, __global const float* up, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    float g = gate[i];
    out[i] = g / (1.0f + exp(-g)) * up[i];
}
