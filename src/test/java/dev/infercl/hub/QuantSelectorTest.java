package dev.infercl.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Parsing {@code OWNER/NAME[:QUANT]} and picking the file it names. */
class QuantSelectorTest {
    static final List<String> BARTOWSKI = List.of(".gitattributes", "README.md",
            "Llama-3.2-1B-Instruct-f16.gguf", "Llama-3.2-1B-Instruct-IQ4_XS.gguf", "Llama-3.2-1B-Instruct-Q4_0.gguf",
            "Llama-3.2-1B-Instruct-Q4_0_4_4.gguf", "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "Llama-3.2-1B-Instruct-Q4_K_S.gguf",
            "Llama-3.2-1B-Instruct-Q8_0.gguf", "mmproj-Llama-3.2-1B-Instruct-f16.gguf");

    static String pick(String ref, List<String> files) throws HubException {
        return QuantSelector.select(HubReference.parse(ref), files);
    }

    @Test
    void referencesParseWithTheDefaultQuant() {
        var r = HubReference.parse("bartowski/Llama-3.2-1B-Instruct-GGUF");
        assertEquals("bartowski/Llama-3.2-1B-Instruct-GGUF", r.repo());
        assertEquals("Q4_K_M", r.quant());
        assertFalse(r.quantGiven());
        var q = HubReference.parse("bartowski/Llama-3.2-1B-Instruct-GGUF:q8_0");
        assertEquals("q8_0", q.quant());
        assertTrue(q.quantGiven());
        for (String bad : List.of("justaname", "a/b/c", "/abs/path", "./a/b", "a/b:", "a/../b", "-a/b", "a/b:Q4 K"))
            assertThrows(IllegalArgumentException.class, () -> HubReference.parse(bad), bad);
    }

    @Test
    void onlyValuesThatReadAsRepositoriesAreTakenForThem() {
        assertTrue(HubReference.looksLike("bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"));
        assertTrue(HubReference.looksLike("bartowski/Llama-3.2-1B-Instruct-GGUF"));
        assertFalse(HubReference.looksLike("models/stories260K.gguf"), "a missing file, not a repository");
        assertFalse(HubReference.looksLike("models/stories260K.bin"));
        assertFalse(HubReference.looksLike("model.gguf"));
        assertFalse(HubReference.looksLike("/tmp/x/y"));
        assertFalse(HubReference.looksLike("../a/b"));
    }

    @Test
    void theDefaultQuantIsQ4KMAndQuantsMatchCaseInsensitivelyAsWholeWords() throws HubException {
        assertEquals("Llama-3.2-1B-Instruct-Q4_K_M.gguf", pick("o/n", BARTOWSKI));
        assertEquals("Llama-3.2-1B-Instruct-Q8_0.gguf", pick("o/n:q8_0", BARTOWSKI));
        assertEquals("Llama-3.2-1B-Instruct-Q4_0.gguf", pick("o/n:Q4_0", BARTOWSKI), "not Q4_0_4_4");
        assertEquals("Llama-3.2-1B-Instruct-IQ4_XS.gguf", pick("o/n:iq4_xs", BARTOWSKI));
        assertThrows(HubException.class, () -> pick("o/n:Q4_XS", BARTOWSKI), "Q4_XS is not IQ4_XS");
        assertEquals("Llama-3.2-1B-Instruct-f16.gguf", pick("o/n:F16", BARTOWSKI), "the model, not its mmproj");
        assertEquals("mmproj-Llama-3.2-1B-Instruct-f16.gguf", pick("o/n:mmproj-Llama-3.2-1B-Instruct-f16.gguf", BARTOWSKI), "a file by name");
        assertEquals("model.Q5_K_M.gguf", pick("o/n:Q5_K_M", List.of("model.Q4_K_M.gguf", "model.Q5_K_M.gguf")));
    }

    @Test
    void aMissingQuantListsTheAvailableOnes() {
        var e = assertThrows(HubException.class, () -> pick("o/n:Q3_K_L", BARTOWSKI));
        assertEquals("o/n: no GGUF file of quant Q3_K_L; available: f16, IQ4_XS, Q4_0, Q4_0_4_4, Q4_K_M, Q4_K_S, Q8_0 (name one as o/n:QUANT)",
                e.getMessage());
        var none = assertThrows(HubException.class, () -> pick("o/n", List.of("README.md", "model.safetensors")));
        assertTrue(none.getMessage().contains("holds no .gguf file"), none.getMessage());
    }

    @Test
    void aRepositoryWithOneFileServesTheDefaultButNotANamedQuant() throws HubException {
        List<String> one = List.of("README.md", "tiny-F32.gguf");
        assertEquals("tiny-F32.gguf", pick("o/n", one));
        assertThrows(HubException.class, () -> pick("o/n:Q4_K_M", one));
    }

    @Test
    void splitFilesAndAmbiguousMatchesAreRefusedClearly() {
        List<String> split = List.of("Big-Q8_0/Big-Q8_0-00001-of-00002.gguf", "Big-Q8_0/Big-Q8_0-00002-of-00002.gguf", "Big-Q4_K_M.gguf");
        var e = assertThrows(HubException.class, () -> pick("o/n:Q8_0", split));
        assertTrue(e.getMessage().contains("split into 2 files") && e.getMessage().contains("not supported"), e.getMessage());
        var both = assertThrows(HubException.class, () -> pick("o/n", List.of("a-Q4_K_M.gguf", "b-Q4_K_M.gguf")));
        assertTrue(both.getMessage().contains("several files match quant Q4_K_M: a-Q4_K_M.gguf, b-Q4_K_M.gguf"), both.getMessage());
        assertEquals(List.of("Q4_K_M", "Q8_0"), QuantSelector.quants(split));
    }
}
