package dev.infercl.engine;

/**
 * A request the {@link Scheduler} refused: its KV blocks are not free now and the queue of requests waiting for
 * blocks is at its bound. The message names the queue's capacity and what holds the blocks; a server answers it with
 * 429 or 503 and the client retries later.
 */
public final class QueueFullException extends RuntimeException {
    private final int capacity;

    public QueueFullException(String message, int capacity) {
        super(message);
        this.capacity = capacity;
    }

    /** The queue's bound (requests that may wait). */
    public int capacity() {
        return capacity;
    }
}
