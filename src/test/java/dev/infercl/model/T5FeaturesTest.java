package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.infercl.SharedData;
import dev.infercl.backend.AttentionSpec;
import dev.infercl.backend.Backend;
import dev.infercl.backend.Batch;
import dev.infercl.backend.KvCache;
import dev.infercl.backend.Linear;
import dev.infercl.backend.Norm;
import dev.infercl.backend.RelativeBias;
import dev.infercl.backend.Tensor;
import dev.infercl.backend.cpu.CpuBackend;
import java.util.IdentityHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/**
 * Every T5-specific feature is needed to match ../shared/t5: the oracle check ({@link T5OracleTest#check}) fails with
 * each one broken; and cross-attention K/V are computed once per request, not per decoded token.
 */
class T5FeaturesTest {

    @Test
    void crossAttentionKvComputedOncePerRequest() throws Exception {
        var counts = new int[4]; // cross K/V products, cross Q products, write-only attention calls, attend-only calls
        var backend = new ForwardingBackend(new CpuBackend()) {
            @Override
            public void linear(Tensor x, Linear... outputs) {
                for (Linear l : outputs) {
                    String n = l.weight().name();
                    if (n.contains("cross_attn_k") || n.contains("cross_attn_v")) counts[0]++;
                    if (n.contains("cross_attn_q")) counts[1]++;
                }
                super.linear(x, outputs);
            }

            @Override
            public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec spec) {
                if (q == null) counts[2]++;
                if (k == null) counts[3]++;
                super.attention(out, q, k, v, cache, layer, batch, spec);
            }
        };
        try (ModelFile file = ModelFile.open(SharedData.require("t5/t5.gguf"), null); backend) {
            var tr = new Transformer(file.config(), Weights.upload(file, backend), backend);
            int layers = file.config().layers(), steps = 12;
            try (var st = tr.newState(64, 64)) {
                for (int request = 1; request <= 2; request++) {
                    tr.encode(st, new int[] {534, 550, 433, 371, 382, 1});
                    int next = tr.decoderStart();
                    float[] logits = new float[file.config().vocabSize()];
                    for (int i = 0; i < steps; i++) {
                        backend.read(tr.forward(st, new int[] {next}, false), logits);
                        next = T5OracleTest.argmax(logits);
                    }
                    assertEquals(2 * layers * request, counts[0], "cross-attention K and V products: one each per decoder layer per request");
                    assertEquals(layers * request, counts[2], "cross-attention cache fills: one per decoder layer per request");
                    assertEquals(layers * steps * request, counts[1], "cross-attention queries: one per layer per decoded token");
                    assertEquals(layers * steps * request, counts[3], "cross-attention over the filled cache, per layer per token");
                }
            }
        }
    }

    @Test
    void scalingAddedFails() {
        assertBroken(b -> new ForwardingBackend(b) {
            @Override
            public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec s) {
                super.attention(out, q, k, v, cache, layer, batch,
                        new AttentionSpec((float) (1 / Math.sqrt(32)), s.softcap(), s.window(), s.rope(), s.keys(), s.bias()));
            }
        }, null);
    }

    @Test
    void encoderBucketsSwappedFails() {
        assertBroken(b -> new ForwardingBackend(b) {
            final Map<Tensor, Tensor> swapped = new IdentityHashMap<>();

            @Override
            public void attention(Tensor out, Tensor q, Tensor k, Tensor v, KvCache cache, int layer, Batch batch, AttentionSpec s) {
                RelativeBias rb = s.bias();
                if (rb != null && rb.bidirectional()) {
                    // bucket(query − key) instead of bucket(key − query): the halves of the table trade places
                    Tensor t = swapped.computeIfAbsent(rb.table(), table -> {
                        int heads = table.cols(), half = rb.buckets() / 2;
                        float[] a = new float[table.rows() * heads], r = a.clone();
                        inner.read(table, a);
                        for (int bucket = 1; bucket < half; bucket++) {
                            System.arraycopy(a, bucket * heads, r, (bucket + half) * heads, heads);
                            System.arraycopy(a, (bucket + half) * heads, r, bucket * heads, heads);
                        }
                        Tensor x = inner.allocate("swapped", table.rows(), heads);
                        inner.write(x, r);
                        return x;
                    });
                    s = s.withBias(new RelativeBias(t, rb.buckets(), true, rb.maxDistance()));
                }
                super.attention(out, q, k, v, cache, layer, batch, s);
            }
        }, null);
    }

    @Test
    void biasNotSharedFails() {
        assertBroken(b -> b, (w, be) -> {
            var t5 = w.seq2seq();
            // layer 0's tables only: the other layers get none (a zero table)
            int heads = t5.encoderBias()[0].cols();
            Tensor zero = be.allocate("zero bias", t5.buckets(), heads);
            be.write(zero, new float[t5.buckets() * heads]);
            Tensor[] enc = t5.encoderBias().clone(), dec = t5.decoderBias().clone();
            for (int l = 1; l < enc.length; l++) {
                enc[l] = zero;
                dec[l] = zero;
            }
            return new Weights(w.tokenEmbedding(), w.positionEmbedding(), w.layers(), w.outputNorm(), w.outputNormBias(), w.output(),
                    w.ropeFreqs(), w.ropeLong(), w.ropeShort(),
                    new Weights.Seq2Seq(t5.encoder(), t5.encoderNorm(), enc, dec, t5.cross(), t5.buckets(), t5.decoderStart()));
        });
    }

    @Test
    void crossAttentionFromUnnormedEncoderOutputFails() {
        assertBroken(b -> new ForwardingBackend(b) {
            @Override
            public void norm(Tensor out, Tensor x, Norm norm) {
                if (norm.weight().name().equals("enc.output_norm.weight")) inner.copy(out, x, 0, 0);
                else super.norm(out, x, norm);
            }
        }, null);
    }

    @Test
    void unbrokenPasses() throws Exception {
        T5OracleTest.check(() -> new ForwardingBackend(new CpuBackend()), null);
    }

    private static void assertBroken(java.util.function.UnaryOperator<Backend> wrap,
                                     java.util.function.BiFunction<Weights, Backend, Weights> change) {
        SharedData.require("t5/t5.gguf");
        var e = assertThrows(AssertionFailedError.class, () -> T5OracleTest.check(() -> wrap.apply(new CpuBackend()), change));
        System.out.println("broken T5 feature detected: " + e.getMessage().lines().findFirst().orElse(""));
    }
}
