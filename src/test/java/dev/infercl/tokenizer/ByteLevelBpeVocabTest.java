package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.SharedData;
import dev.infercl.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * llama.cpp's tokenizer test vectors for the GPT-2 byte-level BPE vocabulary (ggml-vocab-gpt-2.gguf with its .inp and
 * .out files), run as llama.cpp's test-tokenizer-0 runs them: no BOS, no control-token parsing. Also the
 * tokenizers of the small architecture models in ../shared/arch against llama.cpp's prompt ids.
 */
class ByteLevelBpeVocabTest {

    @Test
    void gpt2VocabMatchesLlamaCpp() throws IOException {
        Path path = SharedData.require("vocab/ggml-vocab-gpt-2.gguf");
        var cases = SentencePieceVocabTest.readCases(path);
        try (var file = GgufFile.open(path)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            assertInstanceOf(ByteLevelBpe.class, tok);
            List<String> failures = new ArrayList<>();
            int passed = 0;
            for (var c : cases) {
                int[] got = tok.encode(c.input(), false, false);
                String back = tok.decode(got);
                var stream = tok.streamDecoder();
                var streamed = new StringBuilder();
                for (int id : got) {
                    streamed.append(stream.accept(id));
                }
                streamed.append(stream.flush());
                if (Arrays.equals(c.expected(), got) && back.equals(c.input()) && streamed.toString().equals(back)) {
                    passed++;
                } else {
                    failures.add("input " + SentencePieceVocabTest.quote(c.input()) + ": expected "
                            + Arrays.toString(c.expected()) + " got " + Arrays.toString(got) + " decoded "
                            + SentencePieceVocabTest.quote(back));
                }
            }
            System.out.printf("ByteLevelBpeVocabTest: gpt-2 vectors %d/%d cases pass%n", passed, cases.size());
            assertTrue(failures.isEmpty(), () -> failures.size() + " of " + cases.size() + " cases fail:\n"
                    + String.join("\n", failures));
            assertEquals(46, cases.size());
        }
    }

    @Test
    void gpt2MetadataAndSpecials() throws IOException {
        Path path = SharedData.require("vocab/ggml-vocab-gpt-2.gguf");
        try (var file = GgufFile.open(path)) {
            var tok = (ByteLevelBpe) Tokenizer.fromGguf(file);
            assertEquals(50257, tok.vocabSize());
            assertEquals(50256, tok.bosId());
            assertEquals(50256, tok.eosId());
            assertFalse(tok.addBosByDefault());
            assertEquals("gpt-2", tok.preTokenizer().name());
            assertTrue(tok.isEndOfGeneration(50256));
            assertFalse(tok.isEndOfGeneration(15496));
            assertEquals(TokenType.CONTROL, tok.type(50256));
            // <|endoftext|> is text unless special tokens are parsed; as a control token it prints nothing
            assertArrayEquals(new int[] {15496, 50256, 15496}, tok.encode("Hello<|endoftext|>Hello", false, true));
            int[] plain = tok.encode("Hello<|endoftext|>", false, false);
            assertFalse(Arrays.stream(plain).anyMatch(id -> id == 50256));
            assertEquals("Hello<|endoftext|>", tok.decode(plain));
            assertEquals("HelloHello", tok.decode(new int[] {15496, 50256, 15496}));
            assertEquals("Ġworld", tok.piece(995));
            assertArrayEquals(" world".getBytes(), tok.tokenBytes(995));
        }
    }

    @Test
    void longInputIsFast() throws IOException {
        Path path = SharedData.require("vocab/ggml-vocab-gpt-2.gguf");
        var cases = SentencePieceVocabTest.readCases(path);
        var sb = new StringBuilder();
        for (int i = 0; sb.length() < 100_000; i++) {
            sb.append(cases.get(i % cases.size()).input()).append(' ');
        }
        sb.append("a".repeat(20_000)); // one 20k-char word: no quadratic merge loop
        String text = sb.toString();
        try (var file = GgufFile.open(path)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                long t0 = System.nanoTime();
                int[] ids = tok.encode(text, false, false);
                long ms = (System.nanoTime() - t0) / 1_000_000;
                System.out.printf("ByteLevelBpeVocabTest: %d chars -> %d tokens in %d ms%n", text.length(), ids.length, ms);
                assertEquals(text, tok.decode(ids));
            });
        }
    }

    @Test
    void sharedAcrossThreads() throws Exception {
        Path path = SharedData.require("vocab/ggml-vocab-gpt-2.gguf");
        var cases = SentencePieceVocabTest.readCases(path);
        try (var file = GgufFile.open(path)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
                List<java.util.concurrent.Future<Boolean>> results = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    int shift = t;
                    results.add(pool.submit(() -> {
                        for (int i = 0; i < cases.size() * 5; i++) {
                            var c = cases.get((i + shift) % cases.size());
                            if (!Arrays.equals(c.expected(), tok.encode(c.input(), false, false))) {
                                return false;
                            }
                        }
                        return true;
                    }));
                }
                for (var r : results) {
                    assertTrue(r.get());
                }
            }
        }
    }

    /** The prompt ids llama.cpp produced for the shared architecture models (gpt2, qwen2: byte-level; phi3: SPM). */
    @ParameterizedTest
    @CsvSource({"gpt2,1", "gpt2,2", "qwen2,1", "qwen2,2", "phi3,1", "phi3,2"})
    void archModelPromptIdsMatchLlamaCpp(String arch, int n) throws IOException {
        Path model = SharedData.require("arch/" + arch + ".gguf");
        JsonNode json = new ObjectMapper().readTree(SharedData.require("arch/" + arch + "." + n + ".json").toFile());
        String prompt = json.get("prompt").asText();
        boolean addBos = json.get("add_bos").asBoolean();
        int[] expected = new int[json.get("prompt_ids").size()];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = json.get("prompt_ids").get(i).asInt();
        }
        try (var file = GgufFile.open(model)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            assertEquals(addBos, tok.addBosByDefault(), "add_bos from metadata");
            Class<? extends Tokenizer> kind = arch.equals("phi3") ? SentencePieceBpe.class : ByteLevelBpe.class;
            assertInstanceOf(kind, tok);
            assertArrayEquals(expected, tok.encode(prompt, addBos, false));
            assertEquals(prompt, tok.decode(tok.encode(prompt, addBos, false)));
        }
    }
}
