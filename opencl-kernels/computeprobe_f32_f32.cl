// computeprobe_f32_f32: the float multiply-add probe behind Measurable.probeMultiplyAddRate (the compute roofline of
//   prefill for the float products): every work-item runs 8 independent chains of float16 FMAs (enough in flight to
//   cover the FMA latency on two units), a = a·m + c, for `iterations` steps, and writes their sum so the arithmetic
//   cannot be dropped: 128 multiply-adds per step and work-item.
// Layout: out (G) F32.
// Launch: global G (the host fills every compute unit), local chosen by the host.
#include "common.h"
__kernel void kernel_computeprobe_f32_f32(int iterations, float m, __global float* out) {
    float16 c = (float16) (1e-3f), s = (float16) (get_global_id(0) & 7);
    float16 a0 = s + 1.0f, a1 = s + 2.0f, a2 = s + 3.0f, a3 = s + 4.0f, a4 = s + 5.0f, a5 = s + 6.0f, a6 = s + 7.0f, a7 = s + 8.0f;
    for (int i = 0; i < iterations; i++) {
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a4 = fma(a4, m, c);
        a5 = fma(a5, m, c);
        a6 = fma(a6, m, c);
        a7 = fma(a7, m, c);
    }
    out[get_global_id(0)] = hsum16(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)));
}
