package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import dev.infercl.gguf.GgufFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * llama.cpp's tokenizer test vectors for the LLaMA SentencePiece vocabulary (ggml-vocab-llama-spm.gguf with
 * its .inp/.out files), run the way llama.cpp's test-tokenizer-0 runs them: no BOS ("add_special" false), no
 * special-token parsing.
 *
 * <p>The .inp file holds the inputs, each followed by the line {@code __ggml_vocab_test__}; an input may span
 * lines (or be empty), so the file is split on "\n__ggml_vocab_test__\n". The .out file has one line of
 * space-separated expected ids per input.
 *
 * <p>Round trip: llama.cpp's test-tokenizer-0 only compares ids. We also check decode(encode(x)) == x, which
 * holds for every input here: decode drops exactly the one space the encoder prefixed.
 */
class SentencePieceVocabTest {

    record Case(String input, int[] expected) {}

    static List<Case> readCases(Path gguf) throws IOException {
        String inp = Files.readString(Path.of(gguf + ".inp"), StandardCharsets.UTF_8);
        List<String> outLines = Files.readAllLines(Path.of(gguf + ".out"), StandardCharsets.UTF_8);
        String sep = "\n__ggml_vocab_test__\n";
        List<String> inputs = new ArrayList<>();
        int pos = 0;
        while (pos < inp.length()) {
            int next = inp.indexOf(sep, pos);
            if (next < 0) {
                next = inp.length();
            }
            inputs.add(inp.substring(pos, next));
            pos = next + sep.length();
        }
        assertEquals(outLines.size(), inputs.size(), "one .out line per .inp case");
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            String line = outLines.get(i).strip();
            int[] ids = line.isEmpty() ? new int[0] : Arrays.stream(line.split("\\s+")).mapToInt(Integer::parseInt).toArray();
            cases.add(new Case(inputs.get(i), ids));
        }
        return cases;
    }

    @Test
    void llamaSpmVocabMatchesLlamaCpp() throws IOException {
        Path path = SharedData.require("vocab/ggml-vocab-llama-spm.gguf");
        List<Case> cases = readCases(path);
        try (var file = GgufFile.open(path)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            assertInstanceOf(SentencePieceBpe.class, tok);
            List<String> failures = new ArrayList<>();
            int passed = 0;
            for (Case c : cases) {
                int[] got = tok.encode(c.input(), false, false);
                String back = tok.decode(got);
                if (Arrays.equals(c.expected(), got) && back.equals(c.input())) {
                    passed++;
                } else {
                    failures.add("input " + quote(c.input()) + ": expected " + Arrays.toString(c.expected())
                            + " got " + Arrays.toString(got) + " decoded " + quote(back));
                }
            }
            System.out.printf("SentencePieceVocabTest: %d/%d cases pass%n", passed, cases.size());
            assertTrue(failures.isEmpty(), () -> failures.size() + " of " + cases.size() + " cases fail:\n"
                    + String.join("\n", failures));
            assertEquals(46, cases.size());
        }
    }

    @Test
    void bosAndDefaultsFromMetadata() throws IOException {
        Path path = SharedData.require("vocab/ggml-vocab-llama-spm.gguf");
        try (var file = GgufFile.open(path)) {
            var tok = (SentencePieceBpe) Tokenizer.fromGguf(file);
            assertEquals(32000, tok.vocabSize());
            assertEquals(1, tok.bosId());
            assertEquals(2, tok.eosId());
            assertTrue(tok.addBosByDefault());
            assertTrue(tok.isEndOfGeneration(2));
            assertArrayEquals(new int[] {1, 15043, 3186}, tok.encode("Hello world", true, false));
            assertEquals("Hello world", tok.decode(new int[] {1, 15043, 3186}));
            // control tokens are plain text unless parseSpecial
            assertArrayEquals(new int[] {1, 15043}, tok.encode("<s>Hello", false, true));
            assertEquals("Hello", tok.decode(tok.encode("<s>Hello", false, true)));
        }
    }

    @Test
    void hundredThousandCharacterPromptWithTheRealVocabulary() throws IOException {
        Path path = SharedData.require("vocab/ggml-vocab-llama-spm.gguf");
        var sb = new StringBuilder();
        List<Case> cases = readCases(path);
        for (int i = 0; sb.length() < 100_000; i++) {
            sb.append(cases.get(i % cases.size()).input()).append(' ');
        }
        String text = sb.toString();
        try (var file = GgufFile.open(path)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10), () -> {
                long t0 = System.nanoTime();
                int[] ids = tok.encode(text, true, false);
                long ms = (System.nanoTime() - t0) / 1_000_000;
                System.out.printf("SentencePieceVocabTest: %d chars -> %d tokens in %d ms%n", text.length(), ids.length, ms);
                assertEquals(text, tok.decode(ids));
            });
        }
    }

    static String quote(String s) {
        return "\"" + s.replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
