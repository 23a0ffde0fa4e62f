package dev.infercl;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What the fuzz tests share: a time bound per input and a scratch folder.
 *
 * <p>Each input runs on one worker thread and the fuzz test waits for it at most {@link #INPUT_BOUND}: an input that
 * takes longer is a hang (a failure), reported while the worker is still stuck in it, so a loop that never ends
 * fails the test instead of stalling the build. Whatever the input threw is rethrown unchanged on the test's thread,
 * so Jazzer sees the original exception type and stack.
 */
public final class FuzzSupport {
    private FuzzSupport() {}

    /**
     * Per-input bound: far above what any input of the targets costs (they parse a few KiB or load a 1 MB model), so
     * only a hang reaches it, even on a loaded machine; {@code -Dinfercl.fuzz.inputBoundMs} changes it.
     */
    public static final Duration INPUT_BOUND = Duration.ofMillis(Long.getLong("infercl.fuzz.inputBoundMs", 10_000));

    /** Code under test; may throw anything. */
    @FunctionalInterface
    public interface Body {
        void run() throws Exception;
    }

    private static final Object WORKER_LOCK = new Object(); // not the class: the body may call scratch()
    private static ExecutorService worker = newWorker();

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-input");
            t.setDaemon(true); // a stuck input must not keep the JVM alive
            return t;
        });
    }

    /** Runs {@code body} on the worker thread; fails when it takes longer than {@link #INPUT_BOUND}. */
    public static void bounded(Body body) {
        synchronized (WORKER_LOCK) {
            runBounded(body);
        }
    }

    private static void runBounded(Body body) {
        Future<?> f = worker.submit(() -> {
            body.run();
            return null;
        });
        try {
            f.get(INPUT_BOUND.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            worker.shutdownNow();
            worker = newWorker(); // the old thread may never come back
            throw new AssertionError("an input ran longer than " + INPUT_BOUND.toMillis() + " ms: a hang");
        } catch (ExecutionException e) {
            throw sneaky(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }

    private static Path scratch;

    /** A folder for the files the targets write, deleted at exit (in memory, /dev/shm, where there is one). */
    public static synchronized Path scratch() {
        if (scratch == null) {
            try {
                Path shm = Path.of("/dev/shm");
                scratch = Files.isDirectory(shm) && Files.isWritable(shm)
                        ? Files.createTempDirectory(shm, "infercl-fuzz") : Files.createTempDirectory("infercl-fuzz");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Path dir = scratch;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try (var files = Files.list(dir)) {
                    for (Path p : (Iterable<Path>) files::iterator) Files.deleteIfExists(p);
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // a temporary folder left behind is harmless
                }
            }));
        }
        return scratch;
    }
}
