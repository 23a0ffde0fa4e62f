// computeprobe_i8_i8_amx: the int8 multiply-add probe of the AMX tile unit (the compute roofline of prefill for
//   matmul_q8_0_q8_0_amx): every work-item runs `iterations` rounds of 4 independent full-size tile products
//   (tdpbssd: 16 × 16 int32 += 16 × 64 int8 · 64 × 16 int8, 16384 multiply-adds each) and stores one result tile,
//   so the arithmetic cannot be dropped: 65536 multiply-adds per round and work-item. The tiles load from `in`.
// Layout: in 2048 int8 (tile A, then tile B); out (G, 256) int32.
// Launch: global G (the host fills every compute unit), local 1. Only where the host found AMX usable (Amx.java).
#if !defined(__x86_64__)
#error "computeprobe_i8_i8_amx needs an x86-64 device with AMX (the host checks AMX)"
#endif
__kernel void kernel_computeprobe_i8_i8_amx(int iterations, __global const char* in, __global int* out) {
    __attribute__((aligned(64))) uchar cfg[64];
    for (int i = 0; i < 64; i++) cfg[i] = 0;
    cfg[0] = 1;
    for (int t = 0; t < 6; t++) {   // tmm0–3: accumulators, tmm4: A, tmm5: B; all 16 rows × 64 bytes
        ((ushort*) (cfg + 16))[t] = 64;
        cfg[48 + t] = 16;
    }
    __asm__ volatile("ldtilecfg %0" :: "m"(*(const uchar(*)[64]) cfg) : "memory");
    const long stride = 64;
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm4\n\ttileloadd (%2,%1,1), %%tmm5\n\t"
                     "tilezero %%tmm0\n\ttilezero %%tmm1\n\ttilezero %%tmm2\n\ttilezero %%tmm3"
                     :: "r"(in), "r"(stride), "r"(in + 1024) : "memory");
    for (int i = 0; i < iterations; i++) {
        __asm__ volatile("tdpbssd %%tmm5, %%tmm4, %%tmm0\n\ttdpbssd %%tmm5, %%tmm4, %%tmm1\n\t"
                         "tdpbssd %%tmm5, %%tmm4, %%tmm2\n\ttdpbssd %%tmm5, %%tmm4, %%tmm3" ::: "memory");
    }
    __asm__ volatile("tilestored %%tmm0, (%0,%1,1)\n\ttilerelease" :: "r"(out + (size_t) get_global_id(0) * 256), "r"(stride) : "memory");
}
