package dev.infercl.tokenizer;

import java.util.ArrayList;
import java.util.List;

/** Cuts literal occurrences of special tokens out of a text before the ordinary tokenizer sees it. */
final class SpecialTokens {
    private SpecialTokens() {}

    /** A run of text [start, end) or, when token >= 0, a special token matched literally there. */
    record Fragment(int start, int end, int token) {}

    /**
     * Splits the text at literal occurrences of special tokens, longest token first ({@code specials} is in that
     * order); each token splits every remaining text fragment at all its non-overlapping occurrences, left to
     * right. User-defined tokens are always matched; control and unknown tokens only when {@code parseSpecial}.
     */
    static List<Fragment> partition(String text, int[] specials, String[] pieces, TokenType[] types,
                                    boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) {
            return fragments;
        }
        fragments.add(new Fragment(0, text.length(), -1));
        for (int id : specials) {
            if (!parseSpecial && types[id] != TokenType.USER_DEFINED) {
                continue;
            }
            String p = pieces[id];
            List<Fragment> next = null;
            for (int i = 0; i < fragments.size(); i++) {
                Fragment f = fragments.get(i);
                int at = f.token() >= 0 ? -1 : indexOf(text, p, f.start(), f.end());
                if (at < 0) {
                    if (next != null) {
                        next.add(f);
                    }
                    continue;
                }
                if (next == null) {
                    next = new ArrayList<>(fragments.subList(0, i));
                }
                int base = f.start();
                while (at >= 0) {
                    if (at > base) {
                        next.add(new Fragment(base, at, -1));
                    }
                    next.add(new Fragment(at, at + p.length(), id));
                    base = at + p.length();
                    at = indexOf(text, p, base, f.end());
                }
                if (base < f.end()) {
                    next.add(new Fragment(base, f.end(), -1));
                }
            }
            if (next != null) {
                fragments = next;
            }
        }
        return fragments;
    }

    /** The first occurrence of {@code p} lying wholly inside [from, to), or -1. */
    private static int indexOf(String text, String p, int from, int to) {
        int at = text.indexOf(p, from);
        return at >= 0 && at + p.length() <= to ? at : -1;
    }
}
