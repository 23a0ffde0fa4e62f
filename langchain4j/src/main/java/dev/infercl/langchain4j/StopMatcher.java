package dev.infercl.langchain4j;

import java.util.List;

/**
 * Cuts generated text at the first stop string while it streams: text that could still be the start of a stop string
 * is held back until the next piece decides, so a handler never receives part of a stop string (the rule InferCL's
 * server applies to {@code stop}).
 */
final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private final StringBuilder text = new StringBuilder();
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
    }

    /** Takes a piece; returns the text that is now certain to be output (may be empty). */
    String accept(String piece) {
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
        int hold = 0;   // the longest tail that is a proper prefix of a stop string
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, pending.length()); k > hold; k--) {
                if (s.startsWith(pending.substring(pending.length() - k))) {
                    hold = k;
                    break;
                }
            }
        }
        return emit(pending.length() - hold);
    }

    /** The text held back at the end (none when it stopped at a stop string). */
    String flush() {
        return stopped ? "" : emit(pending.length());
    }

    private String emit(int n) {
        String out = pending.substring(0, n);
        pending.delete(0, n);
        if (stopped) pending.setLength(0);
        text.append(out);
        return out;
    }

    boolean stopped() {
        return stopped;
    }

    String text() {
        return text.toString();
    }
}
