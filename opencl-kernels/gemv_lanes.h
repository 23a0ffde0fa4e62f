// gemv_lanes.h: how the one-token matrix-product kernels (matmul_*_gemv, _gemvmulti, _gemvswiglu) map output rows
//   to work-items, shared by them and the one-row dot products of the matmul_*_f32.h / matmul_i8_*.h headers.
//   CPU devices (GEMV_LANES unset): one work-item per output value walks its whole row with wide vectors and keeps
//     its accumulators in registers (docs/POCL-GEMV.md: that is what POCL compiles well).
//   GPUs (GEMV_LANES = L, a power of two, 32 by default; -Dinfercl.opencl.lanes=L forces L from 2 to 256, or 0 for
//     off, so the parity tests cover this shape on a CPU device): a work-group of L work-items computes one output
//     value. Lane i takes the row's 16-value steps i, i + L, i + 2L, …, so the L lanes of a step read one contiguous
//     run of the row (coalesced, where one
//     work-item per row would have neighbouring items read addresses a whole row apart), and a launch has rows × L
//     work-items instead of rows, enough to keep a GPU's memory system busy. The lanes' partial sums meet in local
//     memory; the value is complete in lane 0, which writes it.
//   Kernel shape (both modes): GEMV_SCRATCH (float sums) or GEMV_SCRATCH_INT (int sums) first in the kernel (local
//     memory is declared at kernel scope; each kernel declares only the one it uses), GEMV_ROW() as the output row, an
//     early return only for a whole row (uniform within a work-group, so every lane reaches the barriers),
//     GEMV_SUM(partial) / GEMV_SUM_INT(partial), and the store under GEMV_LANE() == 0.
// Fused decode: for one token the backend runs the projections that share an input as one launch (_gemvmulti: Q·K·V,
//   or wo / ffn_down with the residual add) and gate·up·SwiGLU as another (_gemvswiglu), when the weights are Q8_0,
//   Q4_0, F16 or INT8 of one type, each in one part (INT8: one scheme and group size; W8A8: one smoothing vector, so
//   one quantize_f32_i8 of x serves them all); otherwise the general kernels. A llama layer takes 9 launches instead
//   of 16 (110m: 111 instead of 195 per token); W8A8 quantizes 4 inputs per layer instead of 7 (110m: 160 instead of
//   280 launches). -Dinfercl.opencl.fuse=false turns the fused kernels off for A/B measurements.
#ifndef GEMV_LANES_H
#define GEMV_LANES_H
#include "common.h"

#ifdef GEMV_LANES
#define GEMV_ROW() ((int) get_group_id(0))
#define GEMV_LANE() ((int) get_local_id(0))
#define GEMV_SCRATCH __local float gemv_part[GEMV_LANES]
#define GEMV_SCRATCH_INT __local int gemv_part_int[GEMV_LANES]
#define GEMV_SUM(v) gemv_lanes_sum((v), gemv_part)
#define GEMV_SUM_INT(v) gemv_lanes_sum_int((v), gemv_part_int)

// Tree sum over the work-group's lanes, returned in lane 0 (the other lanes get their own partial back and must not
// use it). A second call may follow at once: only lane 0 reads part[0], and it does so before writing it again (what
// common.h's local_sum, which returns the sum to every lane, cannot offer without one more barrier).
// Defined for float and, so that an int8 × int8 row sum stays exact until it is scaled, for int.
#define GEMV_LANES_SUM_OF(T, name)                                   \
    __attribute__((always_inline)) inline T name(T v, __local T* part) { \
        int lane = get_local_id(0);                                  \
        part[lane] = v;                                              \
        barrier(CLK_LOCAL_MEM_FENCE);                                \
        for (int s = GEMV_LANES / 2; s > 0; s >>= 1) {               \
            if (lane < s) part[lane] += part[lane + s];              \
            barrier(CLK_LOCAL_MEM_FENCE);                            \
        }                                                            \
        return lane == 0 ? part[0] : v;                              \
    }
GEMV_LANES_SUM_OF(float, gemv_lanes_sum)
GEMV_LANES_SUM_OF(int, gemv_lanes_sum_int)
#else
#define GEMV_ROW() ((int) get_global_id(0))
#define GEMV_LANE() 0
#define GEMV_SCRATCH
#define GEMV_SCRATCH_INT
#define GEMV_SUM(v) (v)
#define GEMV_SUM_INT(v) (v)
#endif

#endif
