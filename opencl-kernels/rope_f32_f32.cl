// rope_f32_f32: rotary position embedding of the queries and the keys of the same rows, in one launch (attention with
//   an INT8 cache, or with fusion off; otherwise kvwrite_f16_f32_rope rotates as it writes the cache).
//   Every head of q and of k of row t is rotated: θ = positions[posOff + t] · invFreq[i] (host-computed angle per unit
//   position of pair i, with Llama 3's rope_freqs or Phi-3's long/short factors and linear or YaRN scaling already
//   folded in: RopeSpec.theta); c = cos θ · magnitude, s = sin θ · magnitude (YaRN's attention temperature and the
//   file's attention factor; 1 for plain RoPE); (x[a], x[b]) ← (x[a]c − x[b]s, x[a]s + x[b]c) with
//   a = head*headDim + 2i, b = a + 1 (neox = 0) or a = head*headDim + i, b = a + ropeDims/2 (neox = 1).
// Layout: q (n, qHeads·headDim), k (n, kHeads·headDim) F32 row-major, rotated in place.
// Launch: global (ropeDims/2, n); no local size (the runtime picks). Work-item (i, t) computes cos/sin of pair i once
//   and rotates that pair in all heads (so cos/sin are computed once per row, not once per head).
inline void rotate_qk(__global float* x, size_t base, int i, int ropeDims, int neox, float c, float s) {
    size_t a = neox ? base + i : base + 2 * i;
    size_t b = neox ? base + i + ropeDims / 2 : base + 2 * i + 1;
    float x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
}

__kernel void kernel_rope_f32_f32(__global float* q, __global float* k, __global const int* positions, int posOff,
                                     __global const float* invFreq, int qHeads, int kHeads, int headDim, int ropeDims, int neox,
                                     float magnitude) {
    int i = get_global_id(0), t = get_global_id(1);
    float theta = (float) positions[posOff + t] * invFreq[i];
    float c = cos(theta) * magnitude, s = sin(theta) * magnitude;
    for (int h = 0; h < qHeads; h++) rotate_qk(q, ((size_t) t * qHeads + h) * headDim, i, ropeDims, neox, c, s);
    for (int h = 0; h < kHeads; h++) rotate_qk(k, ((size_t) t * kHeads + h) * headDim, i, ropeDims, neox, c, s);
}
