// gelu_f32_f32: out[i] = gelu(x[i]) over count values, GELU in its tanh approximation
//   0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), evaluated as the identical x / (1 + e^(−2u)),
//   u = √(2/π)·(x + 0.044715·x³), which does not cancel for large negative x.
// Layout: flat F32 arrays of count values (out may be x itself).
// Launch: global roundup(count, local), local chosen by the host; one item per value.
__kernel void kernel_gelu_f32_f32(__global float* out, __global const float* x, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    float v = x[i];
    float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
    out[i] = v / (1.0f + exp(-2.0f * u));
}
