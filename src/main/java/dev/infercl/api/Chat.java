package dev.infercl.api;

import dev.infercl.backend.ConfinementGuard;
import dev.infercl.backend.ContextFullException;
import dev.infercl.tokenizer.ChatMessage;
import dev.infercl.tokenizer.ChatTemplate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A conversation held in one {@link Session}'s KV cache. Each turn renders the whole conversation with the
 * chat template, keeps the longest prefix of tokens the cache already holds and prefills only the rest — so
 * a new turn costs its own tokens, not the history's.
 *
 * <p>Threads: like its {@link Session}, a chat is one conversation, used by one thread at a time: {@link #send},
 * {@link #reset} or {@link #messages} while another thread is inside one of them throws
 * {@link IllegalStateException}. Chats over different sessions of one model may run on different threads at once
 * (see {@link Model}); {@link Session#cancel()} on the chat's session stops a reply from any thread.
 */
public final class Chat {
    private final Model model;
    private final Session session;
    private final ChatTemplate template;
    private final String system;
    private final boolean dropOldest;
    private final List<ChatMessage> messages = new ArrayList<>();
    private final int[] stopIds;
    private int dropped;
    private final ConfinementGuard user = new ConfinementGuard("this chat",
            "a chat is one conversation, used by one thread at a time (open a session and a chat per thread)");

    /**
     * @param system     system prompt, or null
     * @param dropOldest when the conversation no longer fits the context, drop the oldest turns instead of
     *                   refusing with {@link ContextFullException}
     */
    public Chat(Model model, Session session, ChatTemplate template, String system, boolean dropOldest) {
        this.model = model;
        this.session = session;
        this.template = template;
        this.system = system;
        this.dropOldest = dropOldest;
        this.stopIds = template.stopTokenIds(model.tokenizer());
        reset();
    }

    /** What the model will reply to: the messages so far (system first, if any). */
    public List<ChatMessage> messages() {
        user.enter();
        try {
            return List.copyOf(messages);
        } finally {
            user.exit();
        }
    }

    /** Forgets the conversation (keeps the system prompt). */
    public void reset() {
        user.enter();
        try {
            messages.clear();
            if (system != null && !system.isBlank()) messages.add(ChatMessage.system(system));
            session.reset();
        } finally {
            user.exit();
        }
    }

    /** Turns dropped so far to fit the context. */
    public int droppedTurns() {
        return dropped;
    }

    /**
     * Adds a user message and generates the assistant's reply, streaming it to {@code listener}.
     *
     * @throws ContextFullException when the conversation does not fit the context and dropping old turns is off
     *                              (or would leave nothing but this message)
     */
    public Generation send(String userMessage, GenerateOptions options, TokenListener listener) {
        user.enter();
        try {
            return sendEntered(userMessage, options, listener);
        } finally {
            user.exit();
        }
    }

    private Generation sendEntered(String userMessage, GenerateOptions options, TokenListener listener) {
        messages.add(ChatMessage.user(userMessage));
        int ctx = session.contextLength();
        int room = Math.min(Math.max(options.maxTokens(), 1), ctx / 2);   // tokens kept free for the reply
        int[] ids = template.encode(model.tokenizer(), messages, true);
        while (ids.length + room > ctx) {
            int first = system != null && !system.isBlank() ? 1 : 0;
            if (!dropOldest || messages.size() - first <= 1) {
                messages.removeLast();
                throw new ContextFullException("the conversation needs " + ids.length + " tokens plus room for a reply; the context holds "
                        + ctx + " (use /reset, a larger --ctx, or --drop-oldest)");
            }
            messages.remove(first);                                   // the oldest user turn …
            if (messages.size() > first + 1 && messages.get(first).role().equals("assistant")) messages.remove(first);   // … and its reply
            dropped++;
            ids = template.encode(model.tokenizer(), messages, true);
        }
        int[] held = session.tokens();
        int common = 0;
        while (common < held.length && common < ids.length && held[common] == ids[common]) common++;
        if (common == ids.length) common--;                           // at least one token must be fed for logits
        session.rewind(common);
        int keep = common;
        Generation g = session.generate(Arrays.copyOfRange(ids, keep, ids.length),
                new GenerateOptions(options.maxTokens(), options.sampler(), false, true, concat(options.stopTokens(), stopIds), options.speculation(), options.logprobs()), listener);
        messages.add(ChatMessage.assistant(stripStops(g.text())));
        return g;
    }

    private String stripStops(String text) {
        String t = text;
        for (String s : template.stopStrings()) {
            int i = t.indexOf(s);
            if (i >= 0) t = t.substring(0, i);
        }
        return t;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
