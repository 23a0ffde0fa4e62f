package dev.infercl.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.Stories;
import dev.infercl.backend.opencl.ClTestSupport;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A model loaded with parallel &gt; 1: sessions on several threads run through the continuous-batching scheduler and
 * each produces exactly what it produces alone on a model without it (greedy and seeded sampling, two turns each, more
 * sessions than the cache holds so some wait in the queue); closing a session or the model stops its generation and
 * every KV block comes back.
 */
class ParallelSessionsTest {
    static final int TOKENS = 40;

    @Test
    void eightThreadsBatchedOnTheCpuGiveWhatEachGivesUnbatched() throws Exception {
        batchedEqualsUnbatched(BackendKind.CPU);
    }

    @Test
    void eightThreadsBatchedOnOpenClGiveWhatEachGivesUnbatched() throws Exception {
        ClTestSupport.requireOpenCl();
        batchedEqualsUnbatched(BackendKind.OPENCL);
    }

    private static void batchedEqualsUnbatched(BackendKind kind) throws Exception {
        int[][] unbatched;
        try (Model m = ConcurrentSessions.load(kind, null)) {
            unbatched = ConcurrentSessions.alone(m, 16, TOKENS);
        }
        try (Model m = Model.load(Stories.MODEL, ConcurrentSessions.options(kind, null).withParallel(8))) {
            // 8 threads × 2 sessions: sixteen generations for a cache of eight contexts, so some wait in the queue
            assertEquals(List.of(), ConcurrentSessions.stress(m, 8, 2, TOKENS));
            assertEquals(List.of(), ConcurrentSessions.differences(unbatched, ConcurrentSessions.alone(m, 16, TOKENS)));
            var stats = m.batchingStats();
            assertTrue(stats.mostSequencesInAStep() > 1, "sessions of different threads shared steps: " + stats);
            assertTrue(stats.prefixHitBlocks() > 0, "second turns reused their first turn's blocks: " + stats);
            assertEquals(0, stats.blocksInUse(), stats.toString());
            assertEquals(0, stats.running());
            assertEquals(0, stats.queued());
        }
    }

    @Test
    void aLoneBatchedSessionContinuesItsConversationLikeAnUnbatchedOne() throws Exception {
        var o = GenerateOptions.greedy(30);
        int[] want1, want2, wantTokens;
        float[] wantLogits;
        try (Model m = ConcurrentSessions.load(BackendKind.CPU, null); Session s = m.newSession()) {
            want1 = s.generate("Once upon a time", o, null).tokens();
            want2 = s.generate(" Then", o, null).tokens();
            wantTokens = s.tokens();
            wantLogits = s.logits(new int[] {5, 6})[1];
        }
        try (Model m = Model.load(Stories.MODEL, ConcurrentSessions.options(BackendKind.CPU, null).withParallel(4)); Session s = m.newSession()) {
            assertArrayEquals(want1, s.generate("Once upon a time", o, null).tokens());
            assertArrayEquals(want2, s.generate(" Then", o, null).tokens());
            assertArrayEquals(wantTokens, s.tokens());
            float[] got = s.logits(new int[] {5, 6})[1];
            for (int i = 0; i < got.length; i++) assertEquals(wantLogits[i], got[i], 1e-4, "logit " + i);
            s.rewind(3);
            assertEquals(3, s.tokens().length);
            assertThrows(IllegalArgumentException.class, () -> m.newSession(ConcurrentSessions.CONTEXT + 1));
        }
    }

    @Test
    void closingABatchedSessionOrTheModelStopsItsGenerationAndFreesItsBlocks() throws Exception {
        try (Model m = Model.load(Stories.MODEL, ConcurrentSessions.options(BackendKind.CPU, null).withParallel(4));
             ExecutorService pool = Executors.newFixedThreadPool(2)) {
            var noEos = new GenerateOptions(ConcurrentSessions.BUDGET, dev.infercl.engine.SamplerOptions.greedy(), null, false);
            Session a = m.newSession(), b = m.newSession();
            var started = new CountDownLatch(2);
            Future<Generation> fa = pool.submit(() -> a.generate("Once upon a time", noEos, (id, t) -> started.countDown()));
            Future<Generation> fb = pool.submit(() -> b.generate("The little dog", noEos, (id, t) -> started.countDown()));
            assertTrue(started.await(60, TimeUnit.SECONDS));
            a.close();
            var e = assertThrows(java.util.concurrent.ExecutionException.class, fa::get);
            assertTrue(e.getCause() instanceof IllegalStateException && e.getCause().getMessage().contains("session is closed"), e.getCause().toString());
            m.close();
            var f = assertThrows(java.util.concurrent.ExecutionException.class, fb::get);
            assertTrue(f.getCause() instanceof IllegalStateException && f.getCause().getMessage().contains("is closed"), f.getCause().toString());
        }
    }

    @Test
    void cancellingABatchedGenerationGivesItsBlocksBack() throws Exception {
        try (Model m = Model.load(Stories.MODEL, ConcurrentSessions.options(BackendKind.CPU, null).withParallel(2)); Session s = m.newSession()) {
            var noEos = new GenerateOptions(ConcurrentSessions.BUDGET, dev.infercl.engine.SamplerOptions.greedy(), null, false);
            int[] n = {0};
            Generation g = s.generate("Once upon a time", noEos, (id, t) -> {
                if (++n[0] == 5) s.cancel();
            });
            assertEquals(Generation.StopReason.CANCELLED, g.stop());
            assertEquals(0, m.batchingStats().blocksInUse());
        }
    }
}
