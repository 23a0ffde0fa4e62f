// copy_f32_f32: dst[t][i] = src[row + t][col + i] for i < dstCols: a block of a matrix (the columns of a fused QKV or
//   gate-up projection; the host copies whole rows with clEnqueueCopyBuffer instead).
// Layout: dst (n, dstCols) F32 at t·dstCols + i; src (rows, srcCols) F32 at r·srcCols + j; col + dstCols ≤ srcCols.
// Launch: global (roundup(dstCols, local), n), local chosen by the host; one work-item per copied value.
__kernel void kernel_copy_f32_f32(__global float* dst, __global const float* src, int dstCols, int srcCols, int row, int col) {
    int i = get_global_id(0), t = get_global_id(1);
    if (i >= dstCols) return;
    dst[(size_t) t * dstCols + i] = src[(size_t) (row + t) * srcCols + col + i];
}
