// quantize_f32_i8: W8A8 activation quantization, per token, on the device (SmoothQuant division included).
//   x'[j] = x[t][j] / smooth[j] (hasSmooth == 0: x[t][j]);  a[t] = max_j |x'[j]| / 127;
//   xq[t][j] = clamp(round(x'[j] / a[t]), -127, 127) (round: half away from zero), all zero when a[t] == 0.
// Layout: x (n, in) F32 at t*in + j; smooth (in) F32 (not read when hasSmooth == 0); xq (n, in) int8 at
//   t*in + j; tokenScale (n) F32.
// Launch: global (LOCAL * n), local (LOCAL): one work-group per token row; a local max-reduction, then each
//   item quantizes every LOCAL-th column. LOCAL must be a power of two. xq and tokenScale are scratch buffers the
//   backend allocates once and grows on demand.
#ifndef LOCAL
#define LOCAL 64 // work-items per token row (power of two; the host passes 64 on CPU devices, 256 on GPUs)
#endif
#include "common.h"

__kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1)))
void kernel_quantize_f32_i8(__global const float* x, __global const float* smooth, int hasSmooth,
                            __global char* xq, __global float* tokenScale, int in) {
    __local float red[LOCAL];
    int t = get_group_id(0), lid = get_local_id(0);
    const __global float* xr = x + (size_t) t * in;
    float m = 0.0f;
    for (int j = lid; j < in; j += LOCAL) m = fmax(m, fabs(hasSmooth ? xr[j] / smooth[j] : xr[j]));
    float a = local_max(m, red, LOCAL) / 127.0f;
    if (lid == 0) tokenScale[t] = a;
    __global char* qr = xq + (size_t) t * in;
    for (int j = lid; j < in; j += LOCAL) {
        float v = hasSmooth ? xr[j] / smooth[j] : xr[j];
        qr[j] = a == 0.0f ? (char) 0 : convert_char(clamp(round(v / a), -127.0f, 127.0f));
    }
}
