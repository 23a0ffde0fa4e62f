package dev.infercl.langchain4j;

import dev.infercl.api.Model;
import dev.infercl.api.Pooling;
import dev.infercl.tokenizer.Tokenizer;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.request.EmbeddingInput;
import dev.langchain4j.model.embedding.request.EmbeddingRequest;
import dev.langchain4j.model.embedding.response.EmbeddingResponse;
import dev.langchain4j.model.embedding.response.EmbeddingResponseMetadata;
import dev.langchain4j.model.output.TokenUsage;
import java.util.ArrayList;
import java.util.Objects;

/**
 * LangChain4j's {@link EmbeddingModel} over InferCL's {@link Model#embed}: the hidden states after the final norm of
 * any decoder model, mean-pooled (default) or the last token's, L2-normalised; {@link #dimension()} is the model's
 * width. The response's token usage counts the inputs' tokens (BOS included when the tokenizer adds it).
 * Thread-safe; {@link #close()} closes the model it loaded (a borrowed {@link Model} stays open).
 */
public final class InferClEmbeddingModel implements EmbeddingModel, AutoCloseable {
    private final Engine engine;
    private final Pooling pooling;

    private InferClEmbeddingModel(Builder b) {
        this.engine = b.engine();
        this.pooling = b.pooling;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder extends InferClBuilder<Builder> {
        Pooling pooling = Pooling.MEAN;

        Builder() {
            super(1);   // embeddings run as sequences of their own, not through the batching scheduler
        }

        /** MEAN (default: the average of every token's row) or LAST (the last token's row). */
        public Builder pooling(Pooling pooling) {
            this.pooling = Objects.requireNonNull(pooling, "pooling");
            return this;
        }

        public InferClEmbeddingModel build() {
            return new InferClEmbeddingModel(this);
        }
    }

    @Override
    public EmbeddingResponse doEmbed(EmbeddingRequest request) {
        Tokenizer tok = engine.model.tokenizer();
        var embeddings = new ArrayList<Embedding>(request.inputs().size());
        int tokens = 0;
        for (EmbeddingInput input : request.inputs()) {
            int[] ids = tok.encode(input.text(), tok.addBosByDefault(), false);
            tokens += ids.length;
            embeddings.add(Embedding.from(engine.model.embed(ids, pooling)));
        }
        return EmbeddingResponse.builder().embeddings(embeddings)
                .metadata(EmbeddingResponseMetadata.builder().modelName(engine.name).tokenUsage(new TokenUsage(tokens)).build())
                .build();
    }

    @Override
    public int dimension() {
        return engine.model.config().dim();
    }

    @Override
    public String modelName() {
        return engine.name;
    }

    /** The InferCL model this embedding model computes with. */
    public Model model() {
        return engine.model;
    }

    @Override
    public void close() {
        engine.close();
    }
}
