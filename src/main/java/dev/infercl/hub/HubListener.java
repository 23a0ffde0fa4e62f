package dev.infercl.hub;

/**
 * What a fetch reports while it works; the hub code never prints (only the CLI writes to the console). Every method
 * has an empty default, so a caller overrides only what it shows.
 */
public interface HubListener {
    HubListener NONE = new HubListener() {};

    /** A one-line remark: a cached file reused, a download resumed, the hub unreachable and the cache used. */
    default void note(String message) {}

    /**
     * Bytes of {@code file} start to arrive: {@code total} in all (-1 when unknown), of which {@code from} were kept
     * from an earlier, interrupted attempt. Called once per attempt.
     */
    default void downloadStarted(String file, long total, long from) {}

    /** {@code done} bytes of the file are on disk (the kept ones included). Called often; throttle what it draws. */
    default void downloaded(long done) {}

    /** The attempt that {@link #downloadStarted} announced has ended, completed or not. */
    default void downloadEnded() {}
}
