package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Each pre-tokenizer split against expectations worked out by hand from its expressions, and ByteLevelBpe's merge
 * order, byte fallback and special tokens on a toy vocabulary.
 */
class ByteLevelPreTokenizerTest {

    static List<String> split(String pre, String text) {
        List<String> warnings = new ArrayList<>();
        var p = PreTokenizer.forName(pre, warnings::add);
        assertEquals(List.of(), warnings, "no warning for a known name");
        List<String> words = p.split(text);
        assertEquals(text, String.join("", words), "words concatenate to the text");
        return words;
    }

    @Test
    void gpt2() {
        assertEquals(List.of("Hello", " world"), split("gpt-2", "Hello world"));
        assertEquals(List.of("I", "'m", " you", "'ve", " don", "'t"), split("gpt-2", "I'm you've don't"));
        assertEquals(List.of("I", "'", "M"), split("gpt-2", "I'M"), "contractions are case-sensitive");
        assertEquals(List.of("  ", " Hello"), split("gpt-2", "   Hello"), "the last space joins the word");
        assertEquals(List.of("a", "  \n", " b"), split("gpt-2", "a  \n b"));
        assertEquals(List.of("x", " 123456", "!!", " ?"), split("gpt-2", "x 123456!! ?"), "numbers are not grouped");
        assertEquals(List.of("нещо", " на"), split("gpt-2", "нещо на"), "letters are Unicode letters");
        assertEquals(List.of("a", "\u00A0", "b"), split("gpt-2", "a\u00A0b"), "no-break space is whitespace");
        assertEquals(List.of("end", "  "), split("gpt-2", "end  "));
        assertEquals(List.of("\u00BD", " months"), split("gpt-2", "\u00BD months"), "½ is a number (No)");
        for (String alias : List.of("mpt", "gpt-neox", "olmo")) {
            assertEquals(List.of("x", " 123456"), split(alias, "x 123456"));
        }
    }

    @Test
    void llama3() {
        assertEquals(List.of("123", "456", "7"), split("llama-bpe", "1234567"), "digits in groups of up to three");
        assertEquals(List.of("I", "'M", " you", "'Ve"), split("llama-bpe", "I'M you'Ve"), "contractions in any case");
        assertEquals(List.of("Hello", ",", " world", "!\n\n", "Bye"), split("llama-bpe", "Hello, world!\n\nBye"));
        assertEquals(List.of("$hello"), split("llama-bpe", "$hello"), "one leading non-letter joins letters");
        assertEquals(List.of(" ", " hi"), split("llama-bpe", "  hi"));
        assertEquals(List.of("a", " \n\n", "b"), split("llama-bpe", "a \n\nb"), "whitespace before newlines joins them");
        assertEquals(List.of(" ", "12", " ", "3"), split("llama-bpe", " 12 3"), "numbers take no leading space");
        assertTrue(PreTokenizer.ignoresMerges("llama-bpe"));
        assertTrue(PreTokenizer.addsBosByDefault("llama-bpe"));
        assertFalse(PreTokenizer.ignoresMerges("gpt-2"));
    }

    @Test
    void qwen2() {
        assertEquals(List.of("1", "2", "3", "4"), split("qwen2", "1234"), "every digit alone");
        assertEquals(List.of("I", "'LL", " go", ".\n", "Ok"), split("qwen2", "I'LL go.\nOk"));
        // the fullwidth comma is the one non-letter a letter run may take in front
        assertEquals(List.of("\u4F60\u597D", "\uFF0C\u4E16\u754C"), split("qwen2", "\u4F60\u597D\uFF0C\u4E16\u754C"));
    }

    @Test
    void deepseekCoder() {
        assertEquals(List.of("Hello", " world", " ", "1", "2", "3"), split("deepseek-coder", "Hello world 123"));
        assertEquals(List.of("a", "\n", "b", "\n"), split("deepseek-coder", "a\nb\n"), "newlines alone");
        assertEquals(List.of("f", "();"), split("deepseek-coder", "f();"));
    }

    @Test
    void deepseekLlm() {
        assertEquals(List.of("Hello", ",", " world", "!", "\n"), split("deepseek-llm", "Hello, world!\n"));
        assertEquals(List.of("abc", " ", "2024"), split("deepseek-llm", "abc 2024"), "numbers run whole");
        assertEquals(List.of("x", "  "), split("deepseek-llm", "x  "), "trailing whitespace");
        assertEquals(List.of("\u4F60\u597D"), split("deepseek-llm", "\u4F60\u597D"), "CJK run");
    }

    @Test
    void falcon() {
        assertEquals(List.of("x", "=", "123", "456", "7"), split("falcon", "x=1234567"));
        assertEquals(List.of("Hi", "!!", " there"), split("falcon", "Hi!! there"));
    }

    @Test
    void starcoderAndRefact() {
        for (String pre : List.of("starcoder", "refact")) {
            assertEquals(List.of("ab", "1", "2", " c"), split(pre, "ab12 c"));
            assertEquals(List.of("x", " ", "4", "2"), split(pre, "x 42"));
        }
    }

    @Test
    void llamaCppDefault() {
        assertEquals(List.of("Hello", ",", " ", "123", "45"), split("default", "Hello, 12345"));
        assertEquals(List.of("Hello", ",", " ", "123", "45"), PreTokenizer.forName(null, w -> {}).split("Hello, 12345"));
    }

    @Test
    void unknownNameWarnsAndUsesGpt2() {
        List<String> warnings = new ArrayList<>();
        var p = PreTokenizer.forName("no-such-pre", warnings::add);
        assertEquals(1, warnings.size());
        assertTrue(warnings.get(0).contains("no-such-pre"), warnings.get(0));
        assertEquals("gpt-2", p.name());
        assertEquals(List.of("x", " 123456"), p.split("x 123456"));
        assertEquals(1, warnings.size(), "warned once");
    }

    // ---- ByteLevelBpe on a toy vocabulary ----

    /** The 256 single-byte symbols, then extra pieces. */
    static ByteLevelBpe toy(String[] extra, TokenType[] extraTypes, String[] merges, boolean ignoreMerges) {
        List<String> pieces = new ArrayList<>();
        List<TokenType> types = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            pieces.add(String.valueOf(byteChar(b)));
            types.add(TokenType.NORMAL);
        }
        for (int i = 0; i < extra.length; i++) {
            pieces.add(extra[i]);
            types.add(extraTypes[i]);
        }
        return new ByteLevelBpe(pieces.toArray(String[]::new), types.toArray(TokenType[]::new), merges, -1, -1, -1,
                false, false, PreTokenizer.forName("gpt-2", w -> {}), ignoreMerges);
    }

    /** The byte-level alphabet written out from its definition. */
    static char byteChar(int b) {
        int next = 0x100;
        for (int x = 0; x < 256; x++) {
            boolean printable = (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
            char c = printable ? (char) x : (char) next++;
            if (x == b) {
                return c;
            }
        }
        throw new AssertionError();
    }

    @Test
    void byteLevelAlphabet() {
        assertEquals('\u0120', byteChar(' '));
        assertEquals('\u010A', byteChar('\n'));
        assertEquals('\u0100', byteChar(0));
        assertEquals('\u0143', byteChar(0xAD));
        assertEquals("Ġhi", ByteLevelBpe.toByteLevel(" hi"));
        assertEquals("Ã©", ByteLevelBpe.toByteLevel("é"));
        assertArrayEquals("é".getBytes(java.nio.charset.StandardCharsets.UTF_8), ByteLevelBpe.fromByteLevel("Ã©"));
    }

    @Test
    void mergesFollowRankNotLength() {
        var n = TokenType.NORMAL;
        TokenType[] t = {n, n, n};
        // "b c" first: a + bc, and "a bc" is no merge
        var first = toy(new String[] {"ab", "bc", "abc"}, t, new String[] {"b c", "a b", "ab c"}, false);
        assertArrayEquals(new int[] {'a', 257}, first.encode("abc", false, false));
        // "a b" first, then "ab c"
        var second = toy(new String[] {"ab", "bc", "abc"}, t, new String[] {"a b", "ab c", "b c"}, false);
        assertArrayEquals(new int[] {258}, second.encode("abc", false, false));
        // ties go to the leftmost pair: "aaa" with "a a" -> aa + a
        var aa = toy(new String[] {"aa"}, new TokenType[] {n}, new String[] {"a a"}, false);
        assertArrayEquals(new int[] {256, 'a'}, aa.encode("aaa", false, false));
        assertArrayEquals(new int[] {256, 256}, aa.encode("aaaa", false, false));
        assertEquals("aaaa", aa.decode(new int[] {256, 256}));
        // ignore_merges: a whole word in the vocabulary wins even without a merge path
        var whole = toy(new String[] {"abc"}, new TokenType[] {n}, new String[] {}, true);
        assertArrayEquals(new int[] {256}, whole.encode("abc", false, false));
        var noWhole = toy(new String[] {"abc"}, new TokenType[] {n}, new String[] {}, false);
        assertArrayEquals(new int[] {'a', 'b', 'c'}, noWhole.encode("abc", false, false));
        // a merge whose result is not a token falls back to the byte tokens
        var missing = toy(new String[] {}, new TokenType[] {}, new String[] {"x y"}, false);
        assertArrayEquals(new int[] {'x', 'y'}, missing.encode("xy", false, false));
    }

    @Test
    void specialAndUserDefinedTokens() {
        var tok = toy(new String[] {"<|im_end|>", "<tool>", "ab"},
                new TokenType[] {TokenType.CONTROL, TokenType.USER_DEFINED, TokenType.NORMAL},
                new String[] {"a b"}, false);
        // user-defined tokens are always matched; control tokens only when parsing specials
        assertArrayEquals(new int[] {257, 258}, tok.encode("<tool>ab", false, false));
        assertArrayEquals(new int[] {258, 256}, tok.encode("ab<|im_end|>", false, true));
        int[] literal = tok.encode("ab<|im_end|>", false, false);
        assertEquals(1 + "<|im_end|>".length(), literal.length);
        // control prints nothing, user-defined prints its text
        assertEquals("ab<tool>", tok.decode(new int[] {258, 256, 257}));
        assertTrue(tok.isEndOfGeneration(256));
        assertFalse(tok.isEndOfGeneration(257));
    }
}
