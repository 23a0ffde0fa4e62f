package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.infercl.FuzzSupport;
import dev.infercl.Stories;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufValueType;
import dev.infercl.gguf.GgufWriter;
import dev.infercl.gguf.TensorInfo;
import dev.infercl.tokenizer.ChatMessage;
import dev.infercl.tokenizer.ChatTemplateException;
import dev.infercl.tokenizer.TokenizerException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Model-settings validation: stories260K (test-models) rewritten with fuzzed metadata — up to four edits, each
 * removing a key or giving it a value of any type (scalar, string or array; the keys InferCL reads, plus arbitrary
 * ones), and possibly one tensor left out — then loaded through the Java API on the reference backend, its
 * tokenizer and chat template used, and two tokens generated.
 *
 * <p>Invariants: a file InferCL does not accept fails with an {@link IOException} — {@link dev.infercl.gguf.GgufFormatException
 * GgufFormatException}, {@link ModelLoadException}, {@link UnsupportedModelException}, the tokenizer's metadata
 * errors — naming the problem; a chat template that cannot render fails with {@link ChatTemplateException}; a file it
 * accepts generates. Nothing else escapes, and no input takes long.
 *
 * <p>Seeds under src/test/resources/dev/infercl/model/ModelSettingsFuzzTestInputs/loadEdited: the empty input (no
 * edit: the model as it is) and the fuzzer's finds.
 */
class ModelSettingsFuzzTest {

    /** Keys the loader reads (architecture-specific ones under llama.); an edit picks one of these or any string. */
    static final List<String> KEYS = List.of("general.architecture", "general.name", "general.alignment",
            "llama.context_length", "llama.embedding_length", "llama.block_count", "llama.feed_forward_length",
            "llama.attention.head_count", "llama.attention.head_count_kv", "llama.attention.key_length",
            "llama.attention.value_length", "llama.attention.layer_norm_rms_epsilon", "llama.attention.layer_norm_epsilon",
            "llama.attention.sliding_window", "llama.attention.causal", "llama.rope.dimension_count",
            "llama.rope.freq_base", "llama.rope.scaling.type", "llama.rope.scaling.factor", "llama.rope.scale_linear",
            "llama.rope.scaling.original_context_length", "llama.rope.scaling.attn_factor",
            "llama.rope.scaling.yarn_beta_fast", "llama.rope.scaling.yarn_beta_slow", "llama.rope.scaling.yarn_ext_factor",
            "llama.rope.scaling.yarn_log_multiplier", "llama.rope.scaling.yarn_attn_factor", "llama.vocab_size",
            "llama.expert_count", "llama.attn_logit_softcapping", "llama.final_logit_softcapping",
            "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
            "tokenizer.ggml.merges", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.eot_token_id",
            "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_space_prefix",
            "tokenizer.chat_template");

    private static final GgufValueType[] TYPES = GgufValueType.values();

    /** One change to the metadata: remove the key (value null) or set it. */
    record Edit(String key, GgufValueType type, GgufValueType elementType, Object value) {}

    /** stories260K's metadata and tensors, read once. */
    private record Base(List<GgufFile.MetadataEntry> metadata, List<TensorInfo> tensors, List<byte[]> data) {}

    private static Base base;
    private static final AtomicLong COUNTER = new AtomicLong();

    private static synchronized Base base() {
        if (base == null) {
            try (GgufFile f = GgufFile.open(Stories.MODEL)) {
                List<byte[]> data = new ArrayList<>();
                for (TensorInfo t : f.tensors()) data.add(f.data(t).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                base = new Base(List.copyOf(f.metadata()), List.copyOf(f.tensors()), data);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return base;
    }

    @FuzzTest
    @DictionaryEntries({"llama", "gpt2", "qwen2", "qwen3", "phi3", "gemma2", "yarn", "longrope", "linear", "none",
            "llama-bpe", "<s>", "</s>", "{{ messages }}", "{% for m in messages %}"})
    void loadEdited(FuzzedDataProvider data) {
        List<Edit> edits = new ArrayList<>();
        int n = data.consumeInt(0, 4);
        for (int i = 0; i < n; i++) edits.add(edit(data));
        int drop = data.consumeBoolean() ? data.consumeInt(0, base().tensors().size() - 1) : -1;
        FuzzSupport.bounded(() -> loadChecked(edits, drop));
    }

    static Edit edit(FuzzedDataProvider data) {
        int k = data.consumeInt(0, KEYS.size());
        String key = k < KEYS.size() ? KEYS.get(k) : data.consumeString(40);
        return switch (data.consumeInt(0, 3)) {
            case 0 -> new Edit(key, null, null, null);
            case 1 -> {
                GgufValueType t = TYPES[data.consumeInt(0, TYPES.length - 1)];
                yield t == GgufValueType.ARRAY ? new Edit(key, null, null, null) : new Edit(key, t, null, scalar(data, t));
            }
            case 2 -> new Edit(key, GgufValueType.STRING, null, data.consumeString(64));
            default -> {
                GgufValueType et = TYPES[data.consumeInt(0, TYPES.length - 2)]; // not ARRAY: nesting is unsupported
                int len = data.consumeInt(0, 600);
                yield new Edit(key, GgufValueType.ARRAY, et, array(data, et, len));
            }
        };
    }

    private static Object scalar(FuzzedDataProvider data, GgufValueType t) {
        return switch (t) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> integer(data, t);
            case FLOAT32 -> data.consumeFloat();
            case FLOAT64 -> data.consumeDouble();
            case BOOL -> data.consumeBoolean();
            case STRING -> data.consumeString(64);
            case ARRAY -> throw new AssertionError();
        };
    }

    private static long integer(FuzzedDataProvider data, GgufValueType t) {
        return switch (t) {
            case UINT8 -> data.consumeInt(0, 255);
            case INT8 -> data.consumeByte();
            case UINT16 -> data.consumeInt(0, 65535);
            case INT16 -> data.consumeShort();
            case UINT32 -> data.consumeLong(0, 0xFFFFFFFFL);
            case INT32 -> data.consumeInt();
            default -> data.consumeLong();
        };
    }

    private static Object array(FuzzedDataProvider data, GgufValueType et, int len) {
        switch (et) {
            case FLOAT32 -> {
                float[] v = new float[len];
                for (int i = 0; i < len; i++) v[i] = data.consumeFloat();
                return v;
            }
            case FLOAT64 -> {
                double[] v = new double[len];
                for (int i = 0; i < len; i++) v[i] = data.consumeDouble();
                return v;
            }
            case BOOL -> {
                boolean[] v = new boolean[len];
                for (int i = 0; i < len; i++) v[i] = data.consumeBoolean();
                return v;
            }
            case STRING -> {
                String[] v = new String[len];
                for (int i = 0; i < len; i++) v[i] = data.consumeString(16);
                return v;
            }
            default -> {
                long[] v = new long[len];
                for (int i = 0; i < len; i++) v[i] = integer(data, et);
                return v;
            }
        }
    }

    /** Writes the edited model, loads it and uses it; fails on anything but the typed errors. */
    static void loadChecked(List<Edit> edits, int drop) throws IOException {
        Path p = FuzzSupport.scratch().resolve("model-" + COUNTER.incrementAndGet() + ".gguf");
        try {
            if (!write(edits, drop, p)) return;
            try (Model model = Model.load(p, LoadOptions.defaults().withBackend(BackendKind.REFERENCE).withContextLength(16))) {
                use(model);
            } catch (IOException e) {
                assertNotNull(e.getMessage());
            }
        } finally {
            Files.deleteIfExists(p);
        }
    }

    private static void use(Model model) throws IOException {
        var tok = model.tokenizer();
        int[] ids = tok.encode("Once upon a time", true, false);
        for (int id : ids) assertTrue(id >= 0 && id < tok.vocabSize(), "id " + id);
        tok.decode(ids);
        try {
            model.chatTemplate(null).render(List.of(ChatMessage.user("Hi")), true);
        } catch (ChatTemplateException e) {
            assertNotNull(e.getMessage());
        }
        try (Session s = model.newSession()) {
            s.generate("Once", GenerateOptions.greedy(2), (id, text) -> { });
        }
    }

    // ---- findings, as plain tests ----------------------------------------------------------------------------

    /**
     * Finding (seed finding-empty-tokenizer-model): a tokenizer model InferCL does not implement ('' here) escaped
     * Model.load as an UnsupportedOperationException; it is a TokenizerException (an IOException) naming the key.
     */
    @Test
    void unknownTokenizerModelIsATypedError() throws IOException {
        Path p = FuzzSupport.scratch().resolve("model-unknown-tokenizer.gguf");
        try {
            assertTrue(write(List.of(new Edit("tokenizer.ggml.model", GgufValueType.STRING, null, "")), -1, p));
            var e = assertThrows(TokenizerException.class,
                    () -> Model.load(p, LoadOptions.defaults().withBackend(BackendKind.REFERENCE)));
            assertTrue(e.getMessage().contains("tokenizer model '' is not supported") && e.getMessage().contains("tokenizer.ggml.model"),
                    e.getMessage());
        } finally {
            Files.deleteIfExists(p);
        }
    }

    /** The base model with the edits; false when GgufWriter refuses the edit (a value it cannot write). */
    private static boolean write(List<Edit> edits, int drop, Path p) throws IOException {
        Base b = base();
        var meta = new java.util.LinkedHashMap<String, Edit>();
        for (GgufFile.MetadataEntry e : b.metadata()) {
            if (e.value() instanceof GgufFile.MetadataArray a) meta.put(e.key(), new Edit(e.key(), GgufValueType.ARRAY, a.elementType(), a.values()));
            else meta.put(e.key(), new Edit(e.key(), e.type(), null, e.value()));
        }
        for (Edit e : edits) {
            if (e.value() == null) meta.remove(e.key());
            else meta.put(e.key(), e);
        }
        var w = new GgufWriter();
        try {
            for (Edit e : meta.values()) {
                if (e.type() == GgufValueType.ARRAY) w.putArray(e.key(), e.elementType(), e.value());
                else w.put(e.key(), e.type(), e.value());
            }
            for (int i = 0; i < b.tensors().size(); i++) {
                if (i == drop) continue;
                TensorInfo t = b.tensors().get(i);
                w.addTensor(t.name(), t.type(), t.dims(), b.data().get(i));
            }
            Edit align = meta.get("general.alignment");
            if (align != null && align.value() instanceof Long a && (a < 0 || a > 1 << 16)) {
                return false; // a valid but huge alignment only pads the file out to gigabytes
            }
            w.write(p);
        } catch (IllegalArgumentException | IllegalStateException e) {
            return false; // a value the writer refuses to lay out: an alignment that is no power of two
        }
        return true;
    }
}
