package dev.infercl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.infercl.SharedData;
import dev.infercl.Stories;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** generate --spec prints the same text as without it, with the acceptance rate; bench --spec reports both speeds. */
class SpeculativeCliTest {

    @ParameterizedTest
    @CsvSource({"cpu", "opencl"})
    void generateWithSpeculationPrintsTheSameText(String backend) throws Exception {
        if (backend.equals("opencl")) dev.infercl.backend.opencl.ClTestSupport.requireOpenCl();
        String m = Stories.MODEL.toString();
        var plain = CliTest.run("generate", "--backend", backend, "-m", m, "-p", "Once upon a time", "-n", "150", "--temp", "0");
        assertEquals(0, plain.code(), plain.err());
        for (String[] spec : new String[][] {{"--spec", "ngram"}, {"--spec", "ngram", "--spec-k", "2", "--spec-n", "1"},
                {"--spec", "model", "--draft", SharedData.require("models/stories260K-f16.gguf").toString()}}) {
            String[] args = concat(new String[] {"generate", "--backend", backend, "-m", m, "-p", "Once upon a time", "-n", "150", "--temp", "0"}, spec);
            var res = CliTest.run(args);
            assertEquals(0, res.code(), res.err());
            assertEquals(plain.out(), res.out(), String.join(" ", spec));
            assertTrue(res.err().matches("(?s).*speculation \\((ngram|model).*\\): \\d+ of \\d+ drafted tokens accepted \\(\\d+\\.\\d%\\), \\d+\\.\\d\\d tokens per target forward.*"), res.err());
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "--spec model|--spec model needs --draft MODEL",
            "--spec oracle|--spec must be ngram or model, got 'oracle'",
            "--draft x.gguf|--draft needs --spec model",
            "--spec ngram --spec-k 0|--spec-k must be ≥ 1, got 0"})
    void refusesOptionsThatDoNotFit(String options, String message) {
        var res = CliTest.run(concat(new String[] {"generate", "-m", Stories.MODEL.toString(), "-n", "4"}, options.split(" ")));
        assertTrue(res.code() != 0 && res.err().contains(message), res.err());
    }

    @org.junit.jupiter.api.Test
    void refusesADraftWithAnotherVocabulary() {
        var res = CliTest.run("generate", "--backend", "cpu", "-m", Stories.MODEL.toString(), "-n", "4", "--spec", "model", "--draft", "test-models/infercl-tiny-random.gguf");
        assertTrue(res.code() != 0 && res.err().contains("a draft model must share the target's vocabulary"), res.err());
    }

    @org.junit.jupiter.api.Test
    void benchReportsSpeculationInJson() throws Exception {
        var res = CliTest.run("bench", "--backend", "cpu", "-m", Stories.MODEL.toString(), "--spec", "oracle", "-n", "16", "-r", "1", "--json");
        assertEquals(0, res.code(), res.err());
        var json = new ObjectMapper().readTree(res.out());
        assertEquals("oracle", json.get("spec").asText());
        assertEquals(1.0, json.get("acceptance_rate").asDouble());
        for (String key : new String[] {"plain_tokens_per_s", "spec_tokens_per_s", "speedup", "tokens_per_target_forward", "decode_step_ms", "verify_step_ms"}) {
            assertTrue(json.get(key).asDouble() > 0, key + " in " + res.out());
        }
    }

    static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
