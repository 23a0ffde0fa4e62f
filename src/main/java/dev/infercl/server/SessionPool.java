package dev.infercl.server;

import dev.infercl.api.Model;
import dev.infercl.api.Session;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code parallel} sessions of one model, each lent to one request at a time; up to {@code queue} more requests wait
 * for one, and beyond that a request is refused at once (429), so a burst costs memory for its waiting threads only.
 * A session comes back reset (its KV cache emptied), whatever its request did. Sessions of one model may generate at
 * once: the engine interleaves (or batches) their steps.
 */
final class SessionPool implements AutoCloseable {
    /** Positions per KV-cache block (the engine's paged cache). */
    static final int KV_BLOCK = 16;
    final int parallel, contextLength;
    final Model model;
    private final List<Session> all = new ArrayList<>();
    private final LinkedBlockingQueue<Session> idle = new LinkedBlockingQueue<>();
    private final Semaphore admission;
    private final AtomicInteger waiting = new AtomicInteger(), running = new AtomicInteger();

    /** {@code contextLength} ≤ 0: the model's default ({@link Model#newSession()}). */
    SessionPool(Model model, int parallel, int queue, int contextLength) {
        this.parallel = parallel;
        this.model = model;
        this.admission = new Semaphore(parallel + queue);
        try {
            for (int i = 0; i < parallel; i++) all.add(contextLength > 0 ? model.newSession(contextLength) : model.newSession());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        this.contextLength = all.getFirst().contextLength();
        idle.addAll(all);
    }

    /** A session for one request; waits while all are lent, refuses when the queue is full too. */
    Session acquire() throws ApiException, InterruptedException {
        return acquire(null, null);
    }

    /**
     * A session for one request, or null if, while it waits, {@code gone} (asked every {@code check} that passes with
     * every session lent) reports that the client went away: its place in the queue goes to the next request at once,
     * not when a session would have come free. Refuses when the queue is full too.
     */
    Session acquire(java.time.Duration check, java.util.function.BooleanSupplier gone) throws ApiException, InterruptedException {
        if (!admission.tryAcquire()) {
            throw new ApiException(429, "server_busy", null, "queue_full", "all " + parallel
                    + " sequences are busy and the queue is full; retry later");
        }
        waiting.incrementAndGet();
        boolean lent = false;
        try {
            while (true) {
                Session s = gone == null ? idle.take() : idle.poll(check.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
                if (s != null) {
                    running.incrementAndGet();
                    lent = true;
                    return s;
                }
                if (gone.getAsBoolean()) return null;
            }
        } finally {
            waiting.decrementAndGet();
            if (!lent) admission.release();
        }
    }

    /** Returns a session, its sequence forgotten (the KV blocks go back to the cache). */
    void release(Session s) {
        try {
            s.reset();
        } finally {
            running.decrementAndGet();
            idle.add(s);
            admission.release();
        }
    }

    int waiting() {
        return waiting.get();
    }

    int running() {
        return running.get();
    }

    /**
     * Positions held in the sessions' KV caches. Read without the sessions' locks, so a gauge of the moment, not an
     * exact count while requests run; all sessions idle, it is 0.
     */
    long kvTokens() {
        long n = 0;
        for (Session s : all) n += s.length();
        return n;
    }

    /**
     * KV-cache blocks (16 positions each) in use: the scheduler's count when the model batches its sessions (loaded
     * with parallel &gt; 1), else those the sessions' lengths fill.
     */
    long kvBlocks() {
        var stats = model.batchingStats();
        if (stats != null) return stats.blocksInUse();
        long n = 0;
        for (Session s : all) n += Math.ceilDiv(s.length(), KV_BLOCK);
        return n;
    }

    @Override
    public void close() {
        for (Session s : all) s.close();
    }
}
