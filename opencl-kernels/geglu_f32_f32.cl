// geglu_f32_f32: out[i] = gelu(gate[i]) · up[i] over count values, GELU in its tanh approximation
//   0.5·g·(1 + tanh(u)) = g / (1 + e^(−2u)), u = √(2/π)·(g + 0.044715·g³) (as gelu_f32_f32).
// Layout: flat F32 arrays of count values (out may be gate or up itself).
// Launch: global roundup(count, local), local chosen by the host; one item per value.
__kernel void kernel_geglu_f32_f32(__global float* out, __global const float* gate, __global const float* up, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    float g = gate[i];
    float u = 0.7978845608028654f * (g + 0.044715f * g * g * g);
    out[i] = g / (1.0f + exp(-2.0f * u)) * up[i];
}
