package dev.infercl.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import dev.infercl.Stories;
import dev.infercl.engine.SamplerOptions;
import dev.infercl.model.ModelLoadException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedding API on the stories260K model: streaming, cancel, continuation, prefill parity, errors. */
class SessionTest {

    static Model stories() throws Exception {
        return Model.load(Stories.MODEL, LoadOptions.defaults().withBackend(BackendKind.CPU));
    }

    @Test
    void listenerReceivesEveryTokenAndTheText() throws Exception {
        try (Model m = stories(); Session s = m.newSession()) {
            var ids = new ArrayList<Integer>();
            var text = new StringBuilder();
            Generation g = s.generate("Once upon a time", GenerateOptions.greedy(40), (id, piece) -> {
                if (id >= 0) ids.add(id);
                text.append(piece);
            });
            assertArrayEquals(g.tokens(), ids.stream().mapToInt(Integer::intValue).toArray());
            assertEquals(g.text(), text.toString());
            assertEquals(Generation.StopReason.TOKEN_BUDGET, g.stop());
            assertEquals(5 + 40 - 1, s.length(), "prompt + generated tokens minus the pending last one are cached");
        }
    }

    @Test
    void cancelStopsAfterTheCurrentToken() throws Exception {
        try (Model m = stories(); Session s = m.newSession()) {
            int[] seen = {0};
            Generation g = s.generate("Once upon a time", GenerateOptions.greedy(100), (id, piece) -> {
                if (++seen[0] == 5) s.cancel();
            });
            assertEquals(Generation.StopReason.CANCELLED, g.stop());
            assertEquals(5, g.tokens().length);
        }
    }

    @Test
    void continuingASessionEqualsOneLongGeneration() throws Exception {
        try (Model m = stories()) {
            int[] whole;
            try (Session s = m.newSession()) {
                whole = s.generate("Once upon a time", GenerateOptions.greedy(30), null).tokens();
            }
            try (Session s = m.newSession()) {
                int[] a = s.generate("Once upon a time", GenerateOptions.greedy(12), null).tokens();
                int[] b = s.generate(new int[0], GenerateOptions.greedy(18), null).tokens();
                int[] both = java.util.stream.IntStream.concat(java.util.Arrays.stream(a), java.util.Arrays.stream(b)).toArray();
                assertArrayEquals(whole, both);
            }
        }
    }

    @Test
    void prefillInOneBatchEqualsTokenByToken() throws Exception {
        try (Model m = stories()) {
            int[] ids = new int[100];
            var rnd = new java.util.Random(5);
            ids[0] = 1;
            for (int i = 1; i < ids.length; i++) ids[i] = 3 + rnd.nextInt(500);
            float[][] batched, stepped = new float[ids.length][];
            try (Session s = m.newSession()) {
                batched = s.logits(ids);
            }
            try (Session s = m.newSession()) {
                for (int i = 0; i < ids.length; i++) stepped[i] = s.logits(new int[] {ids[i]})[0];
            }
            double worst = 0;
            for (int p = 0; p < ids.length; p++) {
                for (int v = 0; v < batched[p].length; v++) worst = Math.max(worst, Math.abs(batched[p][v] - stepped[p][v]));
            }
            assertTrue(worst <= 1e-3, "max difference " + worst);
        }
    }

    @Test
    void aFullContextStopsGenerationCleanly() throws Exception {
        try (Model m = stories(); Session s = m.newSession(20)) {
            Generation g = s.generate("Once upon a time", GenerateOptions.greedy(100), null);
            assertEquals(Generation.StopReason.CONTEXT_FULL, g.stop());
            assertEquals(16, g.tokens().length);
        }
    }

    /** A budget of 2^31 − 1 tokens is a budget, not an allocation: the reply is bounded by the context. */
    @Test
    void aHugeTokenBudgetStopsAtTheContext() throws Exception {
        try (Model m = stories(); Session s = m.newSession(20)) {
            Generation g = s.generate("Once upon a time", GenerateOptions.greedy(Integer.MAX_VALUE), null);
            assertEquals(Generation.StopReason.CONTEXT_FULL, g.stop());
            assertEquals(16, g.tokens().length);
        }
    }

    @Test
    void seededSamplingIsReproducible() throws Exception {
        var opts = new GenerateOptions(50, SamplerOptions.defaults(77), null, true);
        try (Model m = stories()) {
            String a, b;
            try (Session s = m.newSession()) {
                a = s.generate("Once upon a time", opts, null).text();
            }
            try (Session s = m.newSession()) {
                b = s.generate("Once upon a time", opts, null).text();
            }
            assertEquals(a, b);
        }
    }

    @Test
    void malformedLlama2cCheckpointsAreRejected(@TempDir Path dir) throws Exception {
        Path tok = SharedData.require("models/tok512.bin");
        Path bad = dir.resolve("bad.bin");
        ByteBuffer h = ByteBuffer.allocate(28 + 64).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(64).putInt(172).putInt(5).putInt(8).putInt(4).putInt(512).putInt(512);
        Files.write(bad, h.array());
        var e = assertThrows(ModelLoadException.class, () -> Model.load(bad, LoadOptions.defaults().withTokenizer(tok)));
        assertTrue(e.getMessage().contains("bytes"), e.getMessage());

        h.clear();
        h.putInt(64).putInt(-3).putInt(5).putInt(8).putInt(4).putInt(512).putInt(512);
        Files.write(bad, h.array());
        e = assertThrows(ModelLoadException.class, () -> Model.load(bad, LoadOptions.defaults().withTokenizer(tok)));
        assertTrue(e.getMessage().contains("hidden_dim"), e.getMessage());

        var noTok = assertThrows(ModelLoadException.class, () -> Model.load(bad));
        assertTrue(noTok.getMessage().contains("--tokenizer"), noTok.getMessage());
    }
}
