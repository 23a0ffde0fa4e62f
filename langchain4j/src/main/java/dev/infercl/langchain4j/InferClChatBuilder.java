package dev.infercl.langchain4j;

import dev.langchain4j.model.chat.listener.ChatModelListener;
import java.util.List;

/**
 * The settings of {@link InferClChatModel} and {@link InferClStreamingChatModel}: the model (see
 * {@link InferClBuilder}), the chat template, and the sampling defaults a request's own parameters override.
 *
 * <p>Defaults are OpenAI's, as InferCL's server has them: temperature 1 (0 is greedy), top-p 1, top-k and min-p off,
 * no penalties, the rest of the context as the token budget, a random seed. A seed set here makes every call
 * reproducible: the same seed gives the text {@code Session.generate} and {@code infercl serve} give.
 */
public abstract class InferClChatBuilder<B extends InferClChatBuilder<B>> extends InferClBuilder<B> {
    Double temperature;
    Double topP;
    Integer topK;
    Double minP;
    Long seed;
    Integer maxTokens;
    Double presencePenalty;
    Double frequencyPenalty;
    List<String> stopSequences;
    String chatTemplate;
    List<ChatModelListener> listeners = List.of();

    InferClChatBuilder() {
        super(4);   // as infercl serve: up to 4 calls share each batched step
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /** Sampling temperature, 0–2 (0: greedy). */
    public B temperature(Double temperature) {
        this.temperature = temperature;
        return self();
    }

    /** Nucleus sampling, (0, 1]. */
    public B topP(Double topP) {
        this.topP = topP;
        return self();
    }

    /** Top-k sampling (0: off). */
    public B topK(Integer topK) {
        this.topK = topK;
        return self();
    }

    /** Min-p sampling, [0, 1) (default 0: off); InferCL's own ({@link InferClChatRequestParameters} sets it per request). */
    public B minP(Double minP) {
        this.minP = minP;
        return self();
    }

    /** The sampler's seed for every call (default: a random one per call; {@link InferClChatRequestParameters} sets it per request). */
    public B seed(Long seed) {
        this.seed = seed;
        return self();
    }

    /** Token budget of a reply (default: the rest of the context). */
    public B maxTokens(Integer maxTokens) {
        this.maxTokens = maxTokens;
        return self();
    }

    public B presencePenalty(Double presencePenalty) {
        this.presencePenalty = presencePenalty;
        return self();
    }

    public B frequencyPenalty(Double frequencyPenalty) {
        this.frequencyPenalty = frequencyPenalty;
        return self();
    }

    /** Texts that end a reply (not included in it), besides the chat template's end-of-turn. */
    public B stopSequences(List<String> stopSequences) {
        this.stopSequences = stopSequences;
        return self();
    }

    /** A built-in template (llama-2, llama-3, chatml, phi-3, gemma) instead of the model's own. */
    public B chatTemplate(String name) {
        this.chatTemplate = name;
        return self();
    }

    /** LangChain4j's observers of each request, response and error. */
    public B listeners(List<ChatModelListener> listeners) {
        this.listeners = List.copyOf(listeners);
        return self();
    }

    /** The settings' request parameters: what a {@code ChatRequest}'s own parameters override. */
    InferClChatRequestParameters defaults(String modelName) {
        return InferClChatRequestParameters.builder().modelName(modelName).temperature(temperature).topP(topP).topK(topK)
                .maxOutputTokens(maxTokens).presencePenalty(presencePenalty).frequencyPenalty(frequencyPenalty)
                .stopSequences(stopSequences).seed(seed).minP(minP).build();
    }
}
