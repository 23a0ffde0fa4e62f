package dev.infercl.langchain4j;

import dev.infercl.api.Model;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import java.util.List;

/**
 * LangChain4j's {@link ChatModel} over InferCL, in process:
 *
 * <pre>{@code
 * try (var model = InferClChatModel.builder().modelPath("model.gguf").temperature(0.0).build()) {
 *     String reply = model.chat("Hello");
 * }
 * }</pre>
 *
 * System, user (text) and AI messages are rendered with the model's chat template; temperature, top-p, top-k,
 * presence and frequency penalties, the token budget and stop sequences come from the request's parameters over the
 * builder's. The response carries the token usage (prompt tokens as rendered, generated tokens) and the finish reason
 * (STOP at the end of the turn or a stop sequence, LENGTH at the budget or the context's end). Tools, non-text
 * content and JSON response formats are refused with {@code UnsupportedFeatureException}.
 *
 * <p>Thread-safe: each call generates in a session of its own; with {@link InferClBuilder#parallel} N &gt; 1
 * (default 4) up to N concurrent calls share each batched forward pass, and the rest wait in a bounded queue.
 * {@link #close()} closes the model it loaded (a borrowed {@link Model} stays open).
 */
public final class InferClChatModel implements ChatModel, AutoCloseable {
    private final ChatGenerator generator;

    private InferClChatModel(Builder b) {
        this.generator = new ChatGenerator(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder extends InferClChatBuilder<Builder> {
        public InferClChatModel build() {
            return new InferClChatModel(this);
        }
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return generator.defaults();
    }

    @Override
    public List<ChatModelListener> listeners() {
        return generator.listeners;
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        var prepared = generator.prepare(request);
        return generator.run(prepared, null, null, null).response(generator.engine.name);
    }

    /** The InferCL model this chat model generates with. */
    public Model model() {
        return generator.engine.model;
    }

    @Override
    public void close() {
        generator.close();
    }
}
