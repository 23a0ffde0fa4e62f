package dev.infercl.model;

import static dev.infercl.EditedStories.Value.f32;
import static dev.infercl.EditedStories.Value.i32;
import static dev.infercl.EditedStories.Value.str;
import static dev.infercl.EditedStories.Value.u32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.EditedStories;
import dev.infercl.Stories;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.backend.Backend;
import dev.infercl.backend.DeviceOutOfMemoryException;
import dev.infercl.backend.cpu.CpuBackend;
import dev.infercl.backend.opencl.ClOptions;
import dev.infercl.backend.opencl.ClTestSupport;
import dev.infercl.gguf.GgufValueType;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Settings a model file can carry that no allocation may be sized from: each is refused at load with one line naming
 * the key, its value and why, on the real stories260K with that one value edited; a trained context of 2³¹−1 runs
 * with the default context, and a context too large for the backend is refused with the bytes it needs.
 */
class ModelSettingsTest {

    @TempDir
    Path dir;

    static Stream<Arguments> hostileSettings() {
        return Stream.of(
                Arguments.of("llama.block_count", u32(Integer.MAX_VALUE), "'llama.block_count' is 2147483647 but the file has tensors for 5 layers"),
                Arguments.of("llama.block_count", u32(4), "'llama.block_count' is 4 but the file has tensors for 5 layers"),
                Arguments.of("llama.block_count", u32(0), "'llama.block_count' is 0, expected a positive count"),
                Arguments.of("llama.block_count", i32(-1), "'llama.block_count' is -1, expected a positive count"),
                Arguments.of("llama.embedding_length", u32(128), "'llama.embedding_length' is 128 but tensor 'token_embd.weight' has shape [64, 512]"),
                Arguments.of("llama.embedding_length", u32(Integer.MAX_VALUE), "'llama.embedding_length' is 2147483647 but tensor 'token_embd.weight'"),
                Arguments.of("llama.context_length", u32(0), "'llama.context_length' is 0, expected a positive count"),
                Arguments.of("llama.attention.head_count", u32(0), "'llama.attention.head_count' is 0, expected a positive count"),
                Arguments.of("llama.attention.head_count", u32(100), "'llama.attention.head_count' is 100, more heads than llama.embedding_length = 64"),
                Arguments.of("llama.attention.head_count", u32(Integer.MAX_VALUE), "'llama.attention.head_count' is 2147483647, more heads than"),
                Arguments.of("llama.attention.head_count_kv", u32(3), "'llama.attention.head_count_kv' is 3: llama.attention.head_count = 8 is not a multiple of it"),
                Arguments.of("llama.attention.head_count_kv", u32(8), "'llama.attention.head_count_kv' is 8 but tensor 'blk.0.attn_k.weight' has shape [64, 32]"),
                Arguments.of("llama.attention.key_length", u32(Integer.MAX_VALUE), "'llama.attention.key_length' is 2147483647"),
                Arguments.of("llama.feed_forward_length", u32(200), "'llama.feed_forward_length' is 200 but tensor 'blk.0.ffn_down.weight' has shape [172, 64]"),
                Arguments.of("llama.rope.dimension_count", u32(9), "'llama.rope.dimension_count' is 9, expected an even count of at most the head width 8"),
                Arguments.of("llama.rope.dimension_count", u32(16), "'llama.rope.dimension_count' is 16, expected an even count"),
                Arguments.of("llama.rope.dimension_count", u32(0), "'llama.rope.dimension_count' is 0, expected a positive count"),
                Arguments.of("llama.vocab_size", u32(600), "'llama.vocab_size' is 600 but tensor 'token_embd.weight' has shape [64, 512]"),
                Arguments.of("llama.attention.layer_norm_rms_epsilon", f32(Float.NaN), "'llama.attention.layer_norm_rms_epsilon' is NaN, expected a positive finite number"),
                Arguments.of("llama.attention.layer_norm_rms_epsilon", f32(-1e-5f), "'llama.attention.layer_norm_rms_epsilon' is -1.0E-5, expected a positive"),
                Arguments.of("llama.attention.layer_norm_rms_epsilon", f32(0f), "'llama.attention.layer_norm_rms_epsilon' is 0.0, expected a positive"),
                Arguments.of("llama.rope.freq_base", f32(Float.NaN), "'llama.rope.freq_base' is NaN, expected a positive finite number"),
                Arguments.of("llama.rope.freq_base", f32(Float.NEGATIVE_INFINITY), "'llama.rope.freq_base' is -Infinity, expected a positive"),
                Arguments.of("llama.rope.freq_base", f32(0f), "'llama.rope.freq_base' is 0.0, expected a positive"),
                Arguments.of("tokenizer.ggml.bos_token_id", u32(600), "'tokenizer.ggml.bos_token_id' is 600, outside the vocabulary of 512 tokens"),
                Arguments.of("tokenizer.ggml.eos_token_id", u32(512), "'tokenizer.ggml.eos_token_id' is 512, outside the vocabulary of 512 tokens"),
                // names: an unknown value is named with its NUL (or other control byte) escaped
                Arguments.of("tokenizer.ggml.model", str("gpt2\0"), "tokenizer model 'gpt2\\0' is not supported yet (metadata 'tokenizer.ggml.model'"),
                Arguments.of("general.architecture", str("llama\0"), "architecture 'llama\\0' (general.architecture) is not supported"),
                Arguments.of("llama.rope.scaling.type", str("yarn\0\u001b[2J"), "'llama.rope.scaling.type' is 'yarn\\0\\x1b[2J'"));
    }

    @ParameterizedTest(name = "{0} = {1}")
    @MethodSource("hostileSettings")
    void aHostileSettingIsNamedBeforeAnythingIsAllocated(String key, EditedStories.Value value, String expected) throws Exception {
        Path p = EditedStories.with(dir.resolve("edited.gguf"), key, value);
        Exception e = assertThrows(Exception.class, () -> Model.load(p, LoadOptions.defaults().withBackend(BackendKind.CPU)).close());
        String msg = e.getMessage();
        assertTrue(msg.startsWith("edited.gguf: "), msg);
        assertTrue(msg.contains(expected), msg);
        assertFalse(msg.contains("\n") || msg.contains("\0"), "one line, no raw NUL: " + msg);
        assertFalse(e instanceof ArithmeticException, "an overflow is not an answer: " + msg);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id"})
    void theNoneMarkerOfASpecialTokenAndAPaddingIdOutsideTheVocabularyStillLoad(String key) throws Exception {
        // converters write UINT32 0xFFFFFFFF for "none"; llama.cpp falls back for an out-of-range padding id (unused here)
        Path none = EditedStories.with(dir.resolve("none.gguf"), key, u32(0xFFFFFFFFL));
        Path pad = EditedStories.with(dir.resolve("pad.gguf"), "tokenizer.ggml.padding_token_id", u32(512));
        for (Path p : new Path[] {none, pad}) {
            try (Model m = Model.load(p, LoadOptions.defaults().withBackend(BackendKind.CPU))) {
                assertEquals(512, m.config().vocabSize());
            }
        }
    }

    /** The stories model with a trained context of 2³¹−1. */
    private Path hugeContext() throws Exception {
        return EditedStories.with(dir.resolve("ctx.gguf"), "llama.context_length", new EditedStories.Value(GgufValueType.UINT32, (long) Integer.MAX_VALUE));
    }

    private static LoadOptions on(String backend) {
        if (backend.equals("OPENCL")) ClTestSupport.requireOpenCl();
        return LoadOptions.defaults().withBackend(BackendKind.valueOf(backend)).withKvCacheF32(true);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"CPU", "OPENCL"})
    void aHugeTrainedContextRunsWithTheDefaultContext(String backend) throws Exception {
        int[] expected;
        try (Model m = Model.load(Stories.MODEL, on(backend)); Session s = m.newSession()) {
            expected = s.generate("Once upon a time", GenerateOptions.greedy(24), null).tokens();
        }
        try (Model m = Model.load(hugeContext(), on(backend)); Session s = m.newSession()) {
            assertEquals(Integer.MAX_VALUE, m.config().contextLength());
            assertEquals(ModelConfig.DEFAULT_CONTEXT, s.contextLength());
            var g = s.generate("Once upon a time", GenerateOptions.greedy(24), null);
            assertArrayEquals(expected, g.tokens(), "the same story as the unedited model, not a 'context full' stop");
        }
    }

    /** The "-c N" a refusal suggests. */
    private static int hint(String message) {
        Matcher m = Pattern.compile("at most (\\d+) tokens fit: -c (\\d+)").matcher(message);
        assertTrue(m.find(), message);
        assertEquals(m.group(1), m.group(2));
        return Integer.parseInt(m.group(1));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"CPU", "OPENCL"})
    void aContextTheBackendCannotHoldIsRefusedWithTheBytesItNeeds(String backend) throws Exception {
        // asked for at load: refused before the weights are uploaded
        var load = assertThrows(DeviceOutOfMemoryException.class, () -> Model.load(hugeContext(), on(backend).withContextLength(Integer.MAX_VALUE)).close());
        String msg = load.getMessage();
        assertTrue(msg.contains("a context of 2147483647 tokens needs ") && msg.contains(" GiB (keys and values of 5 layers × 2147483648 positions"), msg);
        assertFalse(msg.contains("\n"), msg);
        assertTrue(load.bytesNeeded() > (1L << 40), "bytes needed: " + load.bytesNeeded());
        hint(msg);
        // asked for by a session of a model loaded with the default: refused, never a cache silently too small
        try (Model m = Model.load(hugeContext(), on(backend))) {
            var e = assertThrows(DeviceOutOfMemoryException.class, () -> m.newSession(Integer.MAX_VALUE).close());
            assertTrue(e.getMessage().startsWith("a context of 2147483647 tokens needs "), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"CPU", "OPENCL"})
    void theSuggestedContextIsTheLargestThatPassesTheCheck(String backend) throws Exception {
        // checked without allocating: the suggestion passes and one KV block (16 positions) more does not; the JVM
        // heap's free bytes move with every allocation, so there the bound is only checked as the suggestion passing
        // and twice as much failing
        boolean cpu = backend.equals("CPU");
        Backend b = cpu ? new CpuBackend(CpuBackend.Mode.FAST, 1) : ClTestSupport.open(ClOptions.defaults());
        try (b; ModelFile f = ModelFile.open(hugeContext(), null)) {
            var e = assertThrows(DeviceOutOfMemoryException.class, () -> Transformer.requireFits(f.config(), b, Integer.MAX_VALUE, 512));
            int n = hint(e.getMessage());
            assertTrue(n >= Transformer.KV_BLOCK_SIZE && n % Transformer.KV_BLOCK_SIZE == 0, e.getMessage());
            Transformer.requireFits(f.config(), b, n, 512);
            int over = cpu ? 2 * n + Transformer.KV_BLOCK_SIZE : n + Transformer.KV_BLOCK_SIZE;
            assertThrows(DeviceOutOfMemoryException.class, () -> Transformer.requireFits(f.config(), b, over, 512));
        }
    }
}
