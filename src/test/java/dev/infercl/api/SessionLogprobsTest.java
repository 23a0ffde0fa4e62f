package dev.infercl.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.Stories;
import dev.infercl.engine.SamplerOptions;
import dev.infercl.engine.TokenLogprobs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A session with its own KV cache (parallel ≤ 1) hands each token to its listener with the log-probabilities of the
 * row it was sampled from: plain, and speculative, where accepted drafted tokens take the row of their verification
 * position. Each is checked against the log-softmax, computed here in double, of a teacher-forced pass
 * ({@link Session#logits}) within 1e-4 (one-token and many-token forward passes sum in different orders).
 */
class SessionLogprobsTest {
    private static final int TOKENS = 20;

    @Test
    void plainAndSpeculativeTokensCarryTheLogSoftmaxOfTheirRows() throws Exception {
        try (Model m = Model.load(Stories.MODEL, LoadOptions.defaults().withBackend(BackendKind.CPU))) {
            int[] prompt = m.tokenizer().encode("Once upon a time", m.tokenizer().addBosByDefault(), false);
            // penalties and temperature change the sampled distribution, not the reported one
            var sampling = new SamplerOptions(0.8f, 40, 0.95f, 0f, 1.3f, 64, 3, 0.6f, 0.2f);
            var plain = new ArrayList<TokenLogprobs>();
            int[] reply;
            try (Session s = m.newSession(256)) {
                reply = s.generate(prompt, new GenerateOptions(TOKENS, sampling, false, true).withLogprobs(4), collect(plain)).tokens();
            }
            assertMatchesTeacherForcing(m, prompt, reply, plain, 4);

            int[] greedy;
            var speculative = new ArrayList<TokenLogprobs>();
            try (Session s = m.newSession(256)) {
                greedy = s.generate(prompt, GenerateOptions.greedy(TOKENS), null).tokens();
            }
            int[] sequence = Arrays.copyOf(prompt, prompt.length + greedy.length);
            System.arraycopy(greedy, 0, sequence, prompt.length, greedy.length);
            try (Session s = m.newSession(256)) {
                var g = s.generate(prompt, GenerateOptions.greedy(TOKENS).withLogprobs(2).speculative(Draft.oracle(sequence), 4), collect(speculative));
                assertArrayEquals(greedy, g.tokens());
                assertTrue(g.speculation().accepted() > TOKENS / 2, "most tokens are accepted drafts: " + g.speculation());
            }
            assertMatchesTeacherForcing(m, prompt, greedy, speculative, 2);

            try (Session s = m.newSession(256)) {   // not asked: none
                var none = new ArrayList<TokenLogprobs>();
                s.generate(prompt, GenerateOptions.greedy(4), collect(none));
                assertEquals(4, none.size());
                for (TokenLogprobs lp : none) assertNull(lp);
            }
        }
    }

    private static TokenListener collect(List<TokenLogprobs> into) {
        return new TokenListener() {
            @Override
            public void onToken(int tokenId, String text) {
                throw new AssertionError("a generation calls the three-argument onToken");
            }

            @Override
            public void onToken(int tokenId, String text, TokenLogprobs logprobs) {
                if (tokenId < 0) return;
                if (logprobs != null) assertEquals(tokenId, logprobs.token());
                into.add(logprobs);
            }
        };
    }

    private static void assertMatchesTeacherForcing(Model m, int[] prompt, int[] reply, List<TokenLogprobs> got, int top) {
        assertEquals(reply.length, got.size());
        List<TeacherForced.Expected> want = TeacherForced.logprobs(m, prompt, reply, top);
        for (int j = 0; j < reply.length; j++) {
            TokenLogprobs lp = got.get(j);
            TeacherForced.Expected e = want.get(j);
            assertEquals(reply[j], lp.token());
            assertEquals(e.logprob(), lp.logprob(), 1e-4, "token " + j);
            assertEquals(top, lp.topIds().length);
            for (int t = 0; t < top; t++) {
                assertEquals(e.topIds()[t], lp.topIds()[t], "token " + j + " alternative " + t);
                assertEquals(e.topLogprobs()[t], lp.topLogprobs()[t], 1e-4, "token " + j + " alternative " + t);
            }
        }
    }
}
