// quantize_q8_0.h: one block of 32 activations to Q8_0, llama.cpp's rule, for every kernel that quantizes activations
//   to Q8_0 (quantize_f32_q8_0 in rows, quantize_f32_q8_0tiles in AMX's tile order): both must produce the same
//   numbers, so that a token's product is the same whichever kernel multiplies it (matmul_q8_0_q8_0.h).
//   m = the largest magnitude, d = m / 127 rounded to F16 (as a Q8_0 block stores it), q = rint(x · 127 / m)
//   (llama.cpp's x86 rounding: half to even); all zero when m = 0.
#ifndef QUANTIZE_Q8_0_H
#define QUANTIZE_Q8_0_H

// F16 scales per token in quantize_f32_q8_0's row layout: a token's in / 32 blocks padded to whole superblocks of 16
// (the one-token products read a superblock's 16 scales at once).
#define Q8X_STRIDE(in) (((in) / 32 + 15) / 16 * 16)

// The block's 127 / m (0 for an all-zero block); *d gets m / 127, to be stored rounded to F16 (vstore_half_rte).
// The largest magnitude in vectors: a maximum is exact in any order, and POCL leaves a scalar loop of 32 as it is.
__attribute__((always_inline))
inline float q8_0_inverse_scale(const __global float* xb, float* d) {
    float16 m16 = fmax(fabs(vload16(0, xb)), fabs(vload16(1, xb)));
    float8 m8 = fmax(m16.lo, m16.hi);
    float4 m4 = fmax(m8.lo, m8.hi);
    float2 m2 = fmax(m4.lo, m4.hi);
    float amax = fmax(m2.x, m2.y);
    *d = amax / 127.0f;
    return amax != 0.0f ? 127.0f / amax : 0.0f;
}

// Values 4k … 4k + 3 of the block, quantized with q8_0_inverse_scale's id.
__attribute__((always_inline))
inline char4 q8_0_quad(const __global float* xb, int k, float id) {
    return convert_char4(rint(vload4(k, xb) * id));
}
#endif
