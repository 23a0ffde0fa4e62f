package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.BatchedAttentionScenario;
import dev.infercl.backend.KvType;
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
}
