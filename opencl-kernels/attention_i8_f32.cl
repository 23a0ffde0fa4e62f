// attention_i8_f32: attention_f16_f32 over the paged INT8 KV cache (kvwrite_i8_f32): fused causal grouped-query
//   attention with online softmax, optional soft-cap and sliding window. Keys and values are dequantized in
//   registers with their (block, head) scale, which is factored out of the sums:
//   score_p = (scale · ks[block][g]) · Σ_i q[t][h][i] · kq[p][g][i];  acc += (w_p · vs[block][g]) · vq[p][g].
//   For row t and query head h (KV head g = h / (heads / kvHeads)), pos = positions[posOff + t]:
//   out[t][h] = Σ_{first≤p≤pos} softmax_p(score_p) · V[p][g]; score soft-capped to softcap·tanh(score / softcap)
//   when softcap > 0; first = max(0, pos − window + 1) when window > 0, else 0.
// Layout: q, out (n, heads·HEAD_DIM) F32 at (t·heads + h)·HEAD_DIM + i; kc, vc one layer of the cache,
//   (numBlocks, kvHeads, blockSize, HEAD_DIM) int8: position p lives in block b = ints[tabOff + p / blockSize],
//   slot p % blockSize, at ((b·kvHeads + g)·blockSize + slot)·HEAD_DIM + i; ks, vs (numBlocks, kvHeads) F32 at
//   b·kvHeads + g; ints holds positions at posOff and the block table at tabOff.
// Launch: global (heads, n); no local size. One work-item per (head, row).
#ifndef HEAD_DIM
#define HEAD_DIM 64 // values per head (compile-time so q and acc stay in registers)
#endif
__kernel void kernel_attention_i8_f32(__global const float* q, __global const char* kc, __global const char* vc,
                                      __global const float* ks, __global const float* vs,
                                      __global float* out, __global const int* ints, int posOff, int tabOff,
                                      int heads, int kvHeads, int blockSize, float scale,
                                      float softcap, int window) {
    int h = get_global_id(0), t = get_global_id(1);
    int g = h / (heads / kvHeads);
    const __global float* qr = q + ((size_t) t * heads + h) * HEAD_DIM;
    float qv[HEAD_DIM], acc[HEAD_DIM];
    for (int i = 0; i < HEAD_DIM; i++) {
        qv[i] = qr[i];
        acc[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int pos = ints[posOff + t], len = pos + 1;
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    for (int p = first; p < len; p++) {
        size_t head = (size_t) ints[tabOff + p / blockSize] * kvHeads + g;
        size_t base = (head * blockSize + p % blockSize) * HEAD_DIM;
        float dot = 0.0f;
        for (int i = 0; i < HEAD_DIM; i++) dot += qv[i] * (float) kc[base + i];
        float s = dot * (scale * ks[head]);
        if (softcap > 0.0f) s = softcap * tanh(s / softcap);
        float mNew = fmax(m, s);
        float corr = exp(m - mNew), wgt = exp(s - mNew);
        l = l * corr + wgt;
        float wv = wgt * vs[head];
        for (int i = 0; i < HEAD_DIM; i++) acc[i] = acc[i] * corr + wv * (float) vc[base + i];
        m = mNew;
    }
    __global float* o = out + ((size_t) t * heads + h) * HEAD_DIM;
    for (int i = 0; i < HEAD_DIM; i++) o[i] = acc[i] / l;
}
