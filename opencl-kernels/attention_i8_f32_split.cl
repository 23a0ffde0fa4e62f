// attention_i8_f32_split: attention_f16_f32_split over the paged INT8 KV cache (kvwrite_i8_f32): the context
//   0..len−1 of row t is cut into chunks of CHUNK positions; work-item (h, s, t) runs the online softmax of
//   attention_i8_f32 (keys and values dequantized in registers with their (block, head) scale; soft-cap; sliding
//   window: positions before first = max(0, pos − window + 1) skipped when window > 0) over chunk s only and
//   stores its partial state part[((t·heads + h)·splits + s)·(HEAD_DIM + 2) + …] = (acc[0..HEAD_DIM), m, l),
//   unnormalised. A chunk past len or wholly before first stores m = −∞, l = 0, acc = 0.
//   attention_f32_f32_combine merges the partials.
// Layout: q (n, heads·HEAD_DIM) F32; kc, vc int8 and ks, vs F32 scales as in attention_i8_f32; ints: positions
//   at posOff, block table at tabOff; part (n, heads, splits, HEAD_DIM + 2) F32.
// Launch: global (heads, splits, n); no local size.
#ifndef HEAD_DIM
#define HEAD_DIM 64 // values per head
#endif
#ifndef CHUNK
#define CHUNK 256 // positions per split (the host uses the same value to count splits)
#endif
__kernel void kernel_attention_i8_f32_split(__global const float* q, __global const char* kc, __global const char* vc,
                                            __global const float* ks, __global const float* vs,
                                            __global float* part, __global const int* ints, int posOff, int tabOff,
                                            int heads, int kvHeads, int blockSize, float scale, int splits,
                                            float softcap, int window) {
    int h = get_global_id(0), s = get_global_id(1), t = get_global_id(2);
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
    int end = min(len, (s + 1) * CHUNK);
    for (int p = max(first, s * CHUNK); p < end; p++) {
        size_t head = (size_t) ints[tabOff + p / blockSize] * kvHeads + g;
        size_t base = (head * blockSize + p % blockSize) * HEAD_DIM;
        float dot = 0.0f;
        for (int i = 0; i < HEAD_DIM; i++) dot += qv[i] * (float) kc[base + i];
        float sc = dot * (scale * ks[head]);
        if (softcap > 0.0f) sc = softcap * tanh(sc / softcap);
        float mNew = fmax(m, sc);
        float corr = exp(m - mNew), wgt = exp(sc - mNew);
        l = l * corr + wgt;
        float wv = wgt * vs[head];
        for (int i = 0; i < HEAD_DIM; i++) acc[i] = acc[i] * corr + wv * (float) vc[base + i];
        m = mNew;
    }
    __global float* o = part + (((size_t) t * heads + h) * splits + s) * (HEAD_DIM + 2);
    for (int i = 0; i < HEAD_DIM; i++) o[i] = acc[i];
    o[HEAD_DIM] = m;
    o[HEAD_DIM + 1] = l;
}
