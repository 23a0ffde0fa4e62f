// matmul_q8_0_f32_gemv: out = x · wᵀ for few tokens (decode), weights q8_0 dequantized in registers.
//   out[t][row0 + r] = Σ_b d[r][b] · Σ_j q[r][32b + j] · x[t][32b + j]   for r < rows (this part), t < n
// Layout (repacked at upload, same numbers as the file): qs (rows, in) int8 at r*in + i (all values of a row contiguous);
//   d (rows, in/32) F16 scales at r*(in/32) + b (vload_half); x (n, in) F32; out (n, outStride) F32 at
//   t*outStride + row0 + r. in is a multiple of 32.
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32 on POCL (notes/pocl-gemv.md). One work-item
//   per output value; a float16 accumulator scaled per block, one horizontal sum at the end.
inline float hsum16_q8_0(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel void kernel_matmul_q8_0_f32_gemv(__global const float* x, __global const char* qs, __global const half* d,
                                          __global float* out, int n, int in, int rows, int outStride, int row0) {
    int r = get_global_id(0), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    const __global char* qr = qs + (size_t) r * in;
    const __global half* dr = d + (size_t) r * (in / 32);
    const __global float* xr = x + (size_t) t * in;
    float16 acc = (float16) 0.0f;
    int blocks = in / 32, b = 0;
    // Scales sixteen blocks at a time: POCL turns vload_half16 into one vector conversion, a lone vload_half into
    // ~17 scalar instructions per block (more than the block's own vector work).
    for (; b + 16 <= blocks; b += 16) {
        float16 d16 = vload_half16(0, dr + b);
        #pragma unroll
        for (int j = 0; j < 16; j++) {
            const __global char* q = qr + (b + j) * 32;
            const __global float* xb = xr + (b + j) * 32;
            acc += (convert_float16(vload16(0, q)) * vload16(0, xb) + convert_float16(vload16(0, q + 16)) * vload16(0, xb + 16)) * d16[j];
        }
    }
    for (; b < blocks; b++) {
        float16 w0 = convert_float16(vload16(0, qr + b * 32)), w1 = convert_float16(vload16(0, qr + b * 32 + 16));
        acc += (w0 * vload16(0, xr + b * 32) + w1 * vload16(0, xr + b * 32 + 16)) * vload_half(b, dr);
    }
    out[(size_t) t * outStride + row0 + r] = hsum16_q8_0(acc);
}
