package dev.infercl.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.infercl.backend.opencl.ClTestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One model, many threads (issue 22): sessions of one model generating on 8 threads give exactly what each gives
 * alone, on the CPU backend and on OpenCL with FP16 and F32 caches; they take turns step by step rather than
 * generation by generation; closing a session or the model under a running generation fails that generation with
 * {@link IllegalStateException}; a session used by two threads at once is refused. See {@link ConcurrentSessions}.
 *
 * <p>The OpenCL runs happen in a child JVM: without the model's lock the driver crashed the process, and a crash
 * there fails this test with the child's output rather than killing the test JVM. Without the lock, the backends'
 * own check refuses the second thread (an exception, so the runs fail), and without both, the CPU results differ.
 */
@Timeout(value = 240, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ConcurrentSessionsTest {
    private static final int TOKENS = 40;

    // ------------------------------------------------------------------ equal to alone

    @Test
    void eightThreadsOnTheCpuGiveWhatEachGivesAlone() throws Exception {
        try (Model m = ConcurrentSessions.load(BackendKind.CPU, null)) {
            assertEquals(List.of(), ConcurrentSessions.stress(m, 8, 1, TOKENS));
        }
    }

    @Test
    void eightThreadsAlternatingTwoSessionsEachOnTheCpuGiveWhatEachGivesAlone() throws Exception {
        try (Model m = ConcurrentSessions.load(BackendKind.CPU, null)) {
            assertEquals(List.of(), ConcurrentSessions.stress(m, 8, 2, TOKENS));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F16", "F32"})
    void eightThreadsOnOpenClGiveWhatEachGivesAlone(String kv, @TempDir Path dir) throws Exception {
        ClTestSupport.requireOpenCl();
        child(dir, "stress", "OPENCL", kv, String.valueOf(TOKENS), "8x1", "8x2");
    }

    // ------------------------------------------------------------------ turns

    /**
     * Every generation waits at its 1st and 20th token until all eight have reached it: possible only when the
     * model lets each session step while the others are mid-generation (a lock held for a whole generation
     * would leave the barrier broken by its timeout). The results still equal the solo ones.
     */
    @Test
    void sessionsOnEightThreadsAdvanceTogetherTokenByToken() throws Exception {
        int threads = 8;
        var barrier = new CyclicBarrier(threads);
        try (Model m = ConcurrentSessions.load(BackendKind.CPU, null)) {
            int[][] alone = new int[threads][];
            for (int s = 0; s < threads; s++) {
                try (Session session = m.newSession()) {
                    alone[s] = ConcurrentSessions.take(session, s, ConcurrentSessions.turns(s, TOKENS).getFirst(), null);
                }
            }
            int[][] together = new int[threads][];
            ConcurrentSessions.onThreads(threads, t -> {
                int[] count = {0};
                try (Session session = m.newSession()) {
                    together[t] = ConcurrentSessions.take(session, t, ConcurrentSessions.turns(t, TOKENS).getFirst(), (id, piece) -> {
                        if (id < 0) return;
                        if (++count[0] == 1 || count[0] == 20) {
                            try {
                                barrier.await(30, TimeUnit.SECONDS);
                            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                                throw new AssertionError("session " + t + " at token " + count[0] + ": the others did not get there", e);
                            }
                        }
                    });
                }
            });
            assertEquals(List.of(), ConcurrentSessions.differences(alone, together));
        }
    }

    // ------------------------------------------------------------------ closing under a generation

    @Test
    void closingTheModelFailsARunningGenerationAtItsNextStep() throws Exception {
        Model m = ConcurrentSessions.load(BackendKind.CPU, null);
        try (Session s = m.newSession()) {
            var e = assertThrows(IllegalStateException.class, () -> s.generate("Once upon a time", GenerateOptions.greedy(100), (id, piece) -> {
                if (s.length() == 8) onOtherThread(m::close);
            }));
            assertTrue(e.getMessage().contains("stories260K.gguf is closed"), e.getMessage());
            var again = assertThrows(IllegalStateException.class, () -> s.generate(new int[] {1}, GenerateOptions.greedy(5), null));
            assertTrue(again.getMessage().contains("is closed"), again.getMessage());
            assertThrows(IllegalStateException.class, m::newSession);
        } finally {
            m.close();   // again: nothing
        }
    }

    @Test
    void closingASessionFromAnotherThreadFailsItsGenerationAtTheNextStep() throws Exception {
        try (Model m = ConcurrentSessions.load(BackendKind.CPU, null)) {
            Session s = m.newSession();
            var e = assertThrows(IllegalStateException.class, () -> s.generate("Once upon a time", GenerateOptions.greedy(100), (id, piece) -> {
                if (s.length() == 8) onOtherThread(s::close);
            }));
            assertTrue(e.getMessage().contains("this session is closed"), e.getMessage());
            s.close();   // again: nothing
            try (Session other = m.newSession()) {   // the model is fine
                assertEquals(20, other.generate("Once upon a time", GenerateOptions.greedy(20), null).tokens().length);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 50, 400})
    void closingSessionsAndTheModelWhileEightThreadsGenerateOnTheCpu(int afterTokens) throws Exception {
        Model m = ConcurrentSessions.load(BackendKind.CPU, null);
        try {
            assertEquals(List.of(), ConcurrentSessions.closeRace(m, 8, afterTokens));
        } finally {
            m.close();
        }
    }

    @Test
    void closingSessionsAndTheModelWhileEightThreadsGenerateOnOpenCl(@TempDir Path dir) throws Exception {
        ClTestSupport.requireOpenCl();
        child(dir, "close", "OPENCL", "F16", "8", "1", "50", "400");
    }

    // ------------------------------------------------------------------ one session, one thread

    @Test
    void aSessionInUseIsRefusedToASecondThreadWhichMayStillCancelIt() throws Exception {
        try (Model m = ConcurrentSessions.load(BackendKind.CPU, null); Session s = m.newSession()) {
            var seen = new AtomicReference<List<String>>();
            Generation g = s.generate("Once upon a time", GenerateOptions.greedy(100), (id, piece) -> {
                if (s.length() != 8) return;
                onOtherThread(() -> {
                    var messages = new ArrayList<String>();
                    for (Runnable call : List.<Runnable>of(() -> s.generate("The dog", GenerateOptions.greedy(5), null),
                            s::tokens, s::reset, () -> s.logits(new int[] {1}))) {
                        try {
                            call.run();
                            messages.add("ran");
                        } catch (IllegalStateException e) {
                            messages.add(e.getMessage());
                        }
                    }
                    seen.set(messages);
                    s.cancel();
                });
            });
            for (String msg : seen.get()) {
                assertTrue(msg.startsWith("this session is in use by thread '" + Thread.currentThread().getName() + "'")
                        && msg.contains("open a session per thread"), msg);
            }
            assertEquals(Generation.StopReason.CANCELLED, g.stop());
            // after the call returns, another thread may use it
            int[] held = s.tokens();
            int[][] there = new int[1][];
            onOtherThread(() -> there[0] = s.tokens());
            assertArrayEquals(held, there[0]);
        }
    }

    // ------------------------------------------------------------------ helpers

    /** Runs {@code r} on a new thread and waits for it; its failure becomes the caller's. */
    private static void onOtherThread(Runnable r) {
        var failure = new AtomicReference<Throwable>();
        Thread t = Thread.ofPlatform().name("other").start(() -> {
            try {
                r.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        if (failure.get() != null) throw new AssertionError("on the other thread", failure.get());
    }

    /**
     * Runs {@link ConcurrentSessions#main} in a child JVM with {@code args}; fails with its output (and the head of the
     * JVM's crash report, if it wrote one) unless it prints OK and exits 0.
     */
    private static void child(Path dir, String... args) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        var cmd = new ArrayList<>(List.of(java.toString(), "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-Xmx1g", "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log")));
        for (String p : List.of("infercl.opencl.cacheDir", "infercl.test.device")) {
            if (System.getProperty(p) != null && !System.getProperty(p).isEmpty()) cmd.add("-D" + p + "=" + System.getProperty(p));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ConcurrentSessions.class.getName()));
        cmd.addAll(List.of(args));
        var pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile());
        Path jsig = Path.of(System.getProperty("java.home"), "lib", "libjsig.so");   // as surefire runs this JVM (see pom.xml)
        if (Files.exists(jsig)) pb.environment().put("LD_PRELOAD", jsig.toString());
        Process p = pb.start();
        if (!p.waitFor(200, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            fail("the child JVM did not finish in 200 s:\n" + Files.readString(dir.resolve("out.txt")));
        }
        String out = Files.readString(dir.resolve("out.txt"), StandardCharsets.UTF_8);
        String crash;
        try (Stream<Path> files = Files.list(dir)) {
            crash = files.filter(f -> f.getFileName().toString().startsWith("hs_err")).findFirst()
                    .map(f -> readHead(f, 40)).orElse("");
        }
        if (p.exitValue() != 0 || !out.strip().endsWith("OK")) {
            fail("child JVM exited with " + p.exitValue() + ":\n" + out + (crash.isEmpty() ? "" : "\ncrash report:\n" + crash));
        }
    }

    private static String readHead(Path f, int lines) {
        try (Stream<String> s = Files.lines(f)) {
            return String.join("\n", s.limit(lines).toList());
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
