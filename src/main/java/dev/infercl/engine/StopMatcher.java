package dev.infercl.engine;

import java.util.List;

/**
 * Cuts generated text at the first stop string while it streams: text that could still be the start of a stop string
 * is held back until the next piece decides, so a listener never receives part of a stop string (the server's
 * {@code stop} and the LangChain4j module's stop sequences). Empty stop strings are ignored. One generation's.
 */
public final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private final StringBuilder text = new StringBuilder();
    private boolean stopped;

    public StopMatcher(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    /** Takes a piece; returns the text that is now certain to be output (may be empty). */
    public String accept(String piece) {
        if (stopped) return "";
        pending.append(piece);
        int cut = -1;
        for (String s : stops) {
            int i = pending.indexOf(s);
            if (i >= 0 && (cut < 0 || i < cut)) cut = i;
        }
        if (cut >= 0) {
            stopped = true;
            return emit(cut);
        }
        // hold back the longest tail that is a proper prefix of a stop string
        int hold = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, pending.length()); k > hold; k--) {
                if (pending.length() >= k && s.startsWith(pending.substring(pending.length() - k))) {
                    hold = k;
                    break;
                }
            }
        }
        return emit(pending.length() - hold);
    }

    /** The text held back at the end of the generation (none when it stopped at a stop string). */
    public String flush() {
        return stopped ? "" : emit(pending.length());
    }

    private String emit(int n) {
        String out = pending.substring(0, n);
        pending.delete(0, n);
        if (stopped) pending.setLength(0);   // what follows a stop string is never output
        text.append(out);
        return out;
    }

    /** Whether a stop string was met (nothing more is output). */
    public boolean stopped() {
        return stopped;
    }

    /** Everything output so far. */
    public String text() {
        return text.toString();
    }
}
