package dev.infercl.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import dev.infercl.backend.Backend;
import dev.infercl.backend.KvType;
import dev.infercl.backend.cpu.CpuBackend;
import dev.infercl.backend.opencl.ClOptions;
import dev.infercl.backend.opencl.ClTestSupport;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * T5 v1.0's feed-forward (relu(W_up·h), no gate), which llama.cpp picks when the encoder has no {@code ffn_gate}: a
 * copy of ../shared/t5 without its gate tensors loads as {@link Architecture.Ffn#RELU} and runs the same on the CPU
 * and OpenCL backends as on the scalar Reference (greedy ids equal, teacher-forced logits within 1e-4 × top-1). There is
 * no llama.cpp oracle for this variant; the gated model's oracle covers everything else.
 */
class T5ReluTest {

    @Test
    void reluVariantRunsAlikeOnEveryBackend(@TempDir Path dir) throws Exception {
        Path src = SharedData.require("t5/t5.gguf"), relu = dir.resolve("t5-relu.gguf");
        var w = new GgufWriter();
        try (GgufFile f = GgufFile.open(src)) {
            for (GgufFile.MetadataEntry e : f.metadata()) {
                if (e.key().equals("general.alignment")) continue;
                if (e.value() instanceof GgufFile.MetadataArray a) w.putArray(e.key(), a.elementType(), a.values());
                else w.put(e.key(), e.type(), e.value());
            }
            for (var t : f.tensors()) {
                if (t.name().contains("ffn_gate")) continue;
                w.addTensor(t.name(), t.type(), t.dims(), f.data(t).toArray(ValueLayout.JAVA_BYTE));
            }
            w.write(relu);
        }
        int[] source = {534, 550, 433, 371, 382, 865, 492, 845, 304, 1};
        Run want = run(relu, () -> new CpuBackend(CpuBackend.Mode.REFERENCE, 1), source);
        for (String kind : new String[] {"CPU", "OPENCL"}) {
            if (kind.equals("OPENCL")) ClTestSupport.requireOpenCl();
            Run got = run(relu, kind.equals("CPU") ? CpuBackend::new : () -> ClTestSupport.open(ClOptions.defaults().withKvType(KvType.F32)), source);
            assertArrayEquals(want.greedy, got.greedy, kind + ": greedy ids");
            double worst = 0;
            for (int r = 0; r < want.logits.length; r++) {
                double top1 = 0;
                for (float x : want.logits[r]) top1 = Math.max(top1, Math.abs(x));
                for (int i = 0; i < want.logits[r].length; i++) worst = Math.max(worst, Math.abs(got.logits[r][i] - want.logits[r][i]) / top1);
            }
            System.out.printf("t5 relu variant on %s: worst |logit − Reference| / top-1 = %.2e%n", kind, worst);
            assertTrue(worst <= 1e-4, kind + ": worst |logit − Reference| / top-1 = " + worst);
        }
    }

    private record Run(int[] greedy, float[][] logits) {}

    private static Run run(Path model, Supplier<Backend> backend, int[] source) throws Exception {
        try (ModelFile file = ModelFile.open(model, null); Backend be = backend.get()) {
            assertEquals(Architecture.Ffn.RELU, file.config().arch().ffn());
            var tr = new Transformer(file.config(), Weights.upload(file, be), be);
            int vocab = file.config().vocabSize();
            try (var st = tr.newState(32, 32)) {
                tr.encode(st, source);
                int[] ids = new int[8];
                float[] l = new float[vocab];
                int next = tr.decoderStart();
                for (int i = 0; i < ids.length; i++) {
                    be.read(tr.forward(st, new int[] {next}, false), l);
                    ids[i] = next = T5OracleTest.argmax(l);
                }
                tr.encode(st, source);
                int[] dec = new int[ids.length];
                dec[0] = tr.decoderStart();
                System.arraycopy(ids, 0, dec, 1, ids.length - 1);
                float[] all = new float[dec.length * vocab];
                be.read(tr.forward(st, dec, true), all);
                float[][] rows = new float[dec.length][];
                for (int r = 0; r < dec.length; r++) rows[r] = java.util.Arrays.copyOfRange(all, r * vocab, (r + 1) * vocab);
                return new Run(ids, rows);
            }
        }
    }
}
