// attention_f32_f32_combine: the second half of split attention; merges the per-chunk partial states.
//   M = max_s m_s;  out[t][h][i] = Σ_s acc_s[i]·e^(m_s − M) / Σ_s l_s·e^(m_s − M), skipping chunks with m_s = −∞.
// Layout: part (n, heads, splits, headDim + 2) F32 as written by attention_f16_f32_split;
//   out (n, heads·headDim) F32 at (t·heads + h)·headDim + i.
// Launch: global (headDim, heads, n); no local size.
__kernel void kernel_attention_f32_f32_combine(__global const float* part, __global float* out,
                                               int heads, int headDim, int splits) {
    int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
    const __global float* pr = part + ((size_t) t * heads + h) * splits * (headDim + 2);
    float mMax = -INFINITY;
    for (int s = 0; s < splits; s++) mMax = fmax(mMax, pr[s * (headDim + 2) + headDim]);
    float num = 0.0f, den = 0.0f;
    for (int s = 0; s < splits; s++) {
        const __global float* ps = pr + s * (headDim + 2);
        if (ps[headDim] == -INFINITY) continue;
        float w = exp(ps[headDim] - mMax);
        num += ps[i] * w;
        den += ps[headDim + 1] * w;
    }
    out[((size_t) t * heads + h) * headDim + i] = num / den;
}
