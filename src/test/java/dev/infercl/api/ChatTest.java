package dev.infercl.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import dev.infercl.backend.ContextFullException;
import dev.infercl.tokenizer.ChatMessage;
import dev.infercl.tokenizer.ChatTemplate;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Chat on ../shared/arch/phi3.gguf (its own Jinja template): KV reuse across turns, stop tokens, full context. */
class ChatTest {

    static Model phi3() throws Exception {
        return Model.load(SharedData.require("arch/phi3.gguf"), LoadOptions.defaults().withBackend(BackendKind.CPU));
    }

    @Test
    void aSecondTurnPrefillsOnlyItsOwnTokensAndEqualsAFreshRun() throws Exception {
        try (Model m = phi3(); Session s = m.newSession()) {
            ChatTemplate t = m.chatTemplate(null);
            var chat = new Chat(m, s, t, "Be brief.", false);
            int firstPrompt = t.encode(m.tokenizer(), List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hello world, this is")), true).length;
            chat.send("Hello world, this is", GenerateOptions.greedy(8), null);
            Generation second = chat.send("The quick brown fox", GenerateOptions.greedy(8), null);

            List<ChatMessage> before = new ArrayList<>(chat.messages().subList(0, 4));   // system, user, assistant, user
            int[] full = t.encode(m.tokenizer(), before, true);
            // the cached first prompt is reused (the reply's tokens only where re-tokenizing its text gives them back)
            assertTrue(second.promptTokens().length <= full.length - firstPrompt,
                    "turn 2 fed " + second.promptTokens().length + " of " + full.length + " tokens; turn 1's prompt had " + firstPrompt);
            try (Session fresh = m.newSession()) {
                Generation g = fresh.generate(full, GenerateOptions.greedy(8).withStopTokens(t.stopTokenIds(m.tokenizer())), null);
                assertArrayEquals(g.tokens(), second.tokens());
            }
        }
    }

    @Test
    void theRenderedPromptFollowsTheModelsTemplate() throws Exception {
        try (Model m = phi3()) {
            String r = m.chatTemplate(null).render(List.of(ChatMessage.user("Hi")), true);
            assertEquals("<s><|user|>\nHi<|end|>\n<|assistant|>\n", r);
        }
    }

    @Test
    void aFullContextIsRefusedOrOldTurnsAreDropped() throws Exception {
        try (Model m = phi3()) {
            try (Session s = m.newSession(64)) {
                var chat = new Chat(m, s, m.chatTemplate(null), null, false);
                var e = assertThrows(ContextFullException.class, () -> {
                    for (int i = 0; i < 10; i++) chat.send("The quick brown fox jumps over the lazy dog", GenerateOptions.greedy(8), null);
                });
                assertTrue(e.getMessage().contains("--drop-oldest"), e.getMessage());
            }
            try (Session s = m.newSession(64)) {
                var chat = new Chat(m, s, m.chatTemplate(null), null, true);
                for (int i = 0; i < 10; i++) chat.send("The quick brown fox jumps over the lazy dog", GenerateOptions.greedy(8), null);
                assertTrue(chat.droppedTurns() > 0);
                assertTrue(s.length() <= 64);
            }
        }
    }

    /** Two turns of a chat on four threads at once, one Jinja template shared by all: each as it is alone. */
    @Test
    void chatsOnFourThreadsSharingOneTemplateReplyAsEachDoesAlone() throws Exception {
        String[][] turns = {{"Hello world, this is", "The quick brown fox"}, {"What is two plus two?", "And three?"},
                            {"Name a colour.", "Another one."}, {"Say hi.", "Say bye."}};
        try (Model m = phi3()) {
            ChatTemplate t = m.chatTemplate(null);
            String[][] alone = new String[turns.length][];
            for (int c = 0; c < turns.length; c++) {
                try (Session s = m.newSession(256)) {
                    alone[c] = twoTurns(new Chat(m, s, t, "Be brief.", false), turns[c]);
                }
            }
            String[][] together = new String[turns.length][];
            ConcurrentSessions.onThreads(turns.length, c -> {
                try (Session s = m.newSession(256)) {
                    together[c] = twoTurns(new Chat(m, s, t, "Be brief.", false), turns[c]);
                }
            });
            for (int c = 0; c < turns.length; c++) assertArrayEquals(alone[c], together[c], "chat " + c);
            assertTrue(java.util.Arrays.stream(alone).flatMap(java.util.Arrays::stream).filter(r -> !r.isEmpty()).count() >= turns.length,
                    "most replies have text: " + java.util.Arrays.deepToString(alone));
        }
    }

    private static String[] twoTurns(Chat chat, String[] messages) {
        return new String[] {chat.send(messages[0], GenerateOptions.greedy(8), null).text(), chat.send(messages[1], GenerateOptions.greedy(8), null).text()};
    }

    @Test
    void aChatInUseIsRefusedToASecondThread() throws Exception {
        try (Model m = phi3(); Session s = m.newSession(256)) {
            var chat = new Chat(m, s, m.chatTemplate(null), null, false);
            var refused = new java.util.concurrent.atomic.AtomicReference<Throwable>();
            chat.send("Hello world, this is", GenerateOptions.greedy(8), (id, piece) -> {
                if (refused.get() != null) return;
                Thread other = Thread.ofPlatform().start(() -> {
                    try {
                        chat.send("Hi", GenerateOptions.greedy(2), null);
                        refused.set(new AssertionError("a second thread sent while the first was sending"));
                    } catch (IllegalStateException e) {
                        refused.set(e);
                    }
                });
                try {
                    other.join();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            });
            assertTrue(refused.get() instanceof IllegalStateException e && e.getMessage().startsWith("this chat is in use by thread"), String.valueOf(refused.get()));
            assertEquals(2, chat.messages().size(), "user, assistant: the refused message was not added; " + chat.messages());
        }
    }
}
