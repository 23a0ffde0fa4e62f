package dev.infercl.model;

import dev.infercl.backend.KvType;
import dev.infercl.backend.opencl.ClOptions;
import dev.infercl.backend.opencl.ClTestSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ../shared/t5 on OpenCL with an F32 KV cache: the same oracle as {@link T5OracleTest} (greedy ids exactly, top-20 and
 * the 8 full rows within 5e-3 × top-1), with the device's own kernel shapes and with the GPU-shaped ones (32 lanes:
 * one-token products and attention) forced on the test device.
 */
class ClT5OracleTest {
    @ParameterizedTest
    @ValueSource(strings = {"default", "lanes"})
    void matchesLlamaCpp(String shapes) throws Exception {
        ClTestSupport.requireOpenCl();
        var opts = ClOptions.defaults().withKvType(KvType.F32);
        double[] worst = T5OracleTest.check(() -> shapes.equals("lanes") ? ClTestSupport.openWithLanes(32, opts) : ClTestSupport.open(opts), null);
        System.out.printf("t5 oracle on OpenCL (%s shapes, F32 cache): worst top-20 |logit − llama.cpp| / top-1 = %.3e, full rows 0..7 = %.3e%n",
                shapes, worst[0], worst[1]);
    }
}
