package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.BackendKind;
import dev.infercl.api.Backends;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.backend.Backend;
import dev.infercl.backend.KvType;
import dev.infercl.backend.opencl.ClTestSupport;
import dev.infercl.gguf.GgmlType;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RoPE scaling as files declare it, end to end: tiny models ({@link ArchSpecModels}) with each scaling in their
 * metadata, loaded on the Reference, CPU and OpenCL backends, against the float64 forward pass
 * ({@link ArchSpecReference}, which implements the scalings from llama.cpp's description, not from InferCL's code);
 * the scaling moves the float64 logits far beyond the tolerance, so matching it means applying it. Then the metadata
 * InferCL refuses, each case naming the file, the key and its value.
 */
class RopeScalingModelTest {
    static final int PHI3_ORIGINAL = 64;   // the phi3 models' original context; their context_length is 128

    /**
     * linear: Llama-architecture model (Mistral-like), rope.scaling.type linear, factor 4. scale-linear: the older
     * rope.scale_linear key alone. yarn: Qwen3, factor 4 over an original context of 32 (context 128). yarn-betas:
     * Qwen2 with yarn_beta_fast/slow 16/2 and an attn_factor of 0.9. longrope: Phi-3 with long and short factors,
     * original context 64 and Phi-3's attention factor; long when the session holds 128 positions, short with 64
     * (and no type key, as older converters wrote it).
     */
    static Path write(String kind, Path dir) throws Exception {
        String arch = switch (kind) {
            case "linear", "scale-linear" -> "mistral";
            case "yarn" -> "qwen3";
            case "yarn-betas" -> "qwen2";
            case "longrope-long", "longrope-short" -> "phi3";
            default -> throw new IllegalArgumentException(kind);
        };
        var spec = ArchSpecModels.spec(arch);
        String p = spec.arch() + ".rope.";
        Consumer<GgufWriter> extra = switch (kind) {
            case "linear" -> g -> g.putString(p + "scaling.type", "linear").putFloat32(p + "scaling.factor", 4f);
            case "scale-linear" -> g -> g.putFloat32(p + "scale_linear", 4f);
            case "yarn" -> g -> g.putString(p + "scaling.type", "yarn").putFloat32(p + "scaling.factor", 4f)
                    .putUInt32(p + "scaling.original_context_length", 32);
            case "yarn-betas" -> g -> g.putString(p + "scaling.type", "yarn").putFloat32(p + "scaling.factor", 4f)
                    .putUInt32(p + "scaling.original_context_length", 32).putFloat32(p + "scaling.yarn_beta_fast", 16f)
                    .putFloat32(p + "scaling.yarn_beta_slow", 2f).putFloat32(p + "scaling.attn_factor", 0.9f);
            default -> g -> {
                if (kind.equals("longrope-long")) g.putString(p + "scaling.type", "longrope");
                // Phi-3's attention factor √(1 + ln(context/original) / ln original)
                g.putUInt32(p + "scaling.original_context_length", PHI3_ORIGINAL)
                        .putFloat32(p + "scaling.attn_factor", (float) Math.sqrt(1 + Math.log(128.0 / PHI3_ORIGINAL) / Math.log(PHI3_ORIGINAL)));
                addLongRopeFactors(g, spec.headDim() / 2);
            };
        };
        return ArchSpecModels.write(spec, dir.resolve(kind + ".gguf"), Set.of(), Map.of(), extra);
    }

    /** Phi-3-like factors: long ones growing from 1 to 4 over the pairs, short ones close to 1. */
    static void addLongRopeFactors(GgufWriter g, int pairs) {
        float[] lng = new float[pairs], shrt = new float[pairs];
        var r = new SplittableRandom(3);
        for (int i = 0; i < pairs; i++) {
            lng[i] = 1f + 3f * i / (pairs - 1);
            shrt[i] = (float) (0.8 + 0.5 * r.nextDouble());
        }
        g.addTensor("rope_factors_long.weight", GgmlType.F32, new long[] {pairs}, f32(lng));
        g.addTensor("rope_factors_short.weight", GgmlType.F32, new long[] {pairs}, f32(shrt));
    }

    static byte[] f32(float[] v) {
        var b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    static LoadOptions options(String kind, String backend) {
        var o = LoadOptions.defaults().withBackend(backend.equals("OPENCL") ? BackendKind.OPENCL : BackendKind.valueOf(backend));
        // an FP16 cache rounds K and V past the tolerance of this comparison (docs/ARCHITECTURE.md): it runs with the F32 cache
        if (backend.equals("OPENCL")) o = o.withKvType(KvType.F32);
        return kind.equals("longrope-short") ? o.withContextLength(PHI3_ORIGINAL) : o;
    }

    @ParameterizedTest(name = "{0} on {1}")
    @CsvSource({
            "linear, REFERENCE", "linear, CPU", "linear, OPENCL", "scale-linear, CPU",
            "yarn, REFERENCE", "yarn, CPU", "yarn, OPENCL", "yarn-betas, REFERENCE", "yarn-betas, CPU", "yarn-betas, OPENCL",
            "longrope-long, REFERENCE", "longrope-long, CPU", "longrope-long, OPENCL",
            "longrope-short, REFERENCE", "longrope-short, CPU", "longrope-short, OPENCL"})
    void matchesFloat64Reference(String kind, String backend, @TempDir Path dir) throws Exception {
        if (backend.equals("OPENCL")) ClTestSupport.requireOpenCl();
        ArchSpecTest.checkAgainstFloat64(write(kind, dir), options(kind, backend), backend, kind);
    }

    /** Each declared scaling moves the float64 logits far beyond the tolerance, and Phi-3's two factor sets differ. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"linear", "scale-linear", "yarn", "yarn-betas", "longrope-long", "longrope-short"})
    void scalingIsExercised(String kind, @TempDir Path dir) throws Exception {
        int[] ids = new int[40];
        var rnd = new SplittableRandom(7);
        for (int i = 0; i < ids.length; i++) ids[i] = 3 + rnd.nextInt(297);
        try (GgufFile g = GgufFile.open(write(kind, dir))) {
            var with = new ArchSpecReference(g);
            if (kind.equals("longrope-short")) with.sessionContext = PHI3_ORIGINAL;
            var without = new ArchSpecReference(g);
            without.useRopeScaling = false;
            assertTrue(difference(with.forward(ids), without.forward(ids)) > 50 * ArchSpecTest.TOL, kind + ": scaling barely matters");
            if (kind.startsWith("longrope")) {
                var other = new ArchSpecReference(g);
                other.sessionContext = with.sessionContext > PHI3_ORIGINAL ? PHI3_ORIGINAL : 128;
                assertTrue(difference(with.forward(ids), other.forward(ids)) > 50 * ArchSpecTest.TOL, "long and short factors barely differ");
            }
        }
    }

    static double difference(double[][] a, double[][] b) {
        double worst = 0;
        for (int t = 0; t < a.length; t++) {
            double m = ArchSpecTest.maxAbs(a[t]);
            for (int i = 0; i < a[t].length; i++) worst = Math.max(worst, Math.abs(a[t][i] - b[t][i]) / m);
        }
        return worst;
    }

    @Test
    void configReadsTheScaling(@TempDir Path dir) throws Exception {
        try (var m = Model.load(write("yarn-betas", dir), LoadOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            var s = m.config().ropeScaling();
            assertEquals(new RopeScaling(RopeScaling.Type.YARN, 4f, 32, 0.9f, 16f, 2f, 1f), s);
        }
        try (var m = Model.load(write("scale-linear", dir), LoadOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            assertEquals(RopeScaling.Type.LINEAR, m.config().ropeScaling().type());
            assertEquals(4f, m.config().ropeScaling().factor());
        }
        // no scaling keys: plain RoPE (llama.cpp's default type linear with factor 1)
        try (var m = Model.load(ArchSpecModels.write("qwen2", dir.resolve("plain.gguf")), LoadOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            var s = m.config().ropeScaling();
            assertEquals(1f, s.factor());
            assertEquals(1.0, s.spec(16, 1e6f, 128).freqScale());
            assertEquals(1.0, s.spec(16, 1e6f, 128).magnitude());
            assertEquals(0.0, s.spec(16, 1e6f, 128).extFactor());
        }
    }

    /** Type none never scales, whatever factor the file also carries (llama.cpp: freq_scale = 1). */
    @Test
    void typeNoneIgnoresTheFactor(@TempDir Path dir) throws Exception {
        var spec = ArchSpecModels.spec("qwen2");
        Path p = ArchSpecModels.write(spec, dir.resolve("none.gguf"), Set.of(), Map.of(),
                g -> g.putString("qwen2.rope.scaling.type", "none").putFloat32("qwen2.rope.scaling.factor", 4f));
        try (var m = Model.load(p, LoadOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            assertEquals(1.0, m.config().ropeScaling().spec(16, 1e6f, 128).freqScale());
        }
        ArchSpecTest.checkAgainstFloat64(p, "CPU", "none-with-factor");
    }

    /** Phi-3's factor set follows the session's context: long past the original context, short within it. */
    @Test
    void phi3ChoosesFactorsByTheSessionContext(@TempDir Path dir) throws Exception {
        try (ModelFile file = ModelFile.open(write("longrope-long", dir), null);
             Backend backend = Backends.create(BackendKind.REFERENCE, null, 0, null)) {
            var c = file.config();
            assertEquals(RopeScaling.Type.LONGROPE, c.ropeScaling().type());
            var w = Weights.upload(file, backend);
            var tr = new Transformer(c, w, backend);
            assertSame(w.ropeLong(), tr.rope(PHI3_ORIGINAL + 1).freqFactors());
            assertSame(w.ropeShort(), tr.rope(PHI3_ORIGINAL).freqFactors());
            assertEquals(c.ropeScaling().attnFactor(), tr.rope(PHI3_ORIGINAL).magnitude(), 1e-7);
        }
    }

    // ------------------------------------------------------------------------------------------ refusals

    static Path withMetadata(String arch, Path dir, Consumer<GgufWriter> extra) throws Exception {
        return ArchSpecModels.write(ArchSpecModels.spec(arch), dir.resolve("m.gguf"), Set.of(), Map.of(), extra);
    }

    static void refused(Class<? extends ModelLoadException> type, Path p, String... parts) {
        var e = assertThrows(type, () -> Model.load(p, LoadOptions.defaults().withBackend(BackendKind.REFERENCE)));
        assertTrue(e.getMessage().startsWith("m.gguf: "), e.getMessage());
        for (String part : parts) assertTrue(e.getMessage().contains(part), "'" + part + "' in: " + e.getMessage());
    }

    @ParameterizedTest(name = "rope.scaling.type {0}")
    @ValueSource(strings = {"su", "xyz", "dynamic", "llama3", "YARN"})
    void unknownScalingTypeIsRefused(String type, @TempDir Path dir) throws Exception {
        refused(UnsupportedModelException.class, withMetadata("qwen2", dir, g -> g.putString("qwen2.rope.scaling.type", type)),
                "'qwen2.rope.scaling.type'", "'" + type + "'");
    }

    @Test
    void yarnLogMultiplierIsRefused(@TempDir Path dir) throws Exception {
        refused(UnsupportedModelException.class, withMetadata("qwen2", dir, g -> g.putString("qwen2.rope.scaling.type", "yarn")
                .putFloat32("qwen2.rope.scaling.factor", 4f).putFloat32("qwen2.rope.scaling.yarn_log_multiplier", 0.1f)),
                "'qwen2.rope.scaling.yarn_log_multiplier'", "0.1");
    }

    /** An explicit YaRN attention factor other than the computed magnitude is refused; the computed value itself loads. */
    @Test
    void yarnAttnFactorMustAgree(@TempDir Path dir) throws Exception {
        refused(UnsupportedModelException.class, withMetadata("qwen2", dir, g -> g.putString("qwen2.rope.scaling.type", "yarn")
                .putFloat32("qwen2.rope.scaling.factor", 4f).putFloat32("qwen2.rope.scaling.yarn_attn_factor", 1f)),
                "'qwen2.rope.scaling.yarn_attn_factor'", "is 1.0");
        Path ok = ArchSpecModels.write(ArchSpecModels.spec("qwen2"), dir.resolve("ok.gguf"), Set.of(), Map.of(),
                g -> g.putString("qwen2.rope.scaling.type", "yarn").putFloat32("qwen2.rope.scaling.factor", 4f)
                        .putFloat32("qwen2.rope.scaling.yarn_attn_factor", (float) (1 + 0.1 * Math.log(4))));
        try (var m = Model.load(ok, LoadOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            assertEquals(RopeScaling.Type.YARN, m.config().ropeScaling().type());
        }
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource({"rope.scaling.factor, -2", "rope.scaling.attn_factor, 0", "rope.scaling.yarn_beta_fast, -1"})
    void badScalingValuesAreNamed(String key, float value, @TempDir Path dir) throws Exception {
        refused(ModelLoadException.class, withMetadata("qwen2", dir, g -> g.putFloat32("qwen2." + key, value)),
                "'qwen2." + key + "'", "is " + value);
    }

    @Test
    void longRopeFactorsNeedTheOriginalContext(@TempDir Path dir) throws Exception {
        refused(ModelLoadException.class, withMetadata("phi3", dir, g -> addLongRopeFactors(g, 8)),
                "'phi3.rope.scaling.original_context_length'", "missing");
    }

    @Test
    void longRopeFactorsComeAsAPair(@TempDir Path dir) throws Exception {
        refused(ModelLoadException.class, withMetadata("phi3", dir, g -> g.putUInt32("phi3.rope.scaling.original_context_length", 64)
                .addTensor("rope_factors_long.weight", GgmlType.F32, new long[] {8}, f32(new float[] {1, 1, 1, 1, 2, 2, 2, 2}))),
                "'rope_factors_short.weight' is missing");
    }

    @Test
    void longRopeTypeNeedsItsFactors(@TempDir Path dir) throws Exception {
        refused(ModelLoadException.class, withMetadata("phi3", dir, g -> g.putString("phi3.rope.scaling.type", "longrope")
                .putUInt32("phi3.rope.scaling.original_context_length", 64)), "'phi3.rope.scaling.type' is 'longrope'", "missing");
    }

    @Test
    void llama3FactorsAndLongRopeFactorsTogetherAreRefused(@TempDir Path dir) throws Exception {
        refused(UnsupportedModelException.class, withMetadata("llama", dir, g -> {
            g.putUInt32("llama.rope.scaling.original_context_length", 64);
            addLongRopeFactors(g, 8);
        }), "'rope_freqs.weight'", "rope_factors_long");
    }
}
