package dev.infercl.langchain4j;

import dev.infercl.api.GenerateOptions;
import dev.infercl.api.Generation;
import dev.infercl.api.Session;
import dev.infercl.engine.SamplerOptions;
import dev.infercl.engine.StopMatcher;
import dev.infercl.tokenizer.ChatMessage;
import dev.infercl.tokenizer.ChatTemplate;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * A LangChain4j chat request run through InferCL: the messages mapped onto InferCL's {@link ChatMessage}s and rendered
 * with the model's chat template, the parameters onto {@link SamplerOptions} and {@link GenerateOptions}, generated in
 * a session of its own (with {@code parallel} &gt; 1 through the model's continuous-batching scheduler), the text cut at
 * the first stop sequence. What InferCL cannot do — tools, images and other non-text content, JSON response formats —
 * is refused with {@link UnsupportedFeatureException}, never ignored.
 */
final class ChatGenerator implements AutoCloseable {
    final Engine engine;
    private final InferClChatRequestParameters defaults;
    private final String templateName;
    final List<ChatModelListener> listeners;

    ChatGenerator(InferClChatBuilder<?> b) {
        this.listeners = b.listeners;
        this.engine = b.engine();
        this.defaults = b.defaults(engine.name);
        this.templateName = b.chatTemplate;
    }

    InferClChatRequestParameters defaults() {
        return defaults;
    }

    /** A request checked and turned into token ids and options; nothing runs yet. */
    record Prepared(int[] ids, GenerateOptions options, List<String> stops) {}

    /** Checks a request (its parameters already defaulted by {@link #defaults()}) and prepares it. */
    Prepared prepare(ChatRequest request) {
        // ChatModel.chat has merged the request's parameters over defaults() already; merging again changes nothing,
        // and gives a direct doChat the defaults too
        InferClChatRequestParameters p = defaults.overrideWith(request.parameters());
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("tools (function calling) are not supported by InferCL's chat models; the request has "
                    + p.toolSpecifications().size() + " tool specification(s)");
        }
        if (p.toolChoice() == ToolChoice.REQUIRED) {
            throw new UnsupportedFeatureException("toolChoice REQUIRED: tools are not supported by InferCL's chat models");
        }
        if (p.responseFormat() != null && p.responseFormat().type() == ResponseFormatType.JSON) {
            throw new UnsupportedFeatureException("a JSON response format (JSON mode or a JSON schema) is not supported by InferCL's chat models");
        }
        ChatTemplate template = engine.template(templateName);
        var messages = messages(request.messages());
        int[] ids = template.encode(engine.model.tokenizer(), messages, true);

        int ctx = engine.contextLength();
        if (ids.length >= ctx) {
            throw new InvalidRequestException("the conversation has " + ids.length + " tokens; a context of " + ctx
                    + " holds at most " + (ctx - 1) + " and the reply needs at least one");
        }
        Integer max = p.maxOutputTokens();
        if (max != null && max < 1) throw new InvalidRequestException("maxOutputTokens must be ≥ 1, got " + max);
        int budget = max == null ? ctx - ids.length : Math.min(max, ctx - ids.length);
        double temperature = check("temperature", p.temperature(), 1.0, 0, 2);
        double topP = p.topP() == null ? 1.0 : p.topP();
        if (!(topP > 0 && topP <= 1)) throw new InvalidRequestException("topP must be in (0, 1], got " + topP);
        Integer topK = p.topK();
        if (topK != null && topK < 0) throw new InvalidRequestException("topK must be ≥ 0, got " + topK);
        double presence = check("presencePenalty", p.presencePenalty(), 0, -2, 2);
        double frequency = check("frequencyPenalty", p.frequencyPenalty(), 0, -2, 2);
        double minP = p.minP() == null ? 0 : p.minP();
        if (!(minP >= 0 && minP < 1)) throw new InvalidRequestException("minP must be in [0, 1), got " + minP);
        long s = p.seed() != null ? p.seed() : ThreadLocalRandom.current().nextLong();
        var sampler = new SamplerOptions((float) temperature, topK == null ? 0 : topK, (float) topP, (float) minP, 1f, 64, s,
                (float) presence, (float) frequency);
        var stops = new ArrayList<>(template.stopStrings());
        if (p.stopSequences() != null) stops.addAll(p.stopSequences());
        return new Prepared(ids, new GenerateOptions(budget, sampler, false, true, template.stopTokenIds(engine.model.tokenizer())), stops);
    }

    private static double check(String name, Double value, double otherwise, double min, double max) {
        if (value == null) return otherwise;
        if (!(value >= min && value <= max)) throw new InvalidRequestException(name + " must be in [" + min + ", " + max + "], got " + value);
        return value;
    }

    /** LangChain4j's messages as InferCL's; what has no text form is refused. */
    static List<ChatMessage> messages(List<dev.langchain4j.data.message.ChatMessage> in) {
        if (in == null || in.isEmpty()) throw new InvalidRequestException("the request has no messages");
        var out = new ArrayList<ChatMessage>();
        for (var m : in) {
            switch (m) {
                case SystemMessage s -> out.add(ChatMessage.system(s.text()));
                case UserMessage u -> {
                    var text = new StringBuilder();
                    for (Content c : u.contents()) {
                        if (!(c instanceof TextContent t)) {
                            throw new UnsupportedFeatureException("a user message with " + c.type() + " content: InferCL's chat models take text only");
                        }
                        if (!text.isEmpty()) text.append('\n');
                        text.append(t.text());
                    }
                    out.add(ChatMessage.user(text.toString()));
                }
                case AiMessage a -> {
                    if (a.hasToolExecutionRequests()) {
                        throw new UnsupportedFeatureException("an AI message with tool execution requests: tools are not supported by InferCL's chat models");
                    }
                    out.add(ChatMessage.assistant(a.text() == null ? "" : a.text()));
                }
                default -> throw new UnsupportedFeatureException("a " + m.type() + " message: InferCL's chat models take system, user and AI messages");
            }
        }
        return out;
    }

    /** The outcome of a generation. */
    record Reply(String text, int promptTokens, int outputTokens, FinishReason finish) {
        ChatResponse response(String modelName) {
            return ChatResponse.builder().aiMessage(AiMessage.from(text)).modelName(modelName)
                    .tokenUsage(new TokenUsage(promptTokens, outputTokens)).finishReason(finish).build();
        }
    }

    /** Something that may stop a generation from another thread (a streaming handle). */
    interface Cancel {
        boolean cancelled();
    }

    /**
     * Generates in a session of its own, handing the text to {@code sink} piece by piece (never part of a stop
     * sequence); returns the reply.
     */
    Reply run(Prepared prepared, Consumer<String> sink, Cancel cancel, Consumer<Session> started) {
        try (Session session = engine.model.newSession()) {
            if (started != null) started.accept(session);
            var matcher = new StopMatcher(prepared.stops());
            Generation g = session.generate(prepared.ids(), prepared.options(), (id, piece) -> {
                if (matcher.stopped()) return;
                String t = matcher.accept(piece);
                if (matcher.stopped()) session.cancel();
                if (!t.isEmpty() && sink != null) sink.accept(t);
                if (cancel != null && cancel.cancelled()) session.cancel();
            });
            String tail = matcher.flush();
            if (!tail.isEmpty() && sink != null) sink.accept(tail);
            FinishReason finish = matcher.stopped() ? FinishReason.STOP : switch (g.stop()) {
                case END_OF_GENERATION -> FinishReason.STOP;
                case TOKEN_BUDGET, CONTEXT_FULL -> FinishReason.LENGTH;
                case CANCELLED -> FinishReason.OTHER;
            };
            return new Reply(matcher.text(), prepared.ids().length, g.tokens().length, finish);
        }
    }

    @Override
    public void close() {
        engine.close();
    }
}
