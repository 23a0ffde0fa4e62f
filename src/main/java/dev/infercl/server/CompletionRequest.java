package dev.infercl.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.infercl.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The honoured fields of a /v1/chat/completions or /v1/completions body, each checked for its type and range (a
 * wrong one is a 400 naming the field). Fields not listed are ignored, as OpenAI-compatible servers do, except
 * those whose silent omission would mislead (tools, n &gt; 1), which are refused.
 */
record CompletionRequest(boolean chat, String model, List<ChatMessage> messages, String prompt, Integer maxTokens,
                         float temperature, int topK, float topP, float minP, float presencePenalty, float frequencyPenalty,
                         float repeatPenalty, long seed, List<String> stop, boolean stream, boolean includeUsage,
                         boolean logprobs, int topLogprobs) {

    static CompletionRequest parse(JsonNode body, boolean chat) throws ApiException {
        if (!body.isObject()) throw ApiException.invalid(null, "the request body must be a JSON object");
        String model = Fields.string(body, "model", false);
        List<ChatMessage> messages = null;
        String prompt = null;
        if (chat) {
            messages = messages(body);
        } else {
            JsonNode p = body.get("prompt");
            if (p == null || p.isNull()) throw ApiException.invalid("prompt", "'prompt' is required");
            if (p.isTextual()) {
                prompt = p.textValue();
            } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
                prompt = p.get(0).textValue();
            } else {
                throw ApiException.invalid("prompt", "'prompt' must be a string (or an array of one string: n = 1)");
            }
            if (prompt.isEmpty()) throw ApiException.invalid("prompt", "'prompt' is empty");
        }
        Integer maxTokens = Fields.integer(body, chat && body.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens", 1, Integer.MAX_VALUE);
        float temperature = Fields.number(body, "temperature", 0, 2, 1f);
        int topK = orDefault(Fields.integer(body, "top_k", 0, Integer.MAX_VALUE), 0);
        float topP = Fields.number(body, "top_p", 0, 1, 1f);
        if (topP == 0) throw ApiException.invalid("top_p", "'top_p' must be in (0, 1], got 0");
        float minP = Fields.number(body, "min_p", 0, 1, 0f);
        if (minP >= 1) throw ApiException.invalid("min_p", "'min_p' must be in [0, 1), got " + minP);
        float presence = Fields.number(body, "presence_penalty", -2, 2, 0f);
        float frequency = Fields.number(body, "frequency_penalty", -2, 2, 0f);
        float repeat = Fields.number(body, "repeat_penalty", 0.01, 10, 1f);
        Long seed = Fields.longValue(body, "seed");
        Integer n = Fields.integer(body, "n", 1, Integer.MAX_VALUE);
        if (n != null && n != 1) throw ApiException.unsupported("n", "only n = 1 is supported, got " + n);
        List<String> stop = stop(body.get("stop"));
        boolean stream = Fields.bool(body, "stream", false);
        boolean includeUsage = false;
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!so.isObject()) throw ApiException.invalid("stream_options", "'stream_options' must be an object");
            includeUsage = Fields.bool(so, "include_usage", false);
        }
        boolean logprobs;
        int top;
        if (chat) {
            logprobs = Fields.bool(body, "logprobs", false);
            top = orDefault(Fields.integer(body, "top_logprobs", 0, 20), 0);
            if (top > 0 && !logprobs) throw ApiException.invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        } else {   // the legacy endpoint's logprobs is the number of alternatives, 0..5
            Integer lp = Fields.integer(body, "logprobs", 0, 5);
            logprobs = lp != null;
            top = lp == null ? 0 : lp;
        }
        for (String f : new String[] {"tools", "functions"}) {
            JsonNode t = body.get(f);
            if (t != null && !t.isNull() && !(t.isArray() && t.isEmpty())) throw ApiException.unsupported(f, "'" + f + "' (tool calling) is not supported");
        }
        if (seed == null) seed = new java.security.SecureRandom().nextLong() & Long.MAX_VALUE;
        return new CompletionRequest(chat, model, messages, prompt, maxTokens, temperature, topK, topP, minP, presence, frequency,
                repeat, seed, stop, stream, includeUsage, logprobs, top);
    }

    private static int orDefault(Integer v, int d) {
        return v == null ? d : v;
    }

    private static final Map<String, String> ROLES = Map.of("system", "system", "developer", "system", "user", "user", "assistant", "assistant");

    private static List<ChatMessage> messages(JsonNode body) throws ApiException {
        JsonNode ms = body.get("messages");
        if (ms == null || ms.isNull()) throw ApiException.invalid("messages", "'messages' is required");
        if (!ms.isArray() || ms.isEmpty()) throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        var out = new ArrayList<ChatMessage>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject()) throw ApiException.invalid(where, "'" + where + "' must be an object");
            JsonNode r = m.get("role");
            if (r == null || !r.isTextual()) throw ApiException.invalid(where + ".role", "'" + where + ".role' must be a string");
            String role = ROLES.get(r.textValue());
            if (role == null) throw ApiException.unsupported(where + ".role", "role '" + r.textValue() + "' is not supported (system, developer, user, assistant)");
            out.add(new ChatMessage(role, content(m.get("content"), where + ".content")));
        }
        return out;
    }

    /** A message's text: a string, or an array of {"type": "text", "text": …} parts joined. */
    private static String content(JsonNode c, String where) throws ApiException {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.textValue();
        if (!c.isArray()) throw ApiException.invalid(where, "'" + where + "' must be a string or an array of text parts");
        var b = new StringBuilder();
        for (JsonNode part : c) {
            JsonNode type = part.get("type"), text = part.get("text");
            if (type == null || !"text".equals(type.asText()) || text == null || !text.isTextual()) {
                throw ApiException.unsupported(where, "only text parts ({\"type\": \"text\", \"text\": …}) are supported");
            }
            b.append(text.textValue());
        }
        return b.toString();
    }

    private static List<String> stop(JsonNode s) throws ApiException {
        if (s == null || s.isNull()) return List.of();
        var out = new ArrayList<String>();
        if (s.isTextual()) {
            out.add(s.textValue());
        } else if (s.isArray() && s.size() <= 4) {
            for (JsonNode e : s) {
                if (!e.isTextual()) throw ApiException.invalid("stop", "'stop' must be a string or an array of up to 4 strings");
                out.add(e.textValue());
            }
        } else {
            throw ApiException.invalid("stop", "'stop' must be a string or an array of up to 4 strings");
        }
        for (String x : out) if (x.isEmpty()) throw ApiException.invalid("stop", "a stop string is empty");
        return List.copyOf(out);
    }
}
