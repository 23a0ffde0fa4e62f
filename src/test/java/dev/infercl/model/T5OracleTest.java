package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.backend.Backend;
import dev.infercl.backend.cpu.CpuBackend;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ../shared/t5 (a tiny random-weight T5 with llama.cpp's outputs, README there): the 32 greedy ids exactly, every
 * teacher-forced top-20 logit within 5e-3 × the row's top-1, and the first 8 rows in full (t5.1.logits8.f32) within
 * the same tolerance, on the scalar Reference backend and the CPU backend (OpenCL: ClT5OracleTest).
 */
class T5OracleTest {
    static final double TOL = 5e-3;

    @ParameterizedTest
    @ValueSource(strings = {"REFERENCE", "CPU"})
    void matchesLlamaCpp(String backend) throws Exception {
        Supplier<Backend> b = backend.equals("REFERENCE") ? () -> new CpuBackend(CpuBackend.Mode.REFERENCE, 1) : CpuBackend::new;
        double[] worst = check(b, null);
        System.out.printf("t5 oracle on %s: worst top-20 |logit − llama.cpp| / top-1 = %.3e, full rows 0..7 = %.3e%n", backend, worst[0], worst[1]);
    }

    /**
     * Loads ../shared/t5/t5.gguf on the backend (with {@code change} applied to the loaded weights, on that backend, when not null),
     * checks greedy ids, top-20 and the 8 full rows; returns the worst ratios {top-20, full rows}.
     */
    static double[] check(Supplier<Backend> backend, java.util.function.BiFunction<Weights, Backend, Weights> change) throws Exception {
        JsonNode r = Oracles.json(SharedData.require("t5/t5.1.json"));
        float[][] full = Oracles.floatRows(SharedData.require("t5/t5.1.logits8.f32"), r.get("n_vocab").asInt());
        try (ModelFile file = ModelFile.open(SharedData.require("t5/t5.gguf"), null); Backend be = backend.get()) {
            Weights w = Weights.upload(file, be);
            if (change != null) w = change.apply(w, be);
            var tr = new Transformer(file.config(), w, be);
            assertTrue(tr.isEncoderDecoder());
            assertEquals(r.get("decoder_start_id").asInt(), tr.decoderStart());
            int[] prompt = Oracles.ints(r.get("prompt_ids"));
            int[] greedy = Oracles.ints(r.get("greedy_ids"));
            int vocab = file.config().vocabSize();
            try (var st = tr.newState(64, 64)) {
                tr.encode(st, prompt);
                int[] got = new int[greedy.length];
                float[] logits = new float[vocab];
                int next = tr.decoderStart();
                for (int i = 0; i < greedy.length; i++) {
                    be.read(tr.forward(st, new int[] {next}, false), logits);
                    next = argmax(logits);
                    got[i] = next;
                }
                assertArrayEquals(greedy, got, "greedy ids");

                int[] dec = Oracles.ints(r.get("decoder_input_ids"));
                tr.encode(st, prompt);
                float[] all = new float[dec.length * vocab];
                be.read(tr.forward(st, dec, true), all);
                JsonNode top20 = r.get("top20");
                double worst = 0, worstFull = 0;
                for (int row = 0; row < dec.length; row++) {
                    JsonNode e = top20.get(row);
                    double top1 = Math.abs(e.get(0).get(1).asDouble());
                    for (JsonNode pair : e) worst = Math.max(worst, Math.abs(all[row * vocab + pair.get(0).asInt()] - pair.get(1).asDouble()) / top1);
                    if (row < full.length) {
                        for (int i = 0; i < vocab; i++) worstFull = Math.max(worstFull, Math.abs(all[row * vocab + i] - full[row][i]) / top1);
                    }
                }
                assertTrue(worst <= TOL, "worst top-20 |logit − llama.cpp| / top-1 = " + worst);
                assertTrue(worstFull <= TOL, "worst full-row |logit − llama.cpp| / top-1 = " + worstFull);
                return new double[] {worst, worstFull};
            }
        }
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
