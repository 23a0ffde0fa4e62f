// computeprobe_i8_i8: the int8 multiply-add probe of x86's pmaddubsw (the compute roofline of prefill for the K-quant
//   products, blocks_q8k.h): every work-item runs 8 independent chains of acc += pmaddwd(pmaddubsw(u, acc), 1) (64
//   or 32 byte products and their pair sums widened to int32, as blocks_q8k.h sums a block; each step reads its
//   chain's accumulator so the compiler cannot hoist it) for `iterations` steps and writes the sum: 8 · Q8K_BYTES
//   multiply-adds per step and work-item.
// Layout: in Q8K_BYTES int8 (the unsigned operand); out (G) int32.
// Launch: global G (the host fills every compute unit), local chosen by the host. x86 CPU devices (AVX2).
#if !defined(__x86_64__) || !defined(__AVX2__)
#error "computeprobe_i8_i8 needs an x86-64 device with AVX2"
#endif
#ifndef Q8K_BYTES
#if defined(__AVX512BW__)
#define Q8K_BYTES 64
#else
#define Q8K_BYTES 32
#endif
#endif
#if Q8K_BYTES == 64
typedef char qv __attribute__((vector_size(64)));
typedef short sv __attribute__((vector_size(64)));
typedef int iv __attribute__((vector_size(64)));
#define MADDUBS(u, s) __builtin_ia32_pmaddubsw512((u), (s))
#define MADDWD(a, b) __builtin_ia32_pmaddwd512((a), (b))
#define IV_OF(x) ((iv) (int16) (x))
#else
typedef char qv __attribute__((vector_size(32)));
typedef short sv __attribute__((vector_size(32)));
typedef int iv __attribute__((vector_size(32)));
#define MADDUBS(u, s) __builtin_ia32_pmaddubsw256((u), (s))
#define MADDWD(a, b) __builtin_ia32_pmaddwd256((a), (b))
#define IV_OF(x) ((iv) (int8) (x))
#endif
#define STEP(a) a = a + MADDWD(MADDUBS(u, (qv) a), ones)
__kernel void kernel_computeprobe_i8_i8(int iterations, __global const char* in, __global int* out) {
    qv u = *(const __global qv*) in;
    sv ones = (sv) IV_OF(0x00010001);
    int g = get_global_id(0);
    iv a0 = IV_OF(g), a1 = IV_OF(g + 1), a2 = IV_OF(g + 2), a3 = IV_OF(g + 3), a4 = IV_OF(g + 4), a5 = IV_OF(g + 5),
       a6 = IV_OF(g + 6), a7 = IV_OF(g + 7);
    for (int i = 0; i < iterations; i++) {
        STEP(a0);
        STEP(a1);
        STEP(a2);
        STEP(a3);
        STEP(a4);
        STEP(a5);
        STEP(a6);
        STEP(a7);
    }
    iv s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
    int t = 0;
    for (int i = 0; i < Q8K_BYTES / 4; i++) t += s[i];
    out[g] = t;
}
