// rope_f32_f32: rotary position embedding, in place, of every head of every row.
//   For row t, head h, pair i < ropeDims/2: θ = positions[posOff + t] · invFreq[i] (invFreq[i] = base^(−2i/ropeDims),
//   computed on the host in double precision); (x[a], x[b]) ← (x[a]cosθ − x[b]sinθ, x[a]sinθ + x[b]cosθ) with
//   a = h*headDim + 2i, b = a + 1 (neox = 0, GGUF llama layout) or a = h*headDim + i, b = a + ropeDims/2 (neox = 1).
// Layout: x (n, cols) F32, element (t, j) at t*cols + j, cols = heads · headDim.
// Launch: global (ropeDims/2, heads, n); no local size (the runtime picks).
__kernel void kernel_rope_f32_f32(__global float* x, __global const int* positions, int posOff,
                                  __global const float* invFreq, int cols, int headDim, int ropeDims, int neox) {
    int i = get_global_id(0), h = get_global_id(1), t = get_global_id(2);
    float theta = (float) positions[posOff + t] * invFreq[i];
    float c = cos(theta), s = sin(theta);
    size_t base = (size_t) t * cols + (size_t) h * headDim;
    size_t a = neox ? base + i : base + 2 * i;
    size_t b = neox ? base + i + ropeDims / 2 : base + 2 * i + 1;
    float x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
}
