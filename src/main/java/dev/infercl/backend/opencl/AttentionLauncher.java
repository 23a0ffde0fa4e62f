package dev.infercl.backend.opencl;

import static org.jocl.CL.CL_MEM_COPY_HOST_PTR;
import static org.jocl.CL.CL_MEM_READ_ONLY;
import static org.jocl.CL.CL_MEM_READ_WRITE;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Batch;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.KvType;
import dev.infercl.backend.RelativeBias;
import dev.infercl.backend.RopeSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jocl.Pointer;
import org.jocl.cl_mem;

/**
 * Launches of attention over the paged KV cache: rotary positions, the cache write, then one attention kernel —
 * whichever cache type the backend keeps (F32, FP16 or INT8: a build define of the same kernels), in the shape the
 * chooser picks (fused, split over the context, or GPU work-groups), the split shapes merged by the combine kernel.
 */
final class AttentionLauncher {
    private final ClRuntime rt;
    private final KernelChooser choose;
    private final Kernels kernels;
    private final IntRing ints;
    private final Map<RopeKey, cl_mem> ropeTables = new HashMap<>(); // (ropeDims/2) F32 angles per unit position per RopeKey
    private cl_mem partials;                                         // split shapes: (n, heads, splits, headDim + 2) F32
    private final Map<BiasKey, cl_mem> biasByDistance = new HashMap<>(); // T5: (2·maxDistance + 1, heads) F32 per bias table

    /** A relative-position bias table's identity: its buffer and how buckets are formed from distances. */
    private record BiasKey(cl_mem table, int buckets, boolean bidirectional, int maxDistance) {}

    /**
     * A rope table's identity: what {@link RopeSpec#theta} reads. A record compares an array component by reference,
     * so a model's frequency factors (one array per loaded model) map to one uploaded table, never one per call; the
     * scaling compares by value, less its magnitude (a kernel argument, not part of the table).
     */
    private record RopeKey(int ropeDims, float base, float[] factors, RopeSpec.Scaling scaling) {}

    AttentionLauncher(ClRuntime rt, KernelChooser choose, Kernels kernels, IntRing ints) {
        this.rt = rt;
        this.choose = choose;
        this.kernels = kernels;
        this.ints = ints;
    }

    /** A cache whose buffers {@code release} frees when it closes. */
    ClKvCache createCache(KvLayout layout, java.util.function.Consumer<cl_mem> release) {
        KvType type = choose.kvType;
        if (layout.blockSize() % 16 != 0) {
            // the attention kernels score aligned tiles of 16 positions, which must not straddle two blocks
            throw new IllegalArgumentException("the OpenCL " + type + " KV cache needs a block size that is a multiple of 16, not " + layout.blockSize());
        }
        long bytes = type.bytesPerValue() * layout.valuesPerLayer();
        cl_mem[] k = new cl_mem[layout.layers()], v = new cl_mem[layout.layers()];
        for (int l = 0; l < layout.layers(); l++) {
            k[l] = rt.create("KV cache layer " + l + " keys", CL_MEM_READ_WRITE, bytes, null);
            v[l] = rt.create("KV cache layer " + l + " values", CL_MEM_READ_WRITE, bytes, null);
        }
        if (type != KvType.I8) return new ClKvCache(layout, k, v, null, null, release);
        cl_mem[] ks = new cl_mem[layout.layers()], vs = new cl_mem[layout.layers()];
        long scaleBytes = 4L * layout.numBlocks() * layout.kvHeads();
        for (int l = 0; l < layout.layers(); l++) {
            ks[l] = rt.create("KV cache layer " + l + " key scales", CL_MEM_READ_WRITE, scaleBytes, null);
            vs[l] = rt.create("KV cache layer " + l + " value scales", CL_MEM_READ_WRITE, scaleBytes, null);
            rt.fill(ks[l], 0f, scaleBytes);
            rt.fill(vs[l], 0f, scaleBytes);
        }
        return new ClKvCache(layout, k, v, ks, vs, release);
    }

    /**
     * k and v null: nothing is written (cross-attention over a cache filled before); q and o null: only the write.
     * A spec that is not causal or has a relative-position bias (T5) builds the kernels with ENC_DEC (and REL_BIAS).
     */
    void attention(ClTensor o, ClTensor q, ClTensor k, ClTensor v, ClKvCache c, int layer, Batch batch, AttentionSpec spec) {
        KvLayout lay = c.layout;
        int hd = lay.headDim(), kvHeads = lay.kvHeads(), n = batch.size();
        int heads = q != null ? q.cols / hd : kvHeads;
        boolean write = k != null, attend = q != null;
        if ((write && (k.cols != kvHeads * hd || v == null || v.cols != k.cols || k.rows < n || v.rows < n))
                || (attend && (o == null || o.cols != q.cols || q.cols % hd != 0 || heads % kvHeads != 0 || q.rows < n)) || (!write && !attend)) {
            throw new IllegalArgumentException("attention shapes: q " + shape(q) + ", k " + shape(k) + ", v " + shape(v)
                    + " for " + n + " rows of " + kvHeads + " KV heads of " + hd);
        }
        RopeSpec rope = spec.rope();
        if (rope != null && rope.headDim() != hd) throw new IllegalArgumentException("rope head size " + rope.headDim() + " for a cache of head size " + hd);
        if (rope != null && (!write || !attend)) throw new IllegalArgumentException("rotary positions need both q and k");
        boolean encDec = !spec.causal() || spec.bias() != null;
        if (encDec && c.ks != null) throw new IllegalArgumentException("unmasked or relative-bias attention over an INT8 KV cache is not supported");
        int[] positions = batch.positions();
        int longest = 0;
        for (int p : positions) longest = Math.max(longest, spec.visibleEnd(p));
        boolean int8 = c.ks != null;
        int[] work = int8 ? kvWriteWork(batch, lay.blockSize()) : new int[0];
        int[] offsets = ints.uploadAll(positions, batch.rowTables(), work);
        int posOff = offsets[0], tabOff = offsets[1];

        // rotary positions and the cache write: one launch with an FP16 or F32 cache (fusion on), else rope then write
        if (rope != null && (int8 || !choose.fuse)) rope(q, k, n, posOff, rope);
        if (!write) {
            // cross-attention: the cache was filled by an earlier call
        } else if (int8) {
            int items = (work.length - n) / 3;
            rt.launch(kernels.get("kvwrite_i8_f32", Map.of("KV_LOCAL", String.valueOf(KernelChooser.KV_LOCAL))), "kv-cache write (int8)")
                    .mem(k.act()).mem(v.act()).mem(c.k[layer]).mem(c.v[layer]).mem(c.ks[layer]).mem(c.vs[layer]).mem(ints.buffer())
                    .i(posOff).i(offsets[2]).i(kvHeads).i(lay.blockSize()).i(lay.numBlocks()).i(hd)
                    .run(new long[] {KernelChooser.KV_LOCAL, kvHeads, items}, new long[] {KernelChooser.KV_LOCAL, 1, 1});
        } else if (rope != null && choose.fuse) {
            rt.launch(kernels.get("kvwrite_f16_f32_rope"), "rope (q and k) + kv-cache write").mem(q.act()).mem(k.act()).mem(v.act())
                    .mem(c.k[layer]).mem(c.v[layer]).mem(ints.buffer()).i(posOff).i(tabOff).mem(ropeTable(rope))
                    .i(heads).i(kvHeads).i(lay.blockSize()).i(lay.numBlocks()).i(hd).i(rope.ropeDims()).i(rope.neox() ? 1 : 0)
                    .f((float) rope.magnitude())
                    .run(new long[] {hd / 2, n}, null);
        } else {
            rt.launch(kernels.get("kvwrite_f16_f32"), "kv-cache write").mem(k.act()).mem(v.act()).mem(c.k[layer]).mem(c.v[layer])
                    .mem(ints.buffer()).i(posOff).i(tabOff).i(kvHeads).i(lay.blockSize()).i(lay.numBlocks()).i(hd)
                    .run(new long[] {hd, kvHeads, n}, null);
        }

        if (!attend) return;
        // attention: the cache's scales exist only for INT8; the other types pass their values in their place (unread)
        KernelChooser.Attention kind = choose.attention(n, kvHeads, longest);
        var defines = choose.attentionDefines(kind, hd, heads / kvHeads, lay.blockSize());
        cl_mem relBias = ints.buffer();   // unread without REL_BIAS
        if (encDec) {
            defines.put("ENC_DEC", "1");
            if (spec.bias() != null) {
                defines.put("REL_BIAS", String.valueOf(spec.bias().maxDistance()));
                relBias = biasByDistance(spec.bias(), heads);
            }
        }
        cl_mem ks = int8 ? c.ks[layer] : c.k[layer], vs = int8 ? c.vs[layer] : c.v[layer];
        String label = "attention" + (int8 ? " (int8 cache)" : "");
        switch (kind) {
            case FUSED -> rt.launch(kernels.get("attention_kv_f32", defines), label)
                    .mem(q.act()).mem(c.k[layer]).mem(c.v[layer]).mem(ks).mem(vs).mem(o.act()).mem(ints.buffer()).i(posOff).i(tabOff)
                    .i(heads).i(kvHeads).i(lay.numBlocks()).f(spec.scale()).f(spec.softcap()).i(spec.window())
                    .encDec(encDec, relBias, spec.keys())
                    .run(new long[] {kvHeads, n}, n == 1 ? new long[] {1, 1} : null);
            case SPLIT -> {
                int splits = (longest + KernelChooser.SPLIT_CHUNK - 1) / KernelChooser.SPLIT_CHUNK;
                rt.launch(kernels.get("attention_kv_f32_split", defines), label + " (split)")
                        .mem(q.act()).mem(c.k[layer]).mem(c.v[layer]).mem(ks).mem(vs).mem(partials(n, heads, splits, hd)).mem(ints.buffer())
                        .i(posOff).i(tabOff).i(heads).i(kvHeads).i(lay.numBlocks()).f(spec.scale()).i(splits).f(spec.softcap()).i(spec.window())
                        .encDec(encDec, relBias, spec.keys())
                        .run(new long[] {kvHeads, splits, n}, new long[] {1, 1, 1});
                combine(o, n, heads, hd, splits);
            }
            case LANES -> {
                int lanes = choose.attentionLanes(), chunk = choose.laneChunk(n, kvHeads, longest), splits = (longest + chunk - 1) / chunk;
                rt.launch(kernels.get("attention_kv_f32_lanes", defines), label + " (lanes)")
                        .mem(q.act()).mem(c.k[layer]).mem(c.v[layer]).mem(ks).mem(vs).mem(partials(n, heads, splits, hd)).mem(ints.buffer())
                        .i(posOff).i(tabOff).i(heads).i(kvHeads).i(lay.numBlocks()).f(spec.scale()).i(splits).i(chunk).f(spec.softcap())
                        .i(spec.window()).encDec(encDec, relBias, spec.keys())
                        .run(new long[] {(long) lanes * kvHeads, splits, n}, new long[] {lanes, 1, 1});
                combine(o, n, heads, hd, splits);
            }
        }
    }

    private static String shape(ClTensor t) {
        return t == null ? "none" : t.rows + "×" + t.cols;
    }

    /**
     * The bias table (buckets, heads) expanded per distance, (2·maxDistance + 1, heads): row d + maxDistance is the
     * bucket row of key − query = d (clamped distances share the last buckets, so the clamp is exact). Built once per
     * table on the host, from llama.cpp's bucket function ({@link RelativeBias#bucket}), and kept.
     */
    private cl_mem biasByDistance(RelativeBias b, int heads) {
        ClTensor t = (ClTensor) b.table();
        if (t.cols != heads || t.rows != b.buckets()) {
            throw new IllegalArgumentException("relative-position bias table " + t.name + " is " + t.rows + "×" + t.cols + ", expected " + b.buckets() + "×" + heads);
        }
        return biasByDistance.computeIfAbsent(new BiasKey(t.act(), b.buckets(), b.bidirectional(), b.maxDistance()), key -> {
            float[] table = new float[b.buckets() * heads];
            rt.read(key.table(), 0, 4L * table.length, Pointer.to(table));
            int md = b.maxDistance();
            float[] f = new float[(2 * md + 1) * heads];
            for (int d = -md; d <= md; d++) {
                int bucket = b.bucket(0, d);
                System.arraycopy(table, bucket * heads, f, (d + md) * heads, heads);
            }
            return rt.create("relative-position bias by distance", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * f.length, Pointer.to(f));
        });
    }

    /** Rotates the first rows of q and k in place by {@code positions} (rope_f32_f32). */
    void rope(ClTensor q, ClTensor k, int[] positions, RopeSpec rope) {
        if (q.cols % rope.headDim() != 0 || k.cols % rope.headDim() != 0 || q.rows < positions.length || k.rows < positions.length) {
            throw new IllegalArgumentException("rope: " + q.name + " and " + k.name + " are not whole heads of " + rope.headDim() + " for " + positions.length + " rows");
        }
        rope(q, k, positions.length, ints.upload(positions), rope);
    }

    private void rope(ClTensor q, ClTensor k, int n, int posOff, RopeSpec rope) {
        int hd = rope.headDim();
        rt.launch(kernels.get("rope_f32_f32"), "rope (q and k)").mem(q.act()).mem(k.act()).mem(ints.buffer()).i(posOff).mem(ropeTable(rope))
                .i(q.cols / hd).i(k.cols / hd).i(hd).i(rope.ropeDims()).i(rope.neox() ? 1 : 0).f((float) rope.magnitude())
                .run(new long[] {rope.ropeDims() / 2, n}, null);
    }

    /** attention_f32_f32_combine: merges the split shapes' partials into out. */
    private void combine(ClTensor o, int n, int heads, int hd, int splits) {
        boolean perValue = choose.combinePerValue();
        rt.launch(kernels.get("attention_f32_f32_combine", perValue ? Map.of("PER_VALUE", "1") : Map.of()), "attention (combine)")
                .mem(partials).mem(o.act()).i(heads).i(hd).i(splits)
                .run(perValue ? new long[] {hd, heads, n} : new long[] {heads, n}, null);
    }

    /** The split shapes' partials, grown on demand and kept. */
    private cl_mem partials(int n, int heads, int splits, int headDim) {
        partials = rt.grow(partials, "split-attention partials", 4L * n * heads * splits * (headDim + 2));
        return partials;
    }

    private cl_mem ropeTable(RopeSpec spec) {
        return ropeTables.computeIfAbsent(new RopeKey(spec.ropeDims(), spec.base(), spec.freqFactors(), spec.scaling().withMagnitude(1)), key -> {
            float[] f = new float[spec.ropeDims() / 2];
            for (int i = 0; i < f.length; i++) f[i] = (float) spec.theta(i); // factors and scaling applied, in double
            return rt.create("rope frequencies", CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4L * f.length, Pointer.to(f));
        });
    }

    /**
     * kvwrite_i8_f32's work list: the physical blocks the batch's rows land in, in order of first appearance, as
     * (block, list, count) triples, followed by the row indices grouped by block in batch order; {@code list} is where
     * a block's rows start, relative to the start of this array (the kernel adds the upload offset). Rows of one block
     * (one sequence's, since sequences share only full blocks, which are never written) are ordered by position, so a
     * block is written exactly as token-by-token decode would write it, whatever the order of the batch's rows.
     */
    static int[] kvWriteWork(Batch batch, int blockSize) {
        int[] positions = batch.positions();
        int n = positions.length;
        var order = new LinkedHashMap<Integer, List<Integer>>();
        for (int t = 0; t < n; t++) order.computeIfAbsent(batch.table(t).block(positions[t] / blockSize), b -> new ArrayList<>()).add(t);
        for (var rows : order.values()) rows.sort(java.util.Comparator.comparingInt(t -> positions[t]));
        int items = order.size();
        int[] work = new int[3 * items + n];
        int i = 0, next = 3 * items;
        for (var e : order.entrySet()) {
            work[3 * i] = e.getKey();
            work[3 * i + 1] = next;
            work[3 * i + 2] = e.getValue().size();
            for (int t : e.getValue()) work[next++] = t;
            i++;
        }
        return work;
    }

    /**
     * The INT8 cache of one layer read back in the reference layout: values (numBlocks, kvHeads, blockSize, headDim)
     * and scales (numBlocks, kvHeads). On the device the values are KV-head-major with keys transposed within each
     * block (see attention_tiles.h); this reorders them.
     */
    void readKvInt8(ClKvCache c, int layer, byte[] k, byte[] v, float[] ks, float[] vs) {
        if (c.ks == null) throw new IllegalStateException("not an INT8 KV cache");
        KvLayout l = c.layout;
        byte[] kd = new byte[k.length], vd = new byte[v.length];
        rt.read(c.k[layer], 0, kd.length, Pointer.to(kd));
        rt.read(c.v[layer], 0, vd.length, Pointer.to(vd));
        rt.read(c.ks[layer], 0, 4L * ks.length, Pointer.to(ks));
        rt.read(c.vs[layer], 0, 4L * vs.length, Pointer.to(vs));
        int bs = l.blockSize(), hd = l.headDim();
        for (int b = 0; b < l.numBlocks(); b++) {
            for (int g = 0; g < l.kvHeads(); g++) {
                int ref = (b * l.kvHeads() + g) * bs * hd, dev = (g * l.numBlocks() + b) * bs * hd;
                for (int s = 0; s < bs; s++) {
                    for (int i = 0; i < hd; i++) {
                        k[ref + s * hd + i] = kd[dev + i * bs + s];
                        v[ref + s * hd + i] = vd[dev + s * hd + i];
                    }
                }
            }
        }
    }
}
