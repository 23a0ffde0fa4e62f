// copycols_f32_f32: dst[t][i] = src[t][from + i] for i < dstCols (splits a fused QKV / gate-up projection).
// Layout: dst (n, dstCols) F32 at t*dstCols + i; src (n, srcCols) F32 at t*srcCols + j; from + dstCols ≤ srcCols.
// Launch: global (roundup(dstCols, local), n), local chosen by the host; one item per copied value.
__kernel void kernel_copycols_f32_f32(__global float* dst, __global const float* src, int dstCols, int srcCols, int from) {
    int i = get_global_id(0), t = get_global_id(1);
    if (i >= dstCols) return;
    dst[(size_t) t * dstCols + i] = src[(size_t) t * srcCols + from + i];
}
