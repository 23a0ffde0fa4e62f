package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Batch;
import dev.infercl.backend.BatchedAttentionScenario;
import dev.infercl.backend.BlockTable;
import dev.infercl.backend.KvLayout;
import dev.infercl.backend.KvType;
import dev.infercl.backend.RopeSpec;
import dev.infercl.backend.Tensor;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Attention over several sequences' block tables in one launch per layer, for every cache type (a build define of the
 * same kernels) and every kernel shape (fused, split over the context, GPU lanes), against the scalar reference.
 */
class ClBatchedAttentionTest {
    @Test
    void severalSequencesInOneLaunchEveryCacheTypeAndShape() {
        ClTestSupport.requireOpenCl();
        for (KvType kv : KvType.values()) {
            double limit = kv == KvType.I8 ? 5e-3 : 5e-4;   // INT8 against exact keys and values, as ClKvInt8Test
            for (var shape : KernelChooser.Attention.values()) {
                ClOptions o = ClOptions.defaults().withKvType(kv).withAttention(shape);
                try (ClBackend b = shape == KernelChooser.Attention.LANES ? ClTestSupport.openWithLanes(8, o) : ClTestSupport.open(o)) {
                    // one head shape per (cache type, kernel shape), as a Latin square: every cache type meets every head
                    // shape, and so does every kernel shape (each head shape is a kernel build of its own)
                    switch ((kv.ordinal() + shape.ordinal()) % 3) {
                        case 0 -> BatchedAttentionScenario.run(b, 3, 16, 4, 2, 0f, 0, 16, limit);
                        case 1 -> BatchedAttentionScenario.run(b, 5, 64, 8, 2, 30f, 0, 16, limit);
                        default -> BatchedAttentionScenario.run(b, 9, 32, 6, 3, 0f, 11, 16, limit);
                    }
                    assertTrue(b.kernelsUsed().stream().anyMatch(n -> n.startsWith("attention_kv_f32")), b.kernelsUsed().toString());
                }
            }
        }
    }

    /** Decode rows of two sequences and a prefill chunk of a third: one cache write and one attention launch. */
    @Test
    void threeSequencesAreOneLaunchOfEachKernel() {
        for (var shape : KernelChooser.Attention.values()) {
            ClOptions o = ClOptions.defaults().withProfile(true).withAttention(shape);
            try (ClBackend b = shape == KernelChooser.Attention.LANES ? ClTestSupport.openWithLanes(8, o) : ClTestSupport.open(o)) {
                int hd = 16, heads = 4, kvHeads = 2;
                var layout = new KvLayout(1, kvHeads, hd, 16, 16);
                try (var cache = b.createKvCache(layout)) {
                    BlockTable[] tables = new BlockTable[3];
                    for (int i = 0; i < 3; i++) tables[i] = new BlockTable(cache.pool(), 16);
                    tables[0].reserve(40);
                    tables[0].setLength(39);
                    tables[1].reserve(6);
                    tables[1].setLength(5);
                    tables[2].reserve(9);
                    var batch = new Batch(new int[] {39, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8}, new int[] {0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2}, tables);
                    int n = batch.size();
                    Tensor q = b.allocate("q", n, heads * hd), k = b.allocate("k", n, kvHeads * hd), v = b.allocate("v", n, kvHeads * hd);
                    Tensor out = b.allocate("out", n, heads * hd);
                    b.write(q, new float[n * heads * hd]);
                    b.write(k, new float[n * kvHeads * hd]);
                    b.write(v, new float[n * kvHeads * hd]);
                    b.takeProfile();
                    var spec = AttentionSpec.causal(hd).withRope(new RopeSpec(hd, hd, 10000f, false));
                    b.attention(out, q, k, v, cache, 0, batch, spec);
                    Map<String, long[]> launches = b.takeProfile();
                    long attention = launches.entrySet().stream().filter(e -> e.getKey().startsWith("attention") && !e.getKey().contains("combine"))
                            .mapToLong(e -> e.getValue()[1]).sum();
                    long writes = launches.entrySet().stream().filter(e -> e.getKey().contains("kv-cache write")).mapToLong(e -> e.getValue()[1]).sum();
                    assertTrue(attention == 1 && writes == 1, shape + ": " + launches.keySet() + " " + launches.values().stream().map(a -> a[1]).toList());
                }
            }
        }
    }
}
