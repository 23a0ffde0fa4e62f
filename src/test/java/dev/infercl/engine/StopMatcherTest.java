package dev.infercl.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopMatcherTest {

    /** Feeds pieces, returning what was output piece by piece, joined with '|'. */
    static String feed(StopMatcher m, String... pieces) {
        var b = new StringBuilder();
        for (String p : pieces) b.append(m.accept(p)).append('|');
        return b.append(m.flush()).toString();
    }

    @Test
    void withoutStopsEverythingPassesAtOnce() {
        var m = new StopMatcher(List.of());
        assertEquals("a|b c|", feed(m, "a", "b c"));
        assertEquals("ab c", m.text());
        assertFalse(m.stopped());
    }

    @Test
    void aStopSplitOverPiecesIsNeverOutput() {
        var m = new StopMatcher(List.of("END"));
        assertEquals("one |two ||||", feed(m, "one ", "two E", "N", "D and more", "ignored"));
        assertEquals("one two ", m.text());
        assertTrue(m.stopped());
    }

    @Test
    void aHeldBackPrefixThatTurnsOutOtherwiseIsOutput() {
        var m = new StopMatcher(List.of("END"));
        assertEquals("one ||ENough|", feed(m, "one E", "N", "ough"));
        assertEquals("one ENough", m.text());
        assertFalse(m.stopped());
        var end = new StopMatcher(List.of("END"));
        assertEquals("x||EN", feed(end, "x", "EN"));   // held to the end of the generation, then flushed
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        var m = new StopMatcher(List.of("cat", "dog"));
        assertEquals("a |", feed(m, "a dog and a cat"));
        assertEquals("a ", m.text());
    }
}
