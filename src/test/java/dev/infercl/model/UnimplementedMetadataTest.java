package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.infercl.api.BackendKind;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.gguf.GgufWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Metadata llama.cpp reads for the supported architectures that would change the arithmetic and that InferCL does
 * not implement is refused at load, the message naming the file, the key and its value (the rope scalings InferCL
 * refuses are in {@link RopeScalingModelTest}).
 */
class UnimplementedMetadataTest {
    static Path withMetadata(String arch, Path dir, Consumer<GgufWriter> extra) throws Exception {
        return RopeScalingModelTest.withMetadata(arch, dir, extra);
    }

    static void refused(Class<? extends ModelLoadException> type, Path p, String... parts) {
        RopeScalingModelTest.refused(type, p, parts);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({"expert_count, 8", "expert_used_count, 2", "expert_group_count, 4"})
    void mixtureOfExpertsIsRefused(String key, int value, @TempDir Path dir) throws Exception {
        refused(UnsupportedModelException.class, withMetadata("llama", dir, g -> g.putUInt32("llama." + key, value)),
                "'llama." + key + "'", "is " + value, "mixture-of-experts");
    }

    @Test
    void nonCausalAttentionIsRefused(@TempDir Path dir) throws Exception {
        refused(UnsupportedModelException.class, withMetadata("qwen3", dir, g -> g.putBool("qwen3.attention.causal", false)),
                "'qwen3.attention.causal'", "false");
        // causal = true says what InferCL does anyway
        Path ok = ArchSpecModels.write(ArchSpecModels.spec("qwen3"), dir.resolve("ok.gguf"), Set.of(), Map.of(),
                g -> g.putBool("qwen3.attention.causal", true));
        try (var m = Model.load(ok, LoadOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            assertEquals("qwen3", m.config().arch().name());
        }
    }

    @Test
    void perLayerCountsThatDifferAreRefused(@TempDir Path dir) throws Exception {
        var s = ArchSpecModels.spec("qwen2");   // 3 layers, 4 heads, 2 KV heads
        refused(UnsupportedModelException.class, withMetadata("qwen2", dir, g -> g.putInt32Array("qwen2.attention.head_count_kv", new int[] {2, 2, 4})),
                "'qwen2.attention.head_count_kv'", "[2, 2, 4]");
        refused(ModelLoadException.class, withMetadata("qwen2", dir, g -> g.putInt32Array("qwen2.feed_forward_length", new int[] {128, 128})),
                "'qwen2.feed_forward_length'", "2 entries for 3 layers");
        // one value per layer, all equal: the same model as the plain count
        Path ok = ArchSpecModels.write(s, dir.resolve("ok.gguf"), Set.of(), Map.of(),
                g -> g.putInt32Array("qwen2.attention.head_count_kv", new int[] {2, 2, 2}));
        try (var m = Model.load(ok, LoadOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            assertEquals(2, m.config().kvHeads());
        }
    }
}
