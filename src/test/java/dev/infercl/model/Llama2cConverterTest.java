package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.Oracles;
import dev.infercl.SharedData;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.cli.Main;
import dev.infercl.gguf.GgmlType;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code infercl convert}: llama2.c checkpoint → GGUF, against ../shared's checkpoint and references (skipped where ../shared is absent). */
class Llama2cConverterTest {

    /** The command test-models/README.md gives for regenerating the embedded model, with ../shared's paths. */
    static final String[] REGENERATE = {"convert", "-m", "../shared/models/stories260K.bin", "--tokenizer", "../shared/models/tok512.bin",
            "-o", "test-models/stories260K.gguf", "--name", "stories260K", "--license", "MIT",
            "--source-url", "https://huggingface.co/karpathy/tinyllamas/tree/main/stories260K"};

    @Test
    void regeneratingTheEmbeddedModelGivesTheSameBytes(@TempDir Path dir) throws Exception {
        String manifest = Files.readString(Path.of("test-models/README.md"));
        assertTrue(manifest.contains("./infercl " + String.join(" ", REGENERATE)), "test-models/README.md gives the command");
        String[] args = REGENERATE.clone();
        args[2] = SharedData.require("models/stories260K.bin").toString();
        args[4] = SharedData.require("models/tok512.bin").toString();
        args[6] = dir.resolve("stories260K.gguf").toString();
        var err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
        String committed = SyntheticModelTest.sha256(Path.of("test-models/stories260K.gguf"));
        assertEquals(committed, SyntheticModelTest.sha256(dir.resolve("stories260K.gguf")),
                "test-models/stories260K.gguf differs from what convert writes now");
        assertTrue(manifest.contains(committed), "test-models/README.md lists the sha256 " + committed);
    }

    @Test
    void theVendoredOracleIsACopyOfTheSharedOne() throws Exception {
        assertEquals(SyntheticModelTest.sha256(SharedData.require("reference/stories260K-f32.json")),
                SyntheticModelTest.sha256(Path.of("test-models/stories260K.reference.json")));
        assertEquals(SyntheticModelTest.sha256(SharedData.require("reference/stories260K-f32.logits.f32")),
                SyntheticModelTest.sha256(Path.of("test-models/stories260K.reference.logits.f32")));
    }

    /**
     * The GGUF holds the checkpoint's F32 values and shape: the same logits, bit for bit, as reading the checkpoint. On
     * the scalar reference backend: the Vector API's lane sums may take another order once C2 has compiled them, so
     * two runs of the fast backend agree to rounding, not to the bit.
     */
    @Test
    void theConvertedFileComputesExactlyWhatTheCheckpointDoes(@TempDir Path dir) throws Exception {
        Path bin = SharedData.require("models/stories260K.bin"), tok = SharedData.require("models/tok512.bin");
        Path gguf = dir.resolve("s.gguf");
        Llama2cConverter.convert(bin, tok, gguf, Llama2cConverter.Options.f32());
        int[] ids = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
        float[][] fromBin, fromGguf;
        var reference = LoadOptions.defaults().withBackend(BackendKind.REFERENCE);
        try (Model m = Model.load(bin, reference.withTokenizer(tok)); Session s = m.newSession()) {
            fromBin = s.logits(ids);
        }
        try (Model m = Model.load(gguf, reference); Session s = m.newSession()) {
            fromGguf = s.logits(ids);
            assertEquals("stories260K", m.config().name(), "general.name defaults to the checkpoint's name without extension");
        }
        for (int p = 0; p < ids.length; p++) assertArrayEquals(fromBin[p], fromGguf[p], "position " + p);
    }

    /** F16 matrices, F32 norms: llama.cpp's F16 conversion of the same checkpoint, whose float64 reference is in ../shared. */
    @Test
    void f16ConversionMatchesTheF16Reference(@TempDir Path dir) throws Exception {
        Path gguf = dir.resolve("s16.gguf");
        Llama2cConverter.convert(SharedData.require("models/stories260K.bin"), SharedData.require("models/tok512.bin"), gguf,
                new Llama2cConverter.Options(GgmlType.F16, "stories260K", null, null));
        JsonNode r = Oracles.json(SharedData.require("reference/stories260K-f16.json"));
        float[][] expected = Oracles.floatRows(SharedData.require("reference/stories260K-f16.logits.f32"), 512);
        int[] ids = Oracles.concat(Oracles.ints(r.get("prompt_ids")), Oracles.ints(r.get("greedy_ids")));
        try (Model m = Model.load(gguf, LoadOptions.defaults().withBackend(BackendKind.CPU))) {
            try (Session s = m.newSession(512)) {
                assertArrayEquals(Oracles.ints(r.get("greedy_ids")), s.generate(r.get("prompt").asText(), GenerateOptions.greedy(200), null).tokens());
            }
            float[][] got;
            try (Session s = m.newSession()) {
                got = s.logits(Arrays.copyOf(ids, expected.length));
            }
            double worst = 0;
            for (int p = 0; p < expected.length; p++) {
                for (int v = 0; v < 512; v++) worst = Math.max(worst, Math.abs(got[p][v] - expected[p][v]));
            }
            assertTrue(worst <= 1e-3, "max |logit − reference| = " + worst);
        }
    }

    @Test
    void refusesQuantizedTypesAndOverwritingAnInput(@TempDir Path dir) throws Exception {
        var e = assertThrows(IllegalArgumentException.class, () -> new Llama2cConverter.Options(GgmlType.Q8_0, null, null, null));
        assertTrue(e.getMessage().contains("infercl quantize"), e.getMessage());
        Path tok = dir.resolve("tok.bin");
        Files.write(tok, new byte[] {0});
        var same = assertThrows(IllegalArgumentException.class, () -> Llama2cConverter.convert(dir.resolve("m.bin"), tok, tok, Llama2cConverter.Options.f32()));
        assertTrue(same.getMessage().contains("is an input file"), same.getMessage());
    }
}
