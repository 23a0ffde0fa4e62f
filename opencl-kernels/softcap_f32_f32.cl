// softcap_f32_f32: x[i] = cap · tanh(x[i] / cap) over count values (Gemma 2's final logit soft-cap).
// Layout: flat F32 array of count values.
// Launch: global roundup(count, local), local chosen by the host; one item per value.
__kernel void kernel_softcap_f32_f32(__global float* x, float cap, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    x[i] = cap * tanh(x[i] / cap);
}
