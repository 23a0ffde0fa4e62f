package dev.infercl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.SharedData;
import dev.infercl.api.BackendKind;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.engine.SamplerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code infercl quantize} and {@code infercl eval} in-process: a W8A8 round trip, the JSON, and one-line errors. */
class QuantizeEvalCliTest {

    @TempDir static Path tmp;
    static Path f32, calib, evalText;

    /** Stories sampled from the F32 model at temperature 1 (calibration seeds 1–8, evaluation seeds 101–104). */
    @BeforeAll
    static void text() throws Exception {
        f32 = SharedData.require("models/stories260K-f32.gguf");
        calib = tmp.resolve("calib.txt");
        evalText = tmp.resolve("eval.txt");
        Files.writeString(calib, sample(1, 8));
        Files.writeString(evalText, sample(101, 4));
    }

    static String sample(long seed0, int n) throws Exception {
        var sb = new StringBuilder();
        try (Model m = Model.load(f32, LoadOptions.defaults().withBackend(BackendKind.CPU))) {
            for (int i = 0; i < n; i++) {
                try (Session s = m.newSession()) {
                    var o = new GenerateOptions(120, new SamplerOptions(1f, 0, 1f, 0f, 1f, 64, seed0 + i), null, true);
                    sb.append("Once upon a time").append(s.generate("Once upon a time", o, null).text()).append('\n');
                }
            }
        }
        return sb.toString();
    }

    @Test
    void quantizeW8a8ThenEvalAgainstTheOriginal() throws Exception {
        Path out = tmp.resolve("w8a8.gguf");
        var q = CliTest.run("quantize", "-m", f32.toString(), "-o", out.toString(), "--scheme", "w8a8", "--calibration", calib.toString(), "--alpha", "0.5");
        assertEquals(0, q.code(), q.err());
        assertTrue(q.err().contains("calibration: ") && q.err().contains("wrote " + out + ": w8a8"), q.err());
        assertTrue(q.err().contains("quantize 1/"), "plain progress lines off a terminal: " + q.err());

        var e = CliTest.run("eval", "-m", out.toString(), "--ref", f32.toString(), "-f", evalText.toString(), "--backend", "cpu", "--json");
        assertEquals(0, e.code(), e.err());
        JsonNode j = new ObjectMapper().readTree(e.out());
        assertTrue(j.get("perplexity").asDouble() > 1 && j.get("perplexity").asDouble() < 20, e.out());
        assertTrue(j.get("kld_mean").asDouble() >= 0 && j.get("kld_mean").asDouble() < 0.01, e.out());
        assertTrue(j.get("top1_agreement").asDouble() > 0.9, e.out());
        assertTrue(j.get("kld_ci95").get(0).asDouble() <= j.get("kld_mean").asDouble() && j.get("kld_mean").asDouble() <= j.get("kld_ci95").get(1).asDouble());
        assertTrue(j.get("perplexity_ci95").get(0).asDouble() <= j.get("perplexity").asDouble());
        assertTrue(j.get("tokens").asInt() > 300, e.out());
        assertTrue(j.get("windows").asInt() >= 4, "128-token windows: " + e.out());

        // the model against itself: KLD 0, agreement 1, text output
        var self = CliTest.run("eval", "-m", f32.toString(), "--ref", f32.toString(), "-f", evalText.toString(), "--backend", "cpu");
        assertEquals(0, self.code(), self.err());
        assertTrue(self.out().contains("kld_mean:       0.000000") && self.out().contains("top1_agreement: 100.00%"), self.out());
    }

    /** A K mix through the CLI: a note per fallback (stories260K's rows of 64 and 172), then eval against the original. */
    @Test
    void quantizeQ4KMThenEvalAgainstTheOriginal() throws Exception {
        Path out = tmp.resolve("q4_k_m.gguf");
        var q = CliTest.run("quantize", "-m", f32.toString(), "-o", out.toString(), "--scheme", "q4_k_m");
        assertEquals(0, q.code(), q.err());
        assertTrue(q.err().contains("wrote " + out + ": q4_k_m"), q.err());
        assertTrue(q.err().contains("note: 'blk.0.ffn_down.weight' is F16: its rows of 172 values are not a multiple of Q4_K's block of 256 nor of 32"), q.err());
        assertTrue(q.err().contains("note: 'blk.0.attn_q.weight' is Q5_0: its rows of 64 values are not a multiple of Q4_K's block of 256"), q.err());
        var e = CliTest.run("eval", "-m", out.toString(), "--ref", f32.toString(), "-f", evalText.toString(), "--backend", "cpu", "--json");
        assertEquals(0, e.code(), e.err());
        JsonNode j = new ObjectMapper().readTree(e.out());
        assertTrue(j.get("kld_mean").asDouble() > 0 && j.get("kld_mean").asDouble() < 0.1, e.out());
        assertTrue(j.get("top1_agreement").asDouble() > 0.85, e.out());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "w8a8 without calibration | --scheme w8a8 | w8a8 needs calibration text (--calibration FILE)",
            "alpha out of range | --scheme w8a8 --no-smooth --alpha 1.5 | --alpha must be in [0, 1], got 1.5",
            "group not dividing | --scheme w8a16 --group 64 | --group 64 does not divide the input width 172 of 'blk.0.ffn_down.weight'",
            "group on q8_0 | --scheme q8_0 --group 32 | --group applies to w8a16 only",
            "odd group | --scheme w8a16 --group 48 | --group must be 32, 64 or 128",
            "unknown scheme | --scheme int4 | unknown scheme 'int4'",
            "no-smooth elsewhere | --scheme w8a16 --no-smooth | --no-smooth applies to w8a8 only",
            "missing calibration file | --scheme w8a8 --calibration /nonexistent.txt | --calibration /nonexistent.txt: no such file",
            "negative samples | --scheme w8a8 --no-smooth --samples -1 | --samples must be ≥ 0, got -1",
            "group on a K mix | --scheme q4_k_m --group 32 | --group does not apply to q4_k_m: the K-quant mixes take llama.cpp's per-tensor types",
            "calibration on a K mix | --scheme q3_k_m --calibration /nonexistent.txt | --calibration does not apply to q3_k_m",
            "alpha on a K mix | --scheme q2_k --alpha 0.5 | --alpha does not apply to q2_k",
            "no-smooth on a K mix | --scheme q6_k --no-smooth | --no-smooth does not apply to q6_k"})
    void badArgumentsGetOneLineErrors(String what, String args, String message) {
        Path out = tmp.resolve("bad.gguf");
        var list = new java.util.ArrayList<>(java.util.List.of("quantize", "-m", f32.toString(), "-o", out.toString()));
        list.addAll(java.util.List.of(args.trim().split(" ")));
        var r = CliTest.run(list.toArray(String[]::new));
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().startsWith("infercl: error: " + message), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void outputEqualToInputAndRequantizeAreRefused() throws Exception {
        var r = CliTest.run("quantize", "-m", f32.toString(), "-o", f32.toString(), "--scheme", "f16");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("is the input file"), r.err());
        Path q8 = SharedData.require("quant/llama2-q8_0.gguf");
        r = CliTest.run("quantize", "-m", q8.toString(), "-o", tmp.resolve("q4.gguf").toString(), "--scheme", "q4_0");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("already quantized") && r.err().contains("--allow-requantize"), r.err());
        r = CliTest.run("quantize", "-m", q8.toString(), "-o", tmp.resolve("q4.gguf").toString(), "--scheme", "q4_0", "--allow-requantize");
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void evalNeedsAText() {
        var r = CliTest.run("eval", "-m", f32.toString(), "-f", "/nonexistent.txt");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("-f /nonexistent.txt: no such file"), r.err());
    }
}
