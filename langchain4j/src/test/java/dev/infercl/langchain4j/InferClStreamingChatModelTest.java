package dev.infercl.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.Model;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The partials concatenated are the ChatModel's text; onCompleteResponse carries the text, usage and finish reason. */
class InferClStreamingChatModelTest {
    static Model model;

    @BeforeAll
    static void load() throws Exception {
        model = TestModels.load(4);
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    /** Collects a streamed reply. */
    static class Collector implements StreamingChatResponseHandler {
        final List<String> partials = new ArrayList<>();
        final CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        volatile String thread;
        int cancelAfter = -1;

        @Override
        public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
            thread = Thread.currentThread().getName();
            partials.add(partial.text());
            if (partials.size() == cancelAfter) context.streamingHandle().cancel();
        }

        @Override
        public void onCompleteResponse(ChatResponse response) {
            done.complete(response);
        }

        @Override
        public void onError(Throwable error) {
            done.completeExceptionally(error);
        }

        ChatResponse await() throws Exception {
            return done.get(120, TimeUnit.SECONDS);
        }
    }

    @Test
    void partialsMakeTheChatModelsText() throws Exception {
        var request = ChatRequest.builder().messages(UserMessage.from("Once upon a time")).maxOutputTokens(40).build();
        try (var streaming = InferClStreamingChatModel.builder().model(model).temperature(0.8).seed(3L).build();
             var blocking = InferClChatModel.builder().model(model).temperature(0.8).seed(3L).build()) {
            var collector = new Collector();
            streaming.chat(request, collector);
            ChatResponse streamed = collector.await();
            ChatResponse whole = blocking.chat(request);

            assertTrue(collector.partials.size() > 5, collector.partials.toString());
            assertEquals(whole.aiMessage().text(), String.join("", collector.partials));
            assertEquals(whole.aiMessage().text(), streamed.aiMessage().text());
            assertEquals(whole.tokenUsage(), streamed.tokenUsage());
            assertNotNull(streamed.tokenUsage().inputTokenCount());
            assertTrue(streamed.tokenUsage().outputTokenCount() > 0);
            assertEquals(whole.finishReason(), streamed.finishReason());
            assertEquals("infercl-langchain4j-stream", collector.thread);
        }
    }

    @Test
    void stopSequenceIsNeverStreamed() throws Exception {
        try (var streaming = InferClStreamingChatModel.builder().model(model).temperature(0.0).maxTokens(40).executor(Runnable::run).build()) {
            var first = new Collector();
            streaming.chat("Once upon a time", first);
            String full = first.await().aiMessage().text();
            String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
            var cut = new Collector();
            streaming.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).stopSequences(List.of(stop)).build(), cut);
            ChatResponse r = cut.await();
            assertEquals(full.substring(0, full.indexOf(stop)), String.join("", cut.partials));
            assertEquals(r.aiMessage().text(), String.join("", cut.partials));
            assertEquals(FinishReason.STOP, r.finishReason());
        }
    }

    @Test
    void theHandleCancels() throws Exception {
        try (var streaming = InferClStreamingChatModel.builder().model(model).temperature(0.0).maxTokens(100).build()) {
            var c = new Collector();
            c.cancelAfter = 2;
            streaming.chat("Once upon a time", c);
            ChatResponse r = c.await();
            assertTrue(r.tokenUsage().outputTokenCount() < 100, r.tokenUsage().toString());
            assertEquals(FinishReason.OTHER, r.finishReason());
            assertEquals(String.join("", c.partials), r.aiMessage().text());
        }
    }

    @Test
    void aFailureDuringGenerationGoesToOnError() throws Exception {
        try (var streaming = InferClStreamingChatModel.builder().model(model).temperature(0.0).maxTokens(20).build()) {
            var c = new Collector() {
                @Override
                public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                    throw new IllegalStateException("the handler failed");
                }
            };
            streaming.chat("Once upon a time", c);
            var e = assertThrows(ExecutionException.class, c::await);
            assertInstanceOf(IllegalStateException.class, e.getCause());
            assertEquals("the handler failed", e.getCause().getMessage());
        }
    }

    @Test
    void listenersSeeRequestAndResponse() throws Exception {
        var seen = new java.util.concurrent.CopyOnWriteArrayList<String>();
        var listener = new dev.langchain4j.model.chat.listener.ChatModelListener() {
            @Override
            public void onRequest(dev.langchain4j.model.chat.listener.ChatModelRequestContext c) {
                seen.add("request temperature=" + c.chatRequest().parameters().temperature());
            }

            @Override
            public void onResponse(dev.langchain4j.model.chat.listener.ChatModelResponseContext c) {
                seen.add("response tokens=" + c.chatResponse().tokenUsage().outputTokenCount());
            }
        };
        try (var streaming = InferClStreamingChatModel.builder().model(model).temperature(0.0).maxTokens(5).listeners(List.of(listener)).build();
             var blocking = InferClChatModel.builder().model(model).temperature(0.0).maxTokens(5).listeners(List.of(listener)).build()) {
            var c = new Collector();
            streaming.chat("Once upon a time", c);
            c.await();
            blocking.chat("Once upon a time");
        }
        assertEquals(List.of("request temperature=0.0", "response tokens=5", "request temperature=0.0", "response tokens=5"), seen);
    }
}
