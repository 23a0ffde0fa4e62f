package dev.infercl.langchain4j;

import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * LangChain4j's {@link StreamingChatModel} over InferCL: as {@link InferClChatModel}, with the reply handed to
 * {@code onPartialResponse} as it is generated (never part of a stop sequence) and {@code onCompleteResponse}
 * carrying the whole text, the token usage and the finish reason; the partials concatenated are that text.
 *
 * <p>{@code chat} checks the request on the calling thread (a refusal is thrown there) and generates on the builder's
 * {@link Builder#executor executor}, by default a new virtual thread per call; a failure during generation goes to
 * {@code onError}. The {@link StreamingHandle} in each partial's context cancels the generation at its next token.
 */
public final class InferClStreamingChatModel implements StreamingChatModel, AutoCloseable {
    private final ChatGenerator generator;
    private final Executor executor;

    private InferClStreamingChatModel(Builder b) {
        this.generator = new ChatGenerator(b);
        this.executor = b.executor != null ? b.executor : r -> Thread.ofVirtual().name("infercl-langchain4j-stream").start(r);
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder extends InferClChatBuilder<Builder> {
        Executor executor;

        /** Where generations run (default: a new virtual thread each; {@code Runnable::run} generates in {@code chat}). */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        public InferClStreamingChatModel build() {
            return new InferClStreamingChatModel(this);
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
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        var prepared = generator.prepare(request);
        var handle = new Handle();
        var context = new PartialResponseContext(handle);
        executor.execute(() -> {
            ChatGenerator.Reply reply;
            try {
                reply = generator.run(prepared, piece -> handler.onPartialResponse(new PartialResponse(piece), context), handle, handle::start);
            } catch (RuntimeException | Error e) {
                handler.onError(e);
                return;
            }
            handler.onCompleteResponse(reply.response(generator.engine.name));
        });
    }

    /** Cancels the generation it belongs to. */
    private static final class Handle implements StreamingHandle, ChatGenerator.Cancel {
        private volatile boolean cancelled;
        private volatile Session session;

        void start(Session s) {
            session = s;
            if (cancelled) s.cancel();
        }

        @Override
        public void cancel() {
            cancelled = true;
            var s = session;
            if (s != null) s.cancel();
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        @Override
        public boolean cancelled() {
            return cancelled;
        }
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
