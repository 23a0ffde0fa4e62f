package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.Model;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Well-formed GGUF files that are not runnable models give typed errors naming what is wrong. */
class ModelLoadErrorsTest {

    static GgufWriter llamaMetadata(String arch) {
        String[] tokens = SyntheticModel.vocabulary(300);
        return new GgufWriter()
                .putString("general.architecture", arch)
                .putUInt32(arch + ".context_length", 64).putUInt32(arch + ".embedding_length", 64)
                .putUInt32(arch + ".block_count", 1).putUInt32(arch + ".feed_forward_length", 96)
                .putUInt32(arch + ".attention.head_count", 4)
                .putString("tokenizer.ggml.model", "llama").putStringArray("tokenizer.ggml.tokens", tokens)
                .putFloat32Array("tokenizer.ggml.scores", new float[tokens.length]);
    }

    @Test
    void missingTensorIsNamed(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("m.gguf");
        llamaMetadata("llama").write(p);
        var e = assertThrows(ModelLoadException.class, () -> Model.load(p));
        assertTrue(e.getMessage().contains("'blk.0.attn_norm.weight' is missing"), e.getMessage());
    }

    @Test
    void wrongShapeIsNamed(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("m.gguf");
        llamaMetadata("llama").addTensor("blk.0.attn_norm.weight", GgmlType.F32, new long[] {32}, new byte[128]).write(p);
        var e = assertThrows(ModelLoadException.class, () -> Model.load(p));
        assertTrue(e.getMessage().contains("'blk.0.attn_norm.weight' has shape [32]"), e.getMessage());
    }

    /** A type GGUF can carry that no backend computes: one line naming the file, the tensor and the type. */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"IQ2_XXS", "IQ3_S", "IQ1_M", "TQ1_0", "TQ2_0", "MXFP4", "Q8_1", "Q8_K"})
    void unsupportedTypeIsNamed(GgmlType type, @TempDir Path dir) throws Exception {
        Path p = dir.resolve("m.gguf");
        var w = llamaMetadata("llama").addTensor("blk.0.attn_norm.weight", GgmlType.F32, new long[] {64}, new byte[256]);
        w.addTensor("blk.0.attn_q.weight", type, new long[] {256, 64}, new byte[(int) type.byteSize(256) * 64]);
        w.write(p);
        var e = assertThrows(UnsupportedModelException.class, () -> Model.load(p));
        assertTrue(e.getMessage().contains("tensor 'blk.0.attn_q.weight' has unsupported type " + type + " "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void unknownArchitectureIsNamed(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("m.gguf");
        llamaMetadata("mamba").write(p);
        var e = assertThrows(UnsupportedModelException.class, () -> Model.load(p));
        assertTrue(e.getMessage().contains("architecture 'mamba'"), e.getMessage());
    }

    @Test
    void missingMetadataIsNamed(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("m.gguf");
        new GgufWriter().putString("general.architecture", "llama").write(p);
        var e = assertThrows(java.io.IOException.class, () -> Model.load(p));
        assertTrue(e.getMessage().contains("llama.embedding_length"), e.getMessage());
    }
}
