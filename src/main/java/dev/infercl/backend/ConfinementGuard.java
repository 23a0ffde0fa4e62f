package dev.infercl.backend;

import java.util.concurrent.atomic.AtomicReference;

/**
 * Enforces "one thread at a time" on an object two threads must not be inside together — {@link Backend}'s contract
 * first: an op that finds another thread inside the backend throws {@link IllegalStateException} naming both threads
 * instead of running. Two threads in an OpenCL runtime's kernel arguments and queue crash the process inside the
 * driver, and two in the CPU backend's scratch arrays corrupt results without a sign, so overlapping calls are
 * refused before they reach either. (The API uses it as well, for a {@code Session} or {@code Chat}, which hold one
 * sequence.)
 *
 * <p>It detects, it does not wait: whoever shares a backend between threads serialises the calls (a
 * {@code Model} holds a lock around each step of its sessions). A call that makes another call on the same thread
 * (an op calling an op) passes. The cost is two atomic operations per call.
 *
 * <pre>{@code
 * guard.enter();
 * try { ... } finally { guard.exit(); }
 * }</pre>
 */
public final class ConfinementGuard {
    /** What a backend's refusal tells the caller to do instead. */
    public static final String BACKEND_RULE = "a backend computes for one thread at a time (share a model between threads"
            + " through its Sessions, which take turns, or serialise the calls)";

    private final String what, rule;
    private final AtomicReference<Thread> inside = new AtomicReference<>();
    private int depth;   // written only by the thread inside; published to the next one by the release of `inside`

    /** A backend's guard. @param what the backend, as the message names it */
    public ConfinementGuard(String what) {
        this(what, BACKEND_RULE);
    }

    /**
     * @param what the guarded object, as the message names it
     * @param rule what the message says instead of running, after the two threads' names
     */
    public ConfinementGuard(String what, String rule) {
        this.what = what;
        this.rule = rule;
    }

    /** Marks the calling thread inside; throws when another thread is. */
    public void enter() {
        Thread me = Thread.currentThread();
        Thread other = inside.compareAndExchange(null, me);
        if (other != null && other != me) {
            throw new IllegalStateException(what + " is in use by thread '" + other.getName() + "' and was called by thread '"
                    + me.getName() + "' at the same time: " + rule);
        }
        depth++;
    }

    /** Leaves; the outermost exit lets other threads in. */
    public void exit() {
        if (inside.get() != Thread.currentThread()) throw new IllegalStateException(what + ": exit without enter on this thread");
        if (--depth == 0) inside.set(null);
    }
}
