package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.Model;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

    @Test
    void unsupportedTypeIsNamed(@TempDir Path dir) throws Exception {
        Path p = dir.resolve("m.gguf");
        var w = llamaMetadata("llama").addTensor("blk.0.attn_norm.weight", GgmlType.F32, new long[] {64}, new byte[256]);
        w.addTensor("blk.0.attn_q.weight", GgmlType.Q4_K, new long[] {256, 64}, new byte[144 * 64]);
        w.write(p);
        var e = assertThrows(UnsupportedModelException.class, () -> Model.load(p));
        assertTrue(e.getMessage().contains("unsupported type Q4_K"), e.getMessage());
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
