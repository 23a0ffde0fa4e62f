// elementwise_f32_f32: out[i] = f(a[i], b[i]) over count values, f chosen at build time by OP (Backend.map):
//   OP_ADD      a + b (the residual connection)
//   OP_ADD_ROW  a + b[i mod cols] (a projection's bias, one row broadcast over the tokens)
//   OP_SILU_MUL silu(a)·b = a / (1 + e^−a) · b (SwiGLU)
//   OP_GELU_MUL gelu(a)·b (GEGLU)
//   OP_GELU     gelu(a)
//   OP_SCALE    a·c (Gemma's √dim embedding scale)
//   OP_SOFTCAP  c·tanh(a / c) (Gemma 2's final logit soft-cap)
//   OP_RELU     max(a, 0) (T5 v1.0's feed-forward)
//   GELU is the tanh approximation 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³), evaluated as the identical
//   x / (1 + e^(−2u)), which does not cancel for large negative x.
// Layout: out, a, b flat F32 arrays of count values (b: cols values for OP_ADD_ROW; unused by the unary ops, which
//   may be given a as b). Each element is read before it is written, so out may be a or b.
// Launch: global roundup(count, local), local chosen by the host; one work-item per value.
#include "common.h"
#define OP_ADD 0
#define OP_ADD_ROW 1
#define OP_SILU_MUL 2
#define OP_GELU_MUL 3
#define OP_GELU 4
#define OP_SCALE 5
#define OP_SOFTCAP 6
#define OP_RELU 7
#ifndef OP
#define OP OP_ADD // which function (the host passes the op's number)
#endif

inline float gelu(float x) {
    float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return x / (1.0f + exp(-2.0f * u));
}

__kernel void kernel_elementwise_f32_f32(__global float* out, __global const float* a, __global const float* b, float c,
                                         int cols, int count) {
    int i = get_global_id(0);
    if (i >= count) return;
    float x = a[i];
#if OP == OP_ADD
    out[i] = x + b[i];
#elif OP == OP_ADD_ROW
    out[i] = x + b[i % cols];
#elif OP == OP_SILU_MUL
    out[i] = silu(x) * b[i];
#elif OP == OP_GELU_MUL
    out[i] = gelu(x) * b[i];
#elif OP == OP_GELU
    out[i] = gelu(x);
#elif OP == OP_SCALE
    out[i] = x * c;
#elif OP == OP_SOFTCAP
    out[i] = c * tanh(x / c);
#elif OP == OP_RELU
    out[i] = x > 0.0f ? x : 0.0f;
#else
#error "unknown OP"
#endif
}
