package dev.infercl.backend;

import java.util.concurrent.atomic.AtomicReference;

/**
 * Enforces {@link Backend}'s "one thread at a time": an op that finds another thread inside the backend throws
 * {@link IllegalStateException} naming both threads instead of running. Two threads in an OpenCL runtime's kernel
 * arguments and queue crash the process inside the driver, and two in the CPU backend's scratch arrays corrupt
 * results without a sign, so overlapping calls are refused before they reach either.
 *
 * <p>It detects, it does not wait: whoever shares a backend between threads serialises the calls (a
 * {@code Model} holds a lock around each step of its sessions). An op that calls another op of the same backend on
 * the same thread passes. The cost is two atomic operations per op.
 *
 * <pre>{@code
 * guard.enter();
 * try { ... } finally { guard.exit(); }
 * }</pre>
 */
public final class ConfinementGuard {
    private final String what;
    private final AtomicReference<Thread> inside = new AtomicReference<>();
    private int depth;   // written only by the thread inside; published to the next one by the release of `inside`

    /** @param what the guarded object, as the message names it (e.g. the backend's name) */
    public ConfinementGuard(String what) {
        this.what = what;
    }

    /** Marks the calling thread inside; throws when another thread is. */
    public void enter() {
        Thread me = Thread.currentThread();
        Thread other = inside.compareAndExchange(null, me);
        if (other != null && other != me) {
            throw new IllegalStateException(what + " is computing for thread '" + other.getName() + "' and was called by thread '"
                    + me.getName() + "' at the same time: a backend computes for one thread at a time (share a model between threads"
                    + " through its Sessions, which take turns, or serialise the calls)");
        }
        depth++;
    }

    /** Leaves; the outermost exit lets other threads in. */
    public void exit() {
        if (inside.get() != Thread.currentThread()) throw new IllegalStateException(what + ": exit without enter on this thread");
        if (--depth == 0) inside.set(null);
    }
}
