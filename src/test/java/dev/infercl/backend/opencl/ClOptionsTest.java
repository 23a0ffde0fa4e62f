package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.backend.KvType;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The OpenCL backend's options and kernel choices as plain logic, on described devices (no OpenCL platform needed):
 * the system properties {@link ClOptions#defaults} reads, and what {@link KernelChooser} picks for a CPU and a GPU.
 */
class ClOptionsTest {
    static final ClDevice CPU = device("CPU", 2), GPU = device("GPU", 132);

    static ClDevice device(String type, int computeUnits) {
        return new ClDevice(0, "test platform", "test " + type, type, computeUnits, 8L << 30, 2L << 30, "OpenCL 3.0", "OpenCL C 1.2",
                "1.0", 128, List.of());
    }

    /** -Dinfercl.opencl.lanes takes 0 or a power of two 2–256; anything else is refused with the property named. */
    @Test
    void lanesPropertyIsValidated() {
        try {
            for (String bad : new String[] {"3", "1", "512", "-2", "x"}) {
                System.setProperty("infercl.opencl.lanes", bad);
                var e = assertThrows(IllegalArgumentException.class, ClOptions::defaults, bad);
                assertTrue(e.getMessage().contains("infercl.opencl.lanes") && e.getMessage().contains(bad), e.getMessage());
            }
            for (String good : new String[] {"0", "2", "32", "256"}) {
                System.setProperty("infercl.opencl.lanes", good);
                assertEquals(Integer.parseInt(good), ClOptions.defaults().lanes());
            }
        } finally {
            System.clearProperty("infercl.opencl.lanes");
        }
        assertNull(ClOptions.defaults().lanes());
        assertThrows(IllegalArgumentException.class, () -> ClOptions.defaults().withLanes(12));
    }

    @Test
    void propertiesReachTheOptions() {
        String[][] props = {{"infercl.opencl.kvCache", "i8"}, {"infercl.opencl.attention", "split"}, {"infercl.opencl.fuse", "false"},
                {"infercl.opencl.binding", "jocl"}, {"infercl.opencl.maxAlloc", "65536"}, {"infercl.opencl.stageX", "true"},
                {"infercl.opencl.profile", "true"}, {"infercl.opencl.cacheDir", "/tmp/kernels-here"}};
        try {
            for (String[] p : props) System.setProperty(p[0], p[1]);
            var o = ClOptions.defaults();
            assertEquals(KvType.I8, o.kvType());
            assertEquals(KernelChooser.Attention.SPLIT, o.attention());
            assertEquals(65536, o.maxAllocBytes());
            assertTrue(!o.fuse() && !o.lwjgl() && o.stageX() && o.profile(), o.toString());
            assertEquals(java.nio.file.Path.of("/tmp/kernels-here"), o.programCache());
            System.setProperty("infercl.opencl.cacheDir", "off");
            assertNull(ClOptions.defaults().programCache());
        } finally {
            for (String[] p : props) System.clearProperty(p[0]);
        }
        var o = ClOptions.defaults();
        assertTrue(o.fuse() && o.lwjgl() && !o.stageX() && !o.profile() && o.kvType() == null && o.attention() == null, o.toString());
    }

    /** Every type a backend computes with has OpenCL kernels too (the CPU and OpenCL backends run the same files). */
    @Test
    void everyComputableTypeHasOpenClKernels() {
        for (dev.infercl.gguf.GgmlType t : dev.infercl.gguf.GgmlType.values()) {
            if (t.computable()) assertTrue(ElementwiseLauncher.SUPPORTED.contains(t), t + " is computable but has no OpenCL kernels");
        }
    }

    @Test
    void kernelChoiceOnACpuDevice() {
        var c = new KernelChooser(CPU, ClOptions.defaults());
        assertEquals(0, c.lanes);
        assertEquals(KvType.F16, c.kvType);
        assertEquals(KernelChooser.Matmul.GEMV, c.matmul(1));
        assertEquals(KernelChooser.Matmul.GEMM, c.matmul(7));
        assertEquals(KernelChooser.Attention.FUSED, c.attention(64, 8, 100));   // many work-items
        assertEquals(KernelChooser.Attention.FUSED, c.attention(1, 1, 100));    // a short context
        assertEquals(KernelChooser.Attention.SPLIT, c.attention(1, 1, 4096));   // one work-item, a long context
        assertTrue(!c.deviceDefines().containsKey("GEMV_LANES") && !c.deviceDefines().containsKey("STAGE_X"), c.deviceDefines().toString());
        var forced = new KernelChooser(CPU, ClOptions.defaults().withMatmul(KernelChooser.Matmul.GEMM).withAttention(KernelChooser.Attention.LANES)
                .withKvType(KvType.I8).withStageX(true));
        assertEquals(KernelChooser.Matmul.GEMM, forced.matmul(1));
        assertEquals(KernelChooser.Attention.LANES, forced.attention(1, 1, 10));
        assertEquals("1", forced.deviceDefines().get("KV_I8"));
        assertEquals("1", forced.deviceDefines().get("STAGE_X"));
    }

    @Test
    void kernelChoiceOnAGpu() {
        var c = new KernelChooser(GPU, ClOptions.defaults());
        assertEquals(32, c.lanes);
        assertEquals("32", c.deviceDefines().get("GEMV_LANES"));
        assertEquals(KernelChooser.Attention.LANES, c.attention(64, 8, 100));
        assertTrue(c.combinePerValue());
        // the lanes attention's chunks: whole tiles, at least one, and at least two work-groups per compute unit where the
        // context has that many tiles (the chunk aims at four and is rounded up to whole tiles)
        for (int[] s : new int[][] {{1, 4, 2048}, {1, 1, 5}, {64, 8, 100}, {3, 2, 4097}}) {
            int chunk = c.laneChunk(s[0], s[1], s[2]), splits = (s[2] + chunk - 1) / chunk;
            assertTrue(chunk >= 32 && chunk % 32 == 0, "chunk " + chunk);
            assertTrue((long) s[0] * s[1] * splits >= Math.min(2L * GPU.computeUnits(), (long) s[0] * s[1] * ((s[2] + 31) / 32)),
                    "work-groups for " + Arrays.toString(s) + ": " + s[0] * s[1] * splits);
        }
        assertEquals(0, new KernelChooser(GPU, ClOptions.defaults().withLanes(0)).lanes);
    }
}
