package dev.infercl.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar redrawn with '\r' on a terminal; elsewhere (pipes, CI logs) a line per 10%.
 * Updates are throttled, so callers may report as often as they like.
 */
final class ProgressBar implements AutoCloseable {
    private final PrintStream err;
    private final String label;
    private final long total;
    private final boolean terminal = System.console() != null && System.console().isTerminal();
    private long lastDraw;
    private int lastDecile = -1;

    ProgressBar(PrintStream err, String label, long total) {
        this.err = err;
        this.label = label;
        this.total = Math.max(1, total);
    }

    void update(long done) {
        double f = Math.min(1, done / (double) total);
        if (terminal) {
            long now = System.nanoTime();
            if (now - lastDraw < 100_000_000L && done < total) return;
            lastDraw = now;
            int width = 30, filled = (int) (f * width);
            err.print(String.format(Locale.ROOT, "\r%s [%s%s] %3.0f%%", label, "#".repeat(filled), " ".repeat(width - filled), 100 * f));
            err.flush();
        } else {
            int decile = (int) (f * 10);
            if (decile > lastDecile) {
                lastDecile = decile;
                err.printf(Locale.ROOT, "%s %d%%%n", label, decile * 10);
            }
        }
    }

    @Override
    public void close() {
        if (terminal) err.println();
    }
}
