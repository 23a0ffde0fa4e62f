package dev.infercl.model;


import java.util.Locale;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * ../shared/kquant: five files as llama-quantize writes them in its mixed modes (Q4_K_M, Q5_K_M, Q3_K_M, Q2_K, Q5_0;
 * each with Q6_K tensors, the type changing from layer to layer) with llama.cpp's outputs, in QuantOracleTest's
 * format. Prompt ids and the 48 greedy ids must equal llama.cpp's; each top-20 logit of every teacher-forced
 * position must be within 2.5e-2 × that row's top-1 logit (kquant/README.md: about twice the largest difference
 * between llama.cpp, which rounds the input of every K-quant product to 8 bits, and exact arithmetic on the
 * dequantized weights), with an F32 KV cache (the CPU backends always keep F32).
 */
class KQuantOracleTest {

    @ParameterizedTest(name = "{0} prompt {1} on {3}")
    @CsvSource({
            "llama2k-q4_k_m, 1, 2.5e-2, CPU", "llama2k-q4_k_m, 2, 2.5e-2, CPU",
            "llama2k-q5_k_m, 1, 2.5e-2, CPU", "llama2k-q5_k_m, 2, 2.5e-2, CPU",
            "llama2k-q3_k_m, 1, 2.5e-2, CPU", "llama2k-q3_k_m, 2, 2.5e-2, CPU",
            "llama2k-q2_k, 1, 2.5e-2, CPU", "llama2k-q2_k, 2, 2.5e-2, CPU",
            "llama2k-q5_0, 1, 2.5e-2, CPU", "llama2k-q5_0, 2, 2.5e-2, CPU",
            // the scalar oracle (Dequant.row of every weight row)
            "llama2k-q4_k_m, 1, 2.5e-2, REFERENCE", "llama2k-q4_k_m, 2, 2.5e-2, REFERENCE",
            "llama2k-q5_k_m, 1, 2.5e-2, REFERENCE", "llama2k-q5_k_m, 2, 2.5e-2, REFERENCE",
            "llama2k-q3_k_m, 1, 2.5e-2, REFERENCE", "llama2k-q3_k_m, 2, 2.5e-2, REFERENCE",
            "llama2k-q2_k, 1, 2.5e-2, REFERENCE", "llama2k-q2_k, 2, 2.5e-2, REFERENCE",
            "llama2k-q5_0, 1, 2.5e-2, REFERENCE", "llama2k-q5_0, 2, 2.5e-2, REFERENCE",
            // OpenCL with the F32 cache (an FP16 one, OPENCL_KVF16, would need twice the tolerance, as in
            // QuantOracleTest), and with the GPU kernel shapes forced on the test device (OPENCL_LANES, F32 cache)
            "llama2k-q4_k_m, 1, 2.5e-2, OPENCL_KVF32", "llama2k-q4_k_m, 2, 2.5e-2, OPENCL_KVF32",
            "llama2k-q5_k_m, 1, 2.5e-2, OPENCL_KVF32", "llama2k-q5_k_m, 2, 2.5e-2, OPENCL_KVF32",
            "llama2k-q3_k_m, 1, 2.5e-2, OPENCL_KVF32", "llama2k-q3_k_m, 2, 2.5e-2, OPENCL_KVF32",
            "llama2k-q2_k, 1, 2.5e-2, OPENCL_KVF32", "llama2k-q2_k, 2, 2.5e-2, OPENCL_KVF32",
            "llama2k-q5_0, 1, 2.5e-2, OPENCL_KVF32", "llama2k-q5_0, 2, 2.5e-2, OPENCL_KVF32",
            "llama2k-q4_k_m, 1, 2.5e-2, OPENCL_LANES", "llama2k-q5_k_m, 2, 2.5e-2, OPENCL_LANES",
            "llama2k-q3_k_m, 1, 2.5e-2, OPENCL_LANES", "llama2k-q2_k, 2, 2.5e-2, OPENCL_LANES",
            "llama2k-q5_0, 1, 2.5e-2, OPENCL_LANES",
    })
    void matchesLlamaCpp(String stem, int prompt, double tol, String backend) throws Exception {
        double worst = QuantOracleTest.checkAgainstLlamaCpp("kquant/" + stem, prompt, tol, backend);
        System.out.printf(Locale.ROOT, "%s prompt %d on %s: worst |logit − llama.cpp| / top-1 = %.3g%n", stem, prompt, backend, worst);
    }
}
