package dev.infercl.backend.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The -Dinfercl.opencl.* values each parse to their option, and a wrong one is refused naming the property. */
class ClOptionsTest {

    @Test
    void prefetchDefaultsTo2048BytesAndTakesZeroToOneMebibyte() {
        assertEquals(2048, ClOptions.parsePrefetch(null));
        assertEquals(0, ClOptions.parsePrefetch("0"));
        assertEquals(4096, ClOptions.parsePrefetch(" 4096 "));
        for (String bad : new String[] {"-1", "1048577", "2k", ""}) {
            var e = assertThrows(IllegalArgumentException.class, () -> ClOptions.parsePrefetch(bad));
            assertTrue(e.getMessage().startsWith("infercl.opencl.prefetch must be"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> ClOptions.defaults().withPrefetch(-64));
        assertEquals(0, ClOptions.defaults().withPrefetch(0).prefetch());
    }

    @Test
    void q8kAndLanesParse() {
        assertNull(ClOptions.parseQ8k(null));
        assertNull(ClOptions.parseQ8k("AUTO"));
        assertEquals(0, ClOptions.parseQ8k("off"));
        assertEquals(64, ClOptions.parseQ8k("64"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ClOptions.parseQ8k("16")).getMessage().contains("infercl.opencl.q8k"));
        assertEquals(32, ClOptions.parseLanes("32"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ClOptions.parseLanes("3")).getMessage().contains("infercl.opencl.lanes"));
    }

    @Test
    void amxParses() {
        assertNull(ClOptions.parseAmx(null));
        assertNull(ClOptions.parseAmx(" Auto"));
        assertEquals(Boolean.FALSE, ClOptions.parseAmx("off"));
        assertEquals(Boolean.TRUE, ClOptions.parseAmx("ON"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ClOptions.parseAmx("yes")).getMessage().contains("infercl.opencl.amx"));
    }
}
