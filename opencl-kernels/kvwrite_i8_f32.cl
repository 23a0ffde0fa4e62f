// kvwrite_i8_f32: stores rows of k and v (F32) into one layer of the paged INT8 KV cache, symmetric, one F32
//   scale per (block, KV head) for K and one for V (value = q · scale, q in [−127, 127]).
//   Work item j (one per physical block the batch touches) = (block, list, count) at ints[workOff + 3j …]:
//   the batch rows t = ints[workOff + list + c], c = 0..count−1, that land in that block, in batch order.
//   One work-group per (KV head g, work item j) walks its rows in order, so no two groups share a block and head:
//     filled = slot of the first row (slots 0..filled−1 hold earlier positions); filled = 0 means a fresh block,
//       its scale restarts at 0 (scales only grow, except here);
//     for each row t at slot o = positions[posOff + t] % blockSize:
//       a = max_i |k[t][g·headDim + i]|; when a / 127 > scale: slots 0..filled−1 are requantized,
//         q ← clamp(rint(q · (scale · (1 / (a / 127)))), ±127), and scale = a / 127;
//       K[slot o] = clamp(rint(k · (1 / scale)), ±127) (0 while scale is 0); filled = max(filled, o + 1);
//     the same for v with its own scale; the scales are stored at the end.
//   (A host model that repeats these float operations in this order reproduces the cache; ClKvInt8Test has one.)
//   So a block's contents do not depend on how tokens were batched. Half the bytes of FP16 (plus 8 bytes per block
//   and KV head); selected by KvType.I8 (--kv-type i8, -Dinfercl.opencl.kvCache=i8), read by the attention kernels
//   built with KV_I8. Measured: the kernels equal the reference over the host model's dequantized values (NMSE
//   ~1e-12, also in lockstep on every attention call of stories260K) and stay within NMSE 4e-3 of it over the exact
//   keys and values on random data with growing magnitudes; on stories260K (8-wide heads, so one large channel sets
//   the scale of 128 values) teacher-forced logits move by up to ~1.0 (top-1 agreement 64/64) and greedy text follows
//   the reference for 57 of 200 tokens. The CPU backend keeps F32 (it is the oracle). Not done: an integer dot
//   product of int8 keys with quantized queries, FP16 scales.
// Layout: k, v (n, kvHeads·headDim) F32; the cache KV-head-major as the FP16 one (attention_tiles.h): kc (kvHeads,
//   numBlocks, headDim, blockSize) int8 at ((g·numBlocks + block)·headDim + i)·blockSize + slot (keys transposed
//   within their block), vc (kvHeads, numBlocks, blockSize, headDim) at ((g·numBlocks + block)·blockSize + slot)·headDim
//   + i; ks, vs (numBlocks, kvHeads) F32 at block·kvHeads + g; ints: positions at posOff, work items at workOff (row
//   lists after them).
// Launch: global (KV_LOCAL, kvHeads, items), local (KV_LOCAL, 1, 1). Element (slot, i) of a block is only ever
//   touched by work-item i % KV_LOCAL, so the requantization needs no barrier against the writes.
#ifndef KV_LOCAL
#define KV_LOCAL 32 // work-items per (block, head) group; a power of two (tree reduction of the absolute maximum)
#endif
__kernel __attribute__((reqd_work_group_size(KV_LOCAL, 1, 1)))
void kernel_kvwrite_i8_f32(__global const float* k, __global const float* v, __global char* kc, __global char* vc,
                           __global float* ks, __global float* vs, __global const int* ints, int posOff, int workOff,
                           int kvHeads, int blockSize, int numBlocks, int headDim) {
    __local float redK[KV_LOCAL], redV[KV_LOCAL];
    int lid = get_local_id(0), g = get_group_id(1), j = get_group_id(2);
    int block = ints[workOff + 3 * j], list = workOff + ints[workOff + 3 * j + 1], count = ints[workOff + 3 * j + 2];
    size_t head = (size_t) block * kvHeads + g;
    __global char* kb = kc + ((size_t) g * numBlocks + block) * blockSize * headDim;  // element (slot, i) at i·blockSize + slot
    __global char* vb = vc + ((size_t) g * numBlocks + block) * blockSize * headDim;  // element (slot, i) at slot·headDim + i
    int filled = ints[posOff + ints[list]] % blockSize;
    float sk = filled == 0 ? 0.0f : ks[head], sv = filled == 0 ? 0.0f : vs[head];
    barrier(CLK_GLOBAL_MEM_FENCE); // every work-item has read the scales before work-item 0 stores them at the end
    for (int c = 0; c < count; c++) {
        int t = ints[list + c];
        int o = ints[posOff + t] % blockSize;
        const __global float* kr = k + ((size_t) t * kvHeads + g) * headDim;
        const __global float* vr = v + ((size_t) t * kvHeads + g) * headDim;
        float ak = 0.0f, av = 0.0f;
        for (int i = lid; i < headDim; i += KV_LOCAL) {
            ak = fmax(ak, fabs(kr[i]));
            av = fmax(av, fabs(vr[i]));
        }
        redK[lid] = ak;
        redV[lid] = av;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int s = KV_LOCAL / 2; s > 0; s >>= 1) {
            if (lid < s) {
                redK[lid] = fmax(redK[lid], redK[lid + s]);
                redV[lid] = fmax(redV[lid], redV[lid + s]);
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        float needK = redK[0] / 127.0f, needV = redV[0] / 127.0f;
        barrier(CLK_LOCAL_MEM_FENCE); // everyone has read the maxima before the next row overwrites them
        if (needK > sk) { // uniform across the group: the block's earlier entries move to the larger scale
            float ratio = sk * (1.0f / needK);
            for (int slot = 0; slot < filled; slot++) {
                for (int i = lid; i < headDim; i += KV_LOCAL) {
                    size_t e = (size_t) i * blockSize + slot;
                    kb[e] = (char) clamp(rint((float) kb[e] * ratio), -127.0f, 127.0f);
                }
            }
            sk = needK;
        }
        if (needV > sv) {
            float ratio = sv * (1.0f / needV);
            for (int slot = 0; slot < filled; slot++) {
                for (int i = lid; i < headDim; i += KV_LOCAL) {
                    size_t e = (size_t) slot * headDim + i;
                    vb[e] = (char) clamp(rint((float) vb[e] * ratio), -127.0f, 127.0f);
                }
            }
            sv = needV;
        }
        float ik = sk > 0.0f ? 1.0f / sk : 0.0f, iv = sv > 0.0f ? 1.0f / sv : 0.0f;
        for (int i = lid; i < headDim; i += KV_LOCAL) {
            kb[(size_t) i * blockSize + o] = (char) clamp(rint(kr[i] * ik), -127.0f, 127.0f);
            vb[(size_t) o * headDim + i] = (char) clamp(rint(vr[i] * iv), -127.0f, 127.0f);
        }
        filled = max(filled, o + 1);
    }
    if (lid == 0) {
        ks[head] = sk;
        vs[head] = sv;
    }
}
