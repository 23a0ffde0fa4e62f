// kvwrite_f16_f32.h: the cache element the kvwrite_f16_f32* kernels store: FP16 by default (vstore_half_rte, round to
//   nearest even; no cl_khr_fp16 needed), F32 with KV_F32 (exact). attention_tiles.h reads the same elements (and
//   the INT8 cache, which kvwrite_i8_f32 writes).
#ifndef KVWRITE_F16_F32_H
#define KVWRITE_F16_F32_H
#ifdef KV_F32
#define KV_T float
#define KV_STORE(v, i, p) ((p)[i] = (v))
#else
#define KV_T half
#define KV_STORE(v, i, p) vstore_half_rte(v, i, p)
#endif
#endif
