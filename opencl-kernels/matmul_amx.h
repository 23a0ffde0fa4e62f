// matmul_amx.h: what the AMX products (matmul_q8_0_q8_0_amx, matmul_i8_q8_0_amx, matmul_block_q8_0_amx) share: the
//   tile configuration, one tile product into private memory, and the store of a strip's float16 accumulators.
//   Tiles: tmm0 the products (mr rows × 16 int32), tmm1 mr weight rows × kb int8 at the weights' row stride, tmm2 kb / 4
//   rows of 64 bytes (16 tokens × 4 consecutive values, as quantize_f32_q8_0tiles lays them out).
//   The instructions are inline assembly (AT&T operand order: tdpbssd B, A, C is C += A · B): POCL's compiler does not
//   target AMX. The host runs these kernels only where the CPU has AMX-INT8 and the process has been granted the tile
//   state (Amx.java): without either, the first tile instruction is a fatal SIGILL.
#ifndef MATMUL_AMX_H
#define MATMUL_AMX_H
#if !defined(__x86_64__) || !defined(__AVX512F__)
#error "the AMX products need an x86-64 device with AVX-512 and AMX (the host checks AMX)"
#endif
#include "common.h"
#ifndef AMX_GROUPS
#define AMX_GROUPS 4 // groups of 16 tokens per work-item: the strip's weights stay in L1/L2 between groups
#endif

// Loads the tile configuration for mr weight rows (1–16) and kb values (16 or 32) per product.
__attribute__((always_inline))
inline void amx_configure(int mr, int kb) {
    __attribute__((aligned(64))) uchar cfg[64];
    for (int i = 0; i < 64; i++) cfg[i] = 0;
    cfg[0] = 1;
    ((ushort*) (cfg + 16))[0] = 64; cfg[48] = mr;       // tmm0: mr rows × 16 int32
    ((ushort*) (cfg + 16))[1] = kb; cfg[49] = mr;       // tmm1: mr weight rows × kb int8
    ((ushort*) (cfg + 16))[2] = 64; cfg[50] = kb / 4;   // tmm2: 16 tokens' kb int8 in groups of 4
    __asm__ volatile("ldtilecfg %0" :: "m"(*(const uchar(*)[64]) cfg) : "memory");
}

// c (16 × 16 int32, rows past mr left as they were) = the weight rows at a (row stride `stride` bytes) times the
// activation tile at x: the instructions, for either address space of a (OpenCL C allows no cast between them).
#define AMX_PRODUCT(a, stride, x, c) {                                              \
        const long sixtyFour = 64;                                                  \
        __asm__ volatile("tilezero %%tmm0\n\t"                                       \
                         "tileloadd (%0,%1,1), %%tmm1\n\t"                            \
                         "tileloadd (%2,%3,1), %%tmm2\n\t"                            \
                         "tdpbssd %%tmm2, %%tmm1, %%tmm0\n\t"                         \
                         "tilestored %%tmm0, (%4,%3,1)"                             \
                         :: "r"(a), "r"(stride), "r"(x), "r"(sixtyFour), "r"(c) : "memory"); \
    }

__attribute__((always_inline))
inline void amx_product(const __global char* a, long stride, const __global char* x, int* c) AMX_PRODUCT(a, stride, x, c)

// amx_product with the weight rows in private memory: a tile the kernel has just unpacked (matmul_block_q8_0_amx).
__attribute__((always_inline))
inline void amx_product_private(const char* a, long stride, const __global char* x, int* c) AMX_PRODUCT(a, stride, x, c)

__attribute__((always_inline))
inline void amx_release(void) {
    __asm__ volatile("tilerelease" ::: "memory");
}

// Stores group g's accumulators (one float16 per weight row, lanes over tokens) of a strip's mr rows: token g·16 + j
// of n, row `row` + m, at out[token · outStride + row + m].
__attribute__((always_inline))
inline void amx_store(const float16* acc, int mr, int g, int n, __global float* out, int outStride, int row) {
    for (int m = 0; m < mr; m++) {
        float a[16];
        vstore16(acc[m], 0, a);
        for (int j = 0; j < 16 && g * 16 + j < n; j++) out[(size_t) (g * 16 + j) * outStride + row + m] = a[j];
    }
}
#endif
