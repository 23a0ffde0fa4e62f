package dev.infercl.backend.cpu;

import dev.infercl.backend.BatchedAttentionScenario;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Attention over several sequences' block tables in one call on both CPU backends, against the scalar reference. */
class CpuBatchedAttentionTest {
    @ParameterizedTest(name = "headDim={0} heads={1} kvHeads={2} softcap={3} window={4}")
    @CsvSource({"16, 4, 2, 0, 0", "64, 8, 8, 0, 0", "32, 6, 2, 30, 0", "16, 4, 1, 0, 9"})
    void severalSequencesInOneCall(int hd, int heads, int kvHeads, float softcap, int window) {
        try (var fast = new CpuBackend(CpuBackend.Mode.FAST, 2); var ref = new CpuBackend(CpuBackend.Mode.REFERENCE, 1)) {
            BatchedAttentionScenario.run(fast, 7, hd, heads, kvHeads, softcap, window, 16, 5e-4);
            BatchedAttentionScenario.run(ref, 7, hd, heads, kvHeads, softcap, window, 16, 1e-10);
        }
    }
}
