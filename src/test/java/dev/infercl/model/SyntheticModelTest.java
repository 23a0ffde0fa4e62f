package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.GenerateOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.gguf.GgmlType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SyntheticModelTest {

    @Test
    void embeddedSmokeModelIsReproducible(@TempDir Path dir) throws Exception {
        Path committed = Path.of("test-models/infercl-tiny-random.gguf");
        Path fresh = dir.resolve("tiny.gguf");
        SyntheticModel.write(SyntheticModel.Spec.tiny(), fresh, null);
        assertEquals(sha256(committed), sha256(fresh), "test-models/infercl-tiny-random.gguf differs from what synth writes now");
        String manifest = Files.readString(Path.of("test-models/README.md"));
        assertTrue(manifest.contains(sha256(committed)), "test-models/README.md lists the sha256");
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void everyTypeLoadsAndGenerates(GgmlType type, @TempDir Path dir) throws Exception {
        var spec = new SyntheticModel.Spec("t", 64, 2, 4, 2, 96, 300, 64, type, 3);
        Path p = dir.resolve("m.gguf");
        SyntheticModel.write(spec, p, null);
        try (Model m = Model.load(p); Session s = m.newSession()) {
            assertEquals(300, m.config().vocabSize());
            var g = s.generate("the little dog", GenerateOptions.greedy(8), null);
            assertEquals(8, g.tokens().length);
            assertEquals("the little dog", m.tokenizer().decode(m.tokenizer().encode("the little dog", true, false)));
        }
    }

    static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }
}
