// attention_f32_f32_combine: the second half of split attention; merges the per-chunk partial states.
//   M = max_s m_s;  out[t][h][i] = Σ_s acc_s[i]·e^(m_s − M) / Σ_s l_s·e^(m_s − M); a chunk with m_s = −∞ (nothing
//   to attend to) weighs e^−∞ = 0. Every row has one non-empty chunk (the one holding its own position), so M is finite.
// Layout: part (n, heads, splits, headDim + 2) F32 as written by the split and lanes attention kernels;
//   out (n, heads·headDim) F32 at (t·heads + h)·headDim + i.
// Two shapes of the same sum, chosen by the host with the other kernels' shape (ClBackend.lanes):
//   PER_VALUE (GPUs): global (headDim, heads, n), one work-item per output value, each computing the chunks' weights
//   itself — thousands of short threads;
//   otherwise (CPU devices): global (heads, n), one work-item per (query head, row) walking the head's values 16 at
//   a time (float16, then a scalar tail), one scalar exp per chunk and 16 values. POCL does not vectorise the
//   per-value form across work-items (its loop over the chunks holds a call to exp) and ran it one work-item at a
//   time, several times slower than this form.
// Launch: no local size.
__kernel void kernel_attention_f32_f32_combine(__global const float* part, __global float* out,
                                               int heads, int headDim, int splits) {
#ifdef PER_VALUE
    int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
#else
    int h = get_global_id(0), t = get_global_id(1);
#endif
    const __global float* pr = part + ((size_t) t * heads + h) * splits * (headDim + 2);
    __global float* o = out + ((size_t) t * heads + h) * headDim;
    float mMax = -INFINITY, den = 0.0f;
    for (int s = 0; s < splits; s++) mMax = fmax(mMax, pr[s * (headDim + 2) + headDim]);
#ifdef PER_VALUE
    float num = 0.0f;
    for (int s = 0; s < splits; s++) {
        const __global float* ps = pr + s * (headDim + 2);
        float w = exp(ps[headDim] - mMax);
        num += ps[i] * w;
        den += ps[headDim + 1] * w;
    }
    o[i] = num / den;
#else
    for (int s = 0; s < splits; s++) den += pr[s * (headDim + 2) + headDim + 1] * exp(pr[s * (headDim + 2) + headDim] - mMax);
    float inv = 1.0f / den;
    int i = 0;
    for (; i + 16 <= headDim; i += 16) {
        float16 num = (float16) 0.0f;
        for (int s = 0; s < splits; s++) {
            const __global float* ps = pr + s * (headDim + 2);
            num += exp(ps[headDim] - mMax) * vload16(0, ps + i);
        }
        vstore16(num * inv, 0, o + i);
    }
    for (; i < headDim; i++) {
        float num = 0.0f;
        for (int s = 0; s < splits; s++) {
            const __global float* ps = pr + s * (headDim + 2);
            num += exp(ps[headDim] - mMax) * ps[i];
        }
        o[i] = num * inv;
    }
#endif
}
