package dev.infercl.langchain4j;

import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import java.util.Objects;

/**
 * LangChain4j's request parameters plus InferCL's own: the sampler's {@code seed} (the same seed gives the same text,
 * as {@code Session.generate} and {@code infercl serve} give it) and {@code minP}. Set per request:
 *
 * <pre>{@code
 * model.chat(ChatRequest.builder().messages(UserMessage.from("Hello"))
 *         .parameters(InferClChatRequestParameters.builder().temperature(0.8).seed(42L).build()).build());
 * }</pre>
 *
 * A request's values override the model's defaults (its builder's), field by field, as LangChain4j merges them.
 */
public class InferClChatRequestParameters extends DefaultChatRequestParameters {
    private final Long seed;
    private final Double minP;

    private InferClChatRequestParameters(Builder builder) {
        super(builder);
        this.seed = builder.seed;
        this.minP = builder.minP;
    }

    /** The sampler's seed, or null (the model's, else a random one per call). */
    public Long seed() {
        return seed;
    }

    /** Min-p sampling in [0, 1), or null (the model's, else off). */
    public Double minP() {
        return minP;
    }

    @Override
    public InferClChatRequestParameters overrideWith(ChatRequestParameters that) {
        return builder().overrideWith(this).overrideWith(that).build();
    }

    @Override
    public InferClChatRequestParameters defaultedBy(ChatRequestParameters that) {
        return builder().overrideWith(that).overrideWith(this).build();
    }

    @Override
    public boolean equals(Object o) {
        return super.equals(o) && Objects.equals(seed, ((InferClChatRequestParameters) o).seed)
                && Objects.equals(minP, ((InferClChatRequestParameters) o).minP);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), seed, minP);
    }

    @Override
    public String toString() {
        return "InferClChatRequestParameters{seed=" + seed + ", minP=" + minP + ", " + super.toString() + "}";
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder extends DefaultChatRequestParameters.Builder<Builder> {
        private Long seed;
        private Double minP;

        /** Takes every parameter {@code parameters} sets (InferCL's own too), keeping the others. */
        @Override
        public Builder overrideWith(ChatRequestParameters parameters) {
            super.overrideWith(parameters);
            if (parameters instanceof InferClChatRequestParameters p) {
                if (p.seed != null) seed = p.seed;
                if (p.minP != null) minP = p.minP;
            }
            return this;
        }

        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        public Builder minP(Double minP) {
            this.minP = minP;
            return this;
        }

        @Override
        public InferClChatRequestParameters build() {
            return new InferClChatRequestParameters(this);
        }
    }
}
