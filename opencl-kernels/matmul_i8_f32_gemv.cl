// matmul_i8_f32_gemv: W8A16 out = x · wᵀ for few tokens (decode): int8 weights, float activations.
//   out[t][row0 + r] = Σ_g scale[r][g] · Σ_{j in group g} q[r][j] · x[t][j]   for r < rows (this part), t < n
// Layout: qs (rows, in) int8 at r*in + j; scales (rows, groups) F32 at r*groups + g, groups = in / gs with
//   gs = groupSize (in when groupSize is 0: one scale per output channel); x (n, in) F32 at t*in + j;
//   out (n, outStride) F32 at t*outStride + row0 + r. Any in (a row's tail past the last 16 is scalar).
// Launch: global (roundup(rows, L), n), local (L, 1), L = 32 (notes/pocl-gemv.md). One work-item per output
//   value; four float16 product chains per group, scaled once per group, one horizontal sum at the end.
inline float hsum16_i8_f32(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    return b.x + b.y + b.z + b.w;
}

__kernel void kernel_matmul_i8_f32_gemv(__global const float* x, __global const char* qs, __global const float* scales,
                                        __global float* out, int n, int in, int rows, int outStride, int row0, int groupSize) {
    int r = get_global_id(0), t = get_global_id(1);
    if (r >= rows || t >= n) return;
    int gs = groupSize > 0 ? groupSize : in;
    int groups = in / gs;
    const __global char* qr = qs + (size_t) r * in;
    const __global float* sr = scales + (size_t) r * groups;
    const __global float* xr = x + (size_t) t * in;
    float16 acc = (float16) 0.0f;
    float tail = 0.0f;
    for (int g = 0; g < groups; g++) {
        int j = g * gs, j1 = j + gs;
        // Four independent product chains, 64 values a step: with one chain the loop waits on each multiply-add's
        // latency (POCL keeps it in order), 31 against 52 GB/s for a one-token GEMV of 1b's gate·up shape.
        float16 s0 = (float16) 0.0f, s1 = s0, s2 = s0, s3 = s0;
        for (; j + 64 <= j1; j += 64) {
            s0 += convert_float16(vload16(0, qr + j)) * vload16(0, xr + j);
            s1 += convert_float16(vload16(0, qr + j + 16)) * vload16(0, xr + j + 16);
            s2 += convert_float16(vload16(0, qr + j + 32)) * vload16(0, xr + j + 32);
            s3 += convert_float16(vload16(0, qr + j + 48)) * vload16(0, xr + j + 48);
        }
        for (; j + 16 <= j1; j += 16) s0 += convert_float16(vload16(0, qr + j)) * vload16(0, xr + j);
        float st = 0.0f;
        for (; j < j1; j++) st += (float) qr[j] * xr[j];
        acc += ((s0 + s1) + (s2 + s3)) * sr[g];
        tail += st * sr[g];
    }
    out[(size_t) t * outStride + row0 + r] = hsum16_i8_f32(acc) + tail;
}
