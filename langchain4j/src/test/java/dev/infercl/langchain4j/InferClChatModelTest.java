package dev.infercl.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.api.BackendKind;
import dev.infercl.api.Chat;
import dev.infercl.api.GenerateOptions;
import dev.infercl.api.Model;
import dev.infercl.api.Session;
import dev.infercl.engine.SamplerOptions;
import dev.infercl.tokenizer.ChatTemplate;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ChatModel's text is InferCL's {@link Chat} output for the same conversation and sampler (greedy and seeded),
 * whether it runs alone or batched with concurrent calls; usage, finish reason and stop sequences as documented.
 */
class InferClChatModelTest {
    static Model reference;          // unbatched, the oracle's
    static ChatTemplate template;
    static InferClChatModel chat;    // loads its own copy, batched (parallel 4)

    @BeforeAll
    static void load() throws Exception {
        reference = TestModels.load(1);
        template = reference.chatTemplate(null);
        chat = InferClChatModel.builder().modelPath(TestModels.STORIES).backend(BackendKind.CPU).parallel(4).build();
    }

    @AfterAll
    static void close() {
        if (chat != null) chat.close();
        if (reference != null) reference.close();
    }

    /** What InferCL's Chat replies to {@code user} (after {@code system}) with these sampler settings. */
    static String chatReply(String system, String user, SamplerOptions sampler, int maxTokens) {
        try (Session session = reference.newSession()) {
            var c = new Chat(reference, session, template, system, false);
            c.send(user, new GenerateOptions(maxTokens, sampler, false, true), null);
            return c.messages().getLast().content();
        }
    }

    static ChatRequest request(double temperature, int maxTokens, dev.langchain4j.data.message.ChatMessage... messages) {
        return ChatRequest.builder().messages(messages).temperature(temperature).maxOutputTokens(maxTokens).build();
    }

    @Test
    void greedyTextEqualsChat() {
        ChatResponse r = chat.chat(request(0.0, 40, UserMessage.from("Once upon a time")));
        String expected = chatReply(null, "Once upon a time", SamplerOptions.greedy(), 40);
        assertEquals(expected, r.aiMessage().text());
        assertTrue(expected.length() > 10, expected);
        int prompt = template.encode(reference.tokenizer(), List.of(dev.infercl.tokenizer.ChatMessage.user("Once upon a time")), true).length;
        assertEquals(prompt, r.tokenUsage().inputTokenCount());
        assertTrue(r.tokenUsage().outputTokenCount() > 0 && r.tokenUsage().outputTokenCount() <= 40, r.tokenUsage().toString());
        assertEquals(r.tokenUsage().inputTokenCount() + r.tokenUsage().outputTokenCount(), r.tokenUsage().totalTokenCount());
        assertEquals(r.tokenUsage().outputTokenCount() == 40 ? FinishReason.LENGTH : FinishReason.STOP, r.finishReason());
        assertEquals("stories260K", r.modelName());
    }

    @Test
    void seededTextEqualsChatAndRepeats() {
        var seeded = InferClChatModel.builder().model(chat.model()).seed(42L).temperature(0.9).topK(40).topP(0.95).build();
        try (seeded) {
            ChatResponse a = seeded.chat(ChatRequest.builder().messages(SystemMessage.from("You tell stories."), UserMessage.from("Tell me about a cat"))
                    .maxOutputTokens(48).build());
            String expected = chatReply("You tell stories.", "Tell me about a cat", new SamplerOptions(0.9f, 40, 0.95f, 0f, 1f, 64, 42), 48);
            assertEquals(expected, a.aiMessage().text());
            assertEquals(a.aiMessage().text(), seeded.chat(ChatRequest.builder().messages(SystemMessage.from("You tell stories."),
                    UserMessage.from("Tell me about a cat")).maxOutputTokens(48).build()).aiMessage().text());
        }
        chat.model().newSession().close();   // closing a model built over a borrowed one leaves that one open
    }

    @Test
    void historyIsRenderedAsChatKeepsIt() {
        SamplerOptions greedy = SamplerOptions.greedy();
        String second;
        String first;
        try (Session session = reference.newSession()) {
            var c = new Chat(reference, session, template, "Be brief.", false);
            c.send("Hello", new GenerateOptions(24, greedy, false, true), null);
            first = c.messages().getLast().content();
            c.send("And then?", new GenerateOptions(24, greedy, false, true), null);
            second = c.messages().getLast().content();
        }
        ChatResponse r = chat.chat(ChatRequest.builder().temperature(0.0).maxOutputTokens(24).messages(
                SystemMessage.from("Be brief."), UserMessage.from("Hello"), AiMessage.from(first), UserMessage.from("And then?")).build());
        assertEquals(second, r.aiMessage().text());
    }

    @Test
    void stopSequenceCutsTheText() {
        String full = chat.chat(request(0.0, 40, UserMessage.from("Once upon a time"))).aiMessage().text();
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        ChatResponse r = chat.chat(ChatRequest.builder().messages(UserMessage.from("Once upon a time")).temperature(0.0)
                .maxOutputTokens(40).stopSequences(List.of(stop)).build());
        assertEquals(full.substring(0, full.indexOf(stop)), r.aiMessage().text());
        assertEquals(FinishReason.STOP, r.finishReason());
    }

    @Test
    void budgetEndsWithLength() {
        ChatResponse r = chat.chat(request(0.0, 3, UserMessage.from("Once upon a time")));
        assertEquals(3, r.tokenUsage().outputTokenCount());
        assertEquals(FinishReason.LENGTH, r.finishReason());
    }

    @Test
    void concurrentCallsBatchAndEachGetsItsOwnText() throws Exception {
        var seeded = InferClChatModel.builder().model(chat.model()).seed(7L).temperature(0.8).maxTokens(32).build();
        List<String> prompts = List.of("Once upon a time", "The dog", "Lily and Ben", "A big red ball", "The sun", "Tom was sad");
        List<String> alone = new ArrayList<>();
        for (String p : prompts) alone.add(seeded.chat(p));
        var start = new CyclicBarrier(prompts.size());
        try (var pool = Executors.newFixedThreadPool(prompts.size())) {
            List<Future<String>> futures = new ArrayList<>();
            for (String p : prompts) futures.add(pool.submit((Callable<String>) () -> {
                start.await();
                return seeded.chat(p);
            }));
            for (int i = 0; i < prompts.size(); i++) assertEquals(alone.get(i), futures.get(i).get(), prompts.get(i));
        }
        // the calls shared steps: the scheduler ran several sequences in one forward pass
        assertTrue(chat.model().batchingStats().mostSequencesInAStep() >= 2, chat.model().batchingStats().toString());
    }

    @Test
    void aRequestsOwnSeedAndMinP() {
        var seeded = InferClChatModel.builder().model(chat.model()).seed(1L).temperature(1.0).maxTokens(40).build();
        var texts = new java.util.HashSet<String>();
        for (long seed : new long[] {5, 6, 7}) {
            ChatRequest request = ChatRequest.builder().messages(UserMessage.from("Once upon a time"))
                    .parameters(InferClChatRequestParameters.builder().seed(seed).minP(0.05).build()).build();
            String text = seeded.chat(request).aiMessage().text();
            assertEquals(chatReply(null, "Once upon a time", new SamplerOptions(1f, 0, 1f, 0.05f, 1f, 64, seed), 40), text, "seed " + seed);
            texts.add(text);
        }
        assertTrue(texts.size() > 1, "different seeds, different texts: " + texts);
        // the builder's seed where the request has none
        assertEquals(chatReply(null, "Once upon a time", new SamplerOptions(1f, 0, 1f, 0f, 1f, 64, 1), 40), seeded.chat("Once upon a time"));
        assertEquals(1L, seeded.defaultRequestParameters() instanceof InferClChatRequestParameters p ? p.seed() : null);
    }
}
