// bwprobe_f32_f32: the streaming-read probe behind Backend.probeReadBandwidth (a 256 MiB buffer, capped by the
//   device's largest allocation, read once to warm up and then five times for each VEC the host tries, the best
//   pass counted: 4-float loads leave a CPU thread bound by issuing loads, 16-float ones reach its memory): every work-item
//   sums its share of the VEC-wide vectors of the buffer and writes the sum, so the loads cannot be dropped:
//   out[gid] = Σ lanes of Σ_{v in share(gid)} in[v]. The share is v = gid, gid + G, gid + 2G … (G = global size:
//   neighbouring items read neighbouring vectors, coalesced on a GPU), or with CONTIGUOUS one contiguous run of
//   ⌈vectors / G⌉ vectors (one sequential stream per CPU thread, what a CPU's prefetchers want).
// Layout: in (vectors, VEC) F32, vector v at v*VEC; out (G) F32.
// Launch: global G (the host picks a multiple of the local size that fills every compute unit), local chosen
//   by the host.
#ifndef VEC
#define VEC 4 // floats per load (4, 8 or 16)
#endif
// CONTIGUOUS (unset): define for contiguous runs per work-item (CPU devices)
#define VTYPE_(n) float##n
#define VTYPE(n) VTYPE_(n)
__kernel void kernel_bwprobe_f32_f32(__global const VTYPE(VEC)* in, int vectors, __global float* out) {
    int gid = get_global_id(0), g = get_global_size(0);
    VTYPE(VEC) acc = (VTYPE(VEC)) (0.0f);
#ifdef CONTIGUOUS
    int per = (vectors + g - 1) / g, end = min(vectors, (gid + 1) * per);
    for (int v = gid * per; v < end; v++) acc += in[v];
#else
    for (int v = gid; v < vectors; v += g) acc += in[v];
#endif
    float s = 0.0f;
    const float* lanes = (const float*) &acc;
    for (int i = 0; i < VEC; i++) s += lanes[i];
    out[gid] = s;
}
