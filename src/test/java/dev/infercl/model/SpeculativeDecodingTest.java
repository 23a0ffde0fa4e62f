package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import dev.infercl.Stories;
import dev.infercl.api.Draft;
import dev.infercl.api.DraftMismatchException;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.Generation;
import dev.infercl.api.LoadOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.engine.Sampler;
import dev.infercl.engine.SamplerOptions;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Speculative greedy decoding is plain greedy decoding, token for token, whatever the draft proposes: prompt lookup,
 * a draft model (the target itself, or another model with its vocabulary), random tokens. After each generation the
 * session holds the same sequence as plain decoding's, with the same KV entries: the next logits match.
 */
class SpeculativeDecodingTest {

    /** Drafts that accept everything, some things and nearly nothing. */
    static Draft random(long seed) {
        return new Draft() {
            @Override
            public String name() {
                return "random";
            }

            @Override
            public Drafter open(Model target, int contextLength) {
                var rnd = new SplittableRandom(seed);
                int vocab = target.config().vocabSize();
                return (context, length, k) -> new Proposal(rnd.ints(k, 0, vocab).toArray(), null);
            }
        };
    }

    static Path model(String name) {
        return name.equals("stories260K") ? Stories.MODEL : name.equals("tiny-random") ? Path.of("test-models/infercl-tiny-random.gguf")
                : SharedData.require(name + ".gguf");
    }

    @ParameterizedTest(name = "{0} (draft {1}) on {2}")
    @CsvSource({
            "stories260K, models/stories260K-f16, CPU", "stories260K, models/stories260K-f16, OPENCL",
            "tiny-random, tiny-random, CPU", "tiny-random, tiny-random, OPENCL",
            "arch/qwen2, arch/qwen2, CPU", "arch/qwen2, arch/qwen2, OPENCL",
            "arch/phi3, arch/phi3, CPU", "arch/phi3, arch/phi3, OPENCL",
            "arch/gpt2, arch/gpt2, CPU", "arch/gpt2, arch/gpt2, OPENCL",
            "quant/llama2-q8_0, quant/llama2-q4_0, CPU", "quant/llama2-q8_0, quant/llama2-q4_0, OPENCL",
            "kquant/llama2k-q4_k_m, kquant/llama2k-q4_k_m, CPU", "kquant/llama2k-q4_k_m, kquant/llama2k-q4_k_m, OPENCL",
    })
    void greedyIsPlainGreedy(String target, String draftModel, String backend) throws Exception {
        String prompt = "Once upon a time, there was a little girl named Lily. She loved";
        int n = 64;
        try (Model m = StoriesReferenceTest.load(model(target), LoadOptions.defaults(), backend);
             Model other = draftModel.equals(target) ? null : StoriesReferenceTest.load(model(draftModel), LoadOptions.defaults(), backend)) {
            Draft[] drafts = {Draft.ngram(3), Draft.model(other != null ? other : m), Draft.model(m), random(7), null};
            int[] plainTokens;
            float[] plainNext;
            Generation plain;
            try (Session s = m.newSession()) {
                plain = s.generate(prompt, GenerateOptions.greedy(n), null);
                // a second turn continues after the pending token
                var again = s.generate(" and", GenerateOptions.greedy(16), null);
                plainTokens = s.tokens();
                plainNext = s.logits(new int[] {plainTokens[plainTokens.length - 1]})[0];
                assertEquals(16, again.tokens().length);
            }
            for (Draft d : drafts) {
                if (d == null) d = Draft.oracle(concat(plain.promptTokens(), plain.tokens()));
                for (int k : new int[] {1, 4}) {
                    try (Session s = m.newSession()) {
                        var g = s.generate(prompt, GenerateOptions.greedy(n).speculative(d, k), null);
                        String what = d.name() + " k=" + k + " on " + backend;
                        assertArrayEquals(plain.tokens(), g.tokens(), what);
                        assertEquals(plain.text(), g.text(), what);
                        assertEquals(plain.stop(), g.stop(), what);
                        var stats = g.speculation();
                        assertTrue(stats.targetForwards() <= g.tokens().length && stats.accepted() <= stats.drafted(), what + ": " + stats);
                        if (d.name().equals("oracle")) assertEquals(stats.drafted(), stats.accepted(), what + ": the oracle is always right");
                        s.generate(" and", GenerateOptions.greedy(16).speculative(d, k), null);
                        int[] tokens = s.tokens();
                        assertArrayEquals(plainTokens, tokens, what + ": the conversation after two turns");
                        // the KV cache holds the same entries: the next logits are plain decoding's
                        float[] next = s.logits(new int[] {tokens[tokens.length - 1]})[0];
                        assertClose(plainNext, next, what);
                    }
                }
            }
        }
    }

    /** Penalties see each accepted token before the next row is verified: greedy with penalties is still plain greedy. */
    @ParameterizedTest
    @CsvSource({"CPU", "OPENCL"})
    void greedyWithPenaltiesIsPlainGreedy(String backend) throws Exception {
        var penalized = new GenerateOptions(150, new SamplerOptions(0f, 0, 1f, 0f, 1.3f, 16, 0).withPenalties(0.3f, 0.2f), null, true);
        try (Model m = StoriesReferenceTest.load(Stories.MODEL, LoadOptions.defaults(), backend)) {
            Generation plain;
            try (Session s = m.newSession()) {
                plain = s.generate("Once upon a time", penalized, null);
            }
            try (Session s = m.newSession()) {
                var unpenalized = s.generate("Once upon a time", GenerateOptions.greedy(150), null);
                assertTrue(!java.util.Arrays.equals(unpenalized.tokens(), plain.tokens()), "the penalties change the text");
            }
            for (Draft d : new Draft[] {Draft.ngram(2), Draft.model(m), random(9), Draft.oracle(concat(plain.promptTokens(), plain.tokens()))}) {
                try (Session s = m.newSession()) {
                    var g = s.generate("Once upon a time", penalized.speculative(d, 4), null);
                    assertArrayEquals(plain.tokens(), g.tokens(), d.name() + " on " + backend);
                }
            }
        }
    }

    /** The same stops as plain decoding: end of text, token budget, context full; the session's state after each. */
    @ParameterizedTest
    @CsvSource({"CPU", "OPENCL"})
    void stopsLikePlainDecoding(String backend) throws Exception {
        try (Model m = StoriesReferenceTest.load(Stories.MODEL, LoadOptions.defaults(), backend)) {
            for (int ctx : new int[] {12, 40, 512}) {
                for (int budget : new int[] {0, 1, 2, 5, 400}) {
                    Generation plain;
                    int[] plainTokens;
                    try (Session s = m.newSession(ctx)) {
                        plain = s.generate("Once upon a time", GenerateOptions.greedy(budget), null);
                        plainTokens = s.tokens();
                    }
                    for (Draft d : new Draft[] {Draft.ngram(2), Draft.model(m), random(3), Draft.oracle(concat(plain.promptTokens(), plain.tokens()))}) {
                        try (Session s = m.newSession(ctx)) {
                            var g = s.generate("Once upon a time", GenerateOptions.greedy(budget).speculative(d, 4), null);
                            String what = d.name() + ", context " + ctx + ", budget " + budget;
                            assertArrayEquals(plain.tokens(), g.tokens(), what);
                            assertEquals(plain.stop(), g.stop(), what);
                            assertArrayEquals(plainTokens, s.tokens(), what);
                        }
                    }
                }
            }
        }
    }

    /** Proposes tokens drawn uniformly from the vocabulary, and says so: a draft far from the target. */
    static Draft uniform() {
        return new Draft() {
            @Override
            public String name() {
                return "uniform";
            }

            @Override
            public Drafter open(Model target, int contextLength) {
                int vocab = target.config().vocabSize();
                int[] ids = java.util.stream.IntStream.range(0, vocab).toArray();
                double[] probs = new double[vocab];
                java.util.Arrays.fill(probs, 1.0 / vocab);
                var q = new Sampler.Distribution(ids, probs);
                return new Drafter() {
                    SplittableRandom rnd;

                    @Override
                    public void start(SamplerOptions sampler) {
                        rnd = new SplittableRandom(sampler.seed());
                    }

                    @Override
                    public Proposal propose(int[] context, int length, int k) {
                        var qs = new Sampler.Distribution[k];
                        java.util.Arrays.fill(qs, q);
                        return new Proposal(rnd.ints(k, 0, vocab).toArray(), qs);
                    }
                };
            }
        };
    }

    /**
     * Sampling with speculation: over 20,000 generations of two tokens with a fixed prompt, the first token follows
     * the target's distribution (the sampler's own: top-k, top-p, min-p, temperature) and so does the second after the
     * most frequent first one (chi-square, p-value > 0.001) — with a good draft (the model itself, sampling), a bad one
     * (uniform) and an adversarial one (random tokens it claims to be certain of); and with repetition, presence and
     * frequency penalties over the prompt and the first token, the good draft then sampling with them too.
     */
    @ParameterizedTest
    @CsvSource({"good", "bad", "adversarial", "penalized"})
    void sampledTokensFollowTheTarget(String kind) throws Exception {
        int draws = 20_000;
        // one thread: a step of this model is shorter than handing work to a second one
        var oneThread = new LoadOptions(dev.infercl.api.BackendKind.CPU, null, 1, null, 0, n -> {}, null);
        try (Model m = Model.load(Stories.MODEL, oneThread); Session s = m.newSession(64)) {
            Draft d = switch (kind) {
                case "good", "penalized" -> Draft.model(m);
                case "bad" -> uniform();
                default -> random(5);
            };
            int[] prompt = m.tokenizer().encode("Once upon a time, there was a", true, false);
            boolean penalized = kind.equals("penalized");
            var base = penalized ? SamplerOptions.defaults(0).withPenalties(0.4f, 0.3f) : SamplerOptions.defaults(0);
            float repeat = penalized ? 1.5f : 1f;
            // the penalties see the tokens fed to generate: the whole prompt when penalized, else its last token
            int[] feed = penalized ? prompt : new int[] {prompt[prompt.length - 1]};
            var expect = new SamplerOptions(base.temperature(), base.topK(), base.topP(), base.minP(), repeat, 64, 0, base.presencePenalty(), base.frequencyPenalty());
            float[][] rows = s.logits(prompt);
            var firstSampler = new Sampler(expect);
            for (int t : feed) firstSampler.accept(t);
            Sampler.Distribution first = firstSampler.distribution(rows[rows.length - 1], rows[0].length);
            int vocab = m.config().vocabSize();
            long[] firstCounts = new long[vocab];
            int[] seconds = new int[draws], firsts = new int[draws];
            long accepted = 0, drafted = 0;
            for (int i = 0; i < draws; i++) {
                s.rewind(prompt.length - feed.length);
                var options = new SamplerOptions(base.temperature(), base.topK(), base.topP(), base.minP(), repeat, 64, 1000L + i,
                        base.presencePenalty(), base.frequencyPenalty());
                var g = s.generate(feed, new GenerateOptions(2, options, false, false).speculative(d, 3), null);
                firsts[i] = g.tokens()[0];
                seconds[i] = g.tokens()[1];
                firstCounts[firsts[i]]++;
                accepted += g.speculation().accepted();
                drafted += g.speculation().drafted();
            }
            dev.infercl.engine.SpeculativeSamplingTest.assertFollows(first, firstCounts, kind + ", first token");
            int top = first.ids()[0];
            long[] secondCounts = new long[vocab];
            for (int i = 0; i < draws; i++) if (firsts[i] == top) secondCounts[seconds[i]]++;
            s.rewind(0);
            float[][] after = s.logits(concat(prompt, new int[] {top}));
            var secondSampler = new Sampler(expect);
            for (int t : feed) secondSampler.accept(t);
            secondSampler.accept(top);
            Sampler.Distribution second = secondSampler.distribution(after[after.length - 1], vocab);
            dev.infercl.engine.SpeculativeSamplingTest.assertFollows(second, secondCounts, kind + ", second token after " + top);
            double rate = (double) accepted / drafted;
            if (kind.equals("good") || penalized) assertTrue(rate > 0.5, "the model drafting for itself is accepted " + rate + " of the time");
            if (kind.equals("adversarial")) assertTrue(rate < 0.2, "random tokens are accepted " + rate + " of the time");
        }
    }

    @Test
    void refusesADraftWithAnotherVocabulary() throws Exception {
        try (Model m = Model.load(Stories.MODEL); Model other = Model.load(Path.of("test-models/infercl-tiny-random.gguf")); Session s = m.newSession()) {
            s.generate("Once", GenerateOptions.greedy(4), null);
            int[] before = s.tokens();
            var e = assertThrows(DraftMismatchException.class, () -> s.generate(" upon", GenerateOptions.greedy(4).speculative(Draft.model(other), 4), null));
            assertTrue(e.getMessage().contains("token ") && e.getMessage().contains("infercl-tiny-random.gguf"), e.getMessage());
            assertArrayEquals(before, s.tokens(), "the refused generation leaves the conversation as it was");
        }
    }

    static void assertClose(float[] want, float[] got, String what) {
        double worst = 0, top = 0;
        for (int i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs(want[i] - got[i]));
            top = Math.max(top, Math.abs(want[i]));
        }
        assertTrue(worst <= 1e-3 * top, what + ": next logits differ by " + worst + " (largest logit " + top + ")");
    }

    static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
