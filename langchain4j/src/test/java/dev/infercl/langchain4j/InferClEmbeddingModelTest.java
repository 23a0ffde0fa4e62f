package dev.infercl.langchain4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.infercl.api.BackendKind;
import dev.infercl.api.Model;
import dev.infercl.api.Pooling;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.output.Response;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The EmbeddingModel's vectors are Model.embed's, for both poolings; dimension and token usage. Two loads of a model
 * agree to float rounding, not bit for bit (the CPU backend's Vector API reductions round differently before and after
 * the JIT compiles them), hence the 1e-6 tolerance.
 */
class InferClEmbeddingModelTest {
    static Model reference;

    @BeforeAll
    static void load() throws Exception {
        reference = TestModels.load(1);
    }

    @AfterAll
    static void close() {
        if (reference != null) reference.close();
    }

    @Test
    void vectorsEqualModelEmbed() {
        List<String> texts = List.of("Once upon a time", "The cat sat on the mat.", "x");
        for (Pooling pooling : Pooling.values()) {
            try (var embeddings = InferClEmbeddingModel.builder().modelPath(TestModels.STORIES).backend(BackendKind.CPU).pooling(pooling).build()) {
                assertEquals(reference.config().dim(), embeddings.dimension());
                Response<List<Embedding>> all = embeddings.embedAll(texts.stream().map(TextSegment::from).toList());
                int tokens = 0;
                for (int i = 0; i < texts.size(); i++) {
                    assertArrayEquals(reference.embed(texts.get(i), pooling), all.content().get(i).vector(), 1e-6f, pooling + " " + texts.get(i));
                    tokens += reference.tokenizer().encode(texts.get(i), reference.tokenizer().addBosByDefault(), false).length;
                }
                assertEquals(tokens, all.tokenUsage().inputTokenCount());
                assertArrayEquals(reference.embed("Once upon a time", pooling), embeddings.embed("Once upon a time").content().vector(), 1e-6f);
                assertEquals("stories260K", embeddings.modelName());
            }
        }
    }

    @Test
    void aBorrowedModelIsSharedAndLeftOpen() {
        try (var embeddings = InferClEmbeddingModel.builder().model(reference).build()) {
            assertArrayEquals(reference.embed("a dog", Pooling.MEAN), embeddings.embed("a dog").content().vector(), 1e-6f);
        }
        reference.embed("still open", Pooling.MEAN);
    }
}
