// common.h: the small helpers several kernels share, each defined once here.
//   Every helper is __attribute__((always_inline)): POCL did not inline helpers by itself (the attention tile loop
//   ran slower as a call), and a called helper reaches its caller's private arrays through memory.
#ifndef COMMON_H
#define COMMON_H

// The sum of a float16's lanes: the halves added twice, then the last four lanes left to right (every dot product's
// final horizontal sum, so changing the order changes results in the last bits).
__attribute__((always_inline))
inline float hsum16(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

// The sum of an int16's lanes (exact while it fits an int).
__attribute__((always_inline))
inline int hsum16_int(int16 v) {
    int8 a = v.lo + v.hi;
    int4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

// load_half(i, p), load_half2(i, p), load_half16(i, p): the F16 value p[i] (the pair p[2i], p[2i + 1]; the 16
// values from p + 16i) as float. POCL lowers a lone
// vload_half to about 17 scalar instructions (a software conversion, read in its compiled kernels) even where the CPU
// converts F16 in one instruction; on x86 with F16C, clang's builtin for that instruction (vcvtph2ps) is used instead.
// Both convert exactly (subnormals, infinities and NaNs included), so results do not depend on the path.
#if defined(__x86_64__) && defined(__F16C__)
__attribute__((always_inline))
inline float4 f16c_to_float4(short4 h) {
    return __builtin_ia32_vcvtph2ps((short8) (h, (short4) 0));
}
__attribute__((always_inline))
inline float load_half(size_t i, const __global half* p) {
    return f16c_to_float4((short4) (((const __global short*) p)[i], 0, 0, 0)).x;
}
__attribute__((always_inline))
inline float2 load_half2(size_t i, const __global half* p) {
    return f16c_to_float4((short4) (vload2(i, (const __global short*) p), 0, 0)).xy;
}
#if defined(__AVX512F__)
typedef short f16c_h16 __attribute__((vector_size(32), aligned(2)));
typedef float f16c_f16 __attribute__((vector_size(64)));
__attribute__((always_inline))
inline float16 load_half16(size_t i, const __global half* p) {
    f16c_f16 f = __builtin_ia32_vcvtph2ps512_mask(((const __global f16c_h16*) p)[i], __builtin_astype((float16) 0.0f, f16c_f16),
                                                  (ushort) 0xffff, 4);
    return __builtin_astype(f, float16);
}
#else
#define load_half16(i, p) vload_half16(i, p)
#endif
#else
#define load_half(i, p) vload_half(i, p)
#define load_half2(i, p) vload_half2(i, p)
#define load_half16(i, p) vload_half16(i, p)
#endif

// BF16 (the upper half of an F32) widened to float by a 16-bit shift: load_bf16(i, p) the value p[i],
// load_bf16x16(offset, p) the 16 values from p + 16·offset (offset counted as vload16 counts it).
__attribute__((always_inline))
inline float load_bf16(size_t i, const __global ushort* p) {
    return as_float(((uint) p[i]) << 16);
}

__attribute__((always_inline))
inline float16 load_bf16x16(size_t offset, const __global ushort* p) {
    return as_float16(convert_uint16(vload16(offset, p)) << 16);
}

// SiLU, g / (1 + e^(−g)): the gate of SwiGLU.
__attribute__((always_inline))
inline float silu(float g) {
    return g / (1.0f + exp(-g));
}

// local_sum(v, part, n), local_max(v, part, n): the sum (maximum) of v over the n work-items of a work-group
// (n = its local size, a power of two), returned to every work-item; part holds n floats of local memory. Every
// work-item must call it (barriers inside). Work-items may still be reading part[0] when it returns: a barrier must
// come before part is written again.
#define LOCAL_REDUCE_OF(name, combine)                                          \
    __attribute__((always_inline)) inline float name(float v, __local float* part, int n) { \
        int lid = get_local_id(0);                                              \
        part[lid] = v;                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                           \
        for (int s = n / 2; s > 0; s >>= 1) {                                   \
            if (lid < s) part[lid] = combine(part[lid], part[lid + s]);         \
            barrier(CLK_LOCAL_MEM_FENCE);                                       \
        }                                                                       \
        return part[0];                                                         \
    }
#define LOCAL_ADD(a, b) ((a) + (b))
LOCAL_REDUCE_OF(local_sum, LOCAL_ADD)
LOCAL_REDUCE_OF(local_max, fmax)
#undef LOCAL_ADD
#undef LOCAL_REDUCE_OF

#endif
