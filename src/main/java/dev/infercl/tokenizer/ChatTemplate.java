package dev.infercl.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.infercl.gguf.GgufFile;
import java.io.IOException;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a conversation into the prompt text a chat model was trained on.
 *
 * <p>Two kinds: the model's own Jinja template ({@code tokenizer.chat_template}), rendered with HubSpot's jinjava,
 * or a built-in format chosen by name (below) when the file has none.
 *
 * <h2>Jinja templates</h2>
 * Rendered as Hugging Face renders them: {@code trim_blocks} and {@code lstrip_blocks} on, one trailing newline of
 * the template source dropped, no HTML escaping, message text never re-interpreted as template code. Variables:
 * {@code messages} (a list of maps with "role" and "content"), {@code add_generation_prompt}, {@code bos_token},
 * {@code eos_token}; functions {@code raise_exception(msg)} (fails the render with a {@link ChatTemplateException}
 * carrying msg) and {@code strftime_now(fmt)}. Jinja features jinjava provides cover the common templates:
 * indexing ({@code messages[0]['role']}), slicing ({@code messages[1:]}), {@code loop.first/last/index0},
 * {@code namespace(...)}, macros, {@code | trim}, {@code | tojson}, {@code is defined}, inline if. Python string
 * methods that jinjava lacks are rewritten before parsing: {@code .upper()} / {@code .lower()} become
 * {@code toUpperCase()} / {@code toLowerCase()}, {@code .title()} and {@code .capitalize()} become the filters of
 * the same name (so they cannot be followed by another method call), {@code .lstrip()} / {@code .rstrip()} become
 * {@code stripLeading()} / {@code stripTrailing()}, {@code .startswith(x)} / {@code .endswith(x)} become
 * {@code startsWith(x)} / {@code endsWith(x)}, {@code .keys()} becomes {@code keySet()}; {@code .strip()},
 * {@code .replace(a, b)}, {@code .split(s)}, {@code .items()}, {@code .get(k)} work as Java methods. Not supported:
 * string methods with arguments that differ from Java's (e.g. {@code .strip('x')}), tool-call structures.
 *
 * <p>A render is bounded ({@link Limits}): a template is code from the model file, and its loops, recursion and
 * string growth could otherwise run for ever, overflow the stack or fill the heap. Past a limit, and on any failure
 * of the engine itself, the render throws {@link ChatTemplateException} saying which limit or what failed.
 *
 * <h2>Built-in formats</h2>
 * (text in angle brackets is a special token; BOS is not rendered, the tokenizer adds it)
 * <ul>
 * <li>{@code llama-2}: Meta's format: {@code [INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]};
 *     contents stripped; the system prompt goes into the first user turn.
 * <li>{@code llama-3}: {@code <|start_header_id|>{role}<|end_header_id|>\n\n{content stripped}<|eot_id|>} per
 *     message; generation prompt {@code <|start_header_id|>assistant<|end_header_id|>\n\n}.
 * <li>{@code chatml}: {@code <|im_start|>{role}\n{content}<|im_end|>\n}; generation prompt {@code <|im_start|>assistant\n}.
 * <li>{@code phi-3}: {@code <|{role}|>\n{content}<|end|>\n}; generation prompt {@code <|assistant|>\n}.
 * <li>{@code gemma}: {@code <start_of_turn>{user|model}\n{content stripped}<end_of_turn>\n}; the system prompt is
 *     prepended to the first user turn followed by a blank line; generation prompt {@code <start_of_turn>model\n}.
 * </ul>
 *
 * <p>Immutable and thread-safe.
 */
public final class ChatTemplate {

    /** The names {@link #builtin} knows. */
    public static final List<String> BUILTIN_NAMES = List.of("llama-2", "llama-3", "chatml", "phi-3", "gemma");

    /** Markers of end of turn, as found in templates and vocabularies. */
    private static final List<String> END_OF_TURN_MARKERS = List.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|end_of_text|>", "<|endoftext|>", "</s>");

    private interface Renderer {
        String render(List<ChatMessage> messages, boolean addGenerationPrompt);
    }

    private final String name;
    private final Renderer renderer;
    private final List<String> stopStrings;
    private final String bosToken;

    private ChatTemplate(String name, Renderer renderer, List<String> stopStrings, String bosToken) {
        this.name = name;
        this.renderer = renderer;
        this.stopStrings = List.copyOf(stopStrings);
        this.bosToken = bosToken;
    }

    /** "jinja" for a model's own template, else the built-in's name. */
    public String name() {
        return name;
    }

    /** The prompt text for a conversation; with {@code addGenerationPrompt}, ending where the assistant's reply starts. */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return renderer.render(List.copyOf(messages), addGenerationPrompt);
    }

    /** Texts whose appearance ends an assistant turn (end-of-turn tokens of this format, the EOS token). */
    public List<String> stopStrings() {
        return stopStrings;
    }

    /** The ids of {@link #stopStrings()} that are single tokens of the vocabulary, plus its EOS. */
    public int[] stopTokenIds(Tokenizer tokenizer) {
        Set<Integer> ids = new LinkedHashSet<>();
        if (tokenizer.eosId() >= 0) {
            ids.add(tokenizer.eosId());
        }
        for (String s : stopStrings) {
            int id = singleToken(tokenizer, s);
            if (id >= 0) {
                ids.add(id);
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Renders and tokenizes a conversation, special tokens parsed; BOS is added when the tokenizer asks for it and
     * the rendered text does not already start with it.
     */
    public int[] encode(Tokenizer tokenizer, List<ChatMessage> messages, boolean addGenerationPrompt) {
        String text = render(messages, addGenerationPrompt);
        String bos = tokenizer.bosId() >= 0 ? tokenizer.piece(tokenizer.bosId()) : null;
        boolean rendersBos = bos != null && !bos.isEmpty() && text.startsWith(bos);
        return tokenizer.encode(text, tokenizer.addBosByDefault() && !rendersBos, true);
    }

    /** The BOS text the template was given (empty for built-ins, which leave BOS to the tokenizer). */
    String bosToken() {
        return bosToken;
    }

    // ---------------------------------------------------------------------------------------------------------
    // construction

    /**
     * The model's template: {@code tokenizer.chat_template} when the file has one, else a built-in chosen from
     * the vocabulary's special tokens ({@link #detect}).
     */
    public static ChatTemplate fromGguf(GgufFile file, Tokenizer tokenizer) throws IOException {
        return fromGguf(file, tokenizer, null);
    }

    /**
     * As {@link #fromGguf(GgufFile, Tokenizer)}, but a non-null {@code name} of a built-in overrides the file's
     * template.
     */
    public static ChatTemplate fromGguf(GgufFile file, Tokenizer tokenizer, String name) throws IOException {
        if (name != null) {
            return builtin(name);
        }
        if (file.has("tokenizer.chat_template")) {
            String source = file.getString("tokenizer.chat_template");
            try {
                return jinja(source, tokenPiece(tokenizer, tokenizer.bosId()), tokenPiece(tokenizer, tokenizer.eosId()));
            } catch (ChatTemplateException e) {
                throw new IOException(file.path() + ": tokenizer.chat_template: " + e.getMessage(), e);
            }
        }
        return detect(tokenizer);
    }

    private static String tokenPiece(Tokenizer tokenizer, int id) {
        return id >= 0 ? tokenizer.piece(id) : "";
    }

    /**
     * The built-in format a vocabulary was made for, judged by its special tokens: {@code <|im_start|>} chatml,
     * {@code <|eot_id|>} llama-3, {@code <start_of_turn>} gemma, {@code <|end|>} with {@code <|user|>} phi-3, else
     * llama-2.
     */
    public static ChatTemplate detect(Tokenizer tokenizer) {
        if (singleToken(tokenizer, "<|im_start|>") >= 0) {
            return builtin("chatml");
        }
        if (singleToken(tokenizer, "<|eot_id|>") >= 0 || singleToken(tokenizer, "<|start_header_id|>") >= 0) {
            return builtin("llama-3");
        }
        if (singleToken(tokenizer, "<start_of_turn>") >= 0) {
            return builtin("gemma");
        }
        if (singleToken(tokenizer, "<|end|>") >= 0 && singleToken(tokenizer, "<|user|>") >= 0) {
            return builtin("phi-3");
        }
        return builtin("llama-2");
    }

    /** The id of a text that the vocabulary has as one special token, or -1. */
    static int singleToken(Tokenizer tokenizer, String text) {
        int[] ids = tokenizer.encode(text, false, true);
        return ids.length == 1 && tokenizer.piece(ids[0]).equals(text) ? ids[0] : -1;
    }

    /** A built-in format by name (see the class comment); case-insensitive, "llama2"/"llama3"/"phi3" also accepted. */
    public static ChatTemplate builtin(String name) {
        String n = name.toLowerCase(Locale.ROOT).replace("_", "-");
        return switch (n) {
            case "llama-2", "llama2" -> new ChatTemplate("llama-2", ChatTemplate::llama2, List.of("</s>"), "");
            case "llama-3", "llama3" -> new ChatTemplate("llama-3", ChatTemplate::llama3,
                    List.of("<|eot_id|>", "<|end_of_text|>"), "");
            case "chatml" -> new ChatTemplate("chatml", ChatTemplate::chatml, List.of("<|im_end|>", "<|endoftext|>"), "");
            case "phi-3", "phi3" -> new ChatTemplate("phi-3", ChatTemplate::phi3, List.of("<|end|>", "<|endoftext|>"), "");
            case "gemma", "gemma-2", "gemma2" -> new ChatTemplate("gemma", ChatTemplate::gemma,
                    List.of("<end_of_turn>", "<eos>"), "");
            default -> throw new IllegalArgumentException(
                    "unknown chat template '" + name + "'; built-in templates: " + String.join(", ", BUILTIN_NAMES));
        };
    }

    // ---------------------------------------------------------------------------------------------------------
    // built-in formats

    private static String llama2(List<ChatMessage> messages, boolean addGenerationPrompt) {
        var sb = new StringBuilder();
        String system = null;
        boolean firstTurn = true;
        for (ChatMessage m : messages) {
            switch (m.role()) {
                case "system" -> system = m.content().strip();
                case "user" -> {
                    if (!firstTurn) {
                        sb.append("<s>");
                    }
                    String content = m.content().strip();
                    if (system != null) {
                        content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
                        system = null;
                    }
                    sb.append("[INST] ").append(content).append(" [/INST]");
                    firstTurn = false;
                }
                case "assistant" -> sb.append(' ').append(m.content().strip()).append(" </s>");
                default -> throw new ChatTemplateException("llama-2 chat format has no role '" + m.role() + "'");
            }
        }
        return sb.toString();
    }

    private static String llama3(List<ChatMessage> messages, boolean addGenerationPrompt) {
        var sb = new StringBuilder();
        for (ChatMessage m : messages) {
            sb.append("<|start_header_id|>").append(m.role()).append("<|end_header_id|>\n\n")
                    .append(m.content().strip()).append("<|eot_id|>");
        }
        if (addGenerationPrompt) {
            sb.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
        return sb.toString();
    }

    private static String chatml(List<ChatMessage> messages, boolean addGenerationPrompt) {
        var sb = new StringBuilder();
        for (ChatMessage m : messages) {
            sb.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
        }
        if (addGenerationPrompt) {
            sb.append("<|im_start|>assistant\n");
        }
        return sb.toString();
    }

    private static String phi3(List<ChatMessage> messages, boolean addGenerationPrompt) {
        var sb = new StringBuilder();
        for (ChatMessage m : messages) {
            sb.append("<|").append(m.role()).append("|>\n").append(m.content()).append("<|end|>\n");
        }
        if (addGenerationPrompt) {
            sb.append("<|assistant|>\n");
        }
        return sb.toString();
    }

    private static String gemma(List<ChatMessage> messages, boolean addGenerationPrompt) {
        var sb = new StringBuilder();
        String system = null;
        for (ChatMessage m : messages) {
            String content = m.content().strip();
            String role = switch (m.role()) {
                case "system" -> null;
                case "assistant", "model" -> "model";
                default -> m.role();
            };
            if (role == null) {
                system = system == null ? content : system + "\n\n" + content;
                continue;
            }
            if (system != null && role.equals("user")) {
                content = system + "\n\n" + content;
                system = null;
            }
            sb.append("<start_of_turn>").append(role).append('\n').append(content).append("<end_of_turn>\n");
        }
        if (addGenerationPrompt) {
            sb.append("<start_of_turn>model\n");
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Jinja

    /** Thrown by the template function raise_exception; found again in jinjava's error list. */
    static final class RaisedByTemplate extends RuntimeException {
        RaisedByTemplate(String message) {
            super(message);
        }
    }

    /** The template function {@code raise_exception(message)}. */
    public static String raiseException(Object message) {
        throw new RaisedByTemplate(String.valueOf(message));
    }

    /** The template function {@code strftime_now(format)}: the current local time in a Python strftime format. */
    public static String strftimeNow(String format) {
        return strftime(LocalDateTime.now(), format);
    }

    static String strftime(LocalDateTime t, String format) {
        var sb = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                sb.append(c);
                continue;
            }
            char f = format.charAt(++i);
            switch (f) {
                case 'd' -> sb.append(String.format("%02d", t.getDayOfMonth()));
                case 'm' -> sb.append(String.format("%02d", t.getMonthValue()));
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> sb.append(String.format("%02d", t.getYear() % 100));
                case 'H' -> sb.append(String.format("%02d", t.getHour()));
                case 'M' -> sb.append(String.format("%02d", t.getMinute()));
                case 'S' -> sb.append(String.format("%02d", t.getSecond()));
                case 'b' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'j' -> sb.append(String.format("%03d", t.getDayOfYear()));
                case '%' -> sb.append('%');
                default -> sb.append(t.format(DateTimeFormatter.ISO_LOCAL_DATE_TIME));
            }
        }
        return sb.toString();
    }

    /** Python string methods jinjava does not have, rewritten to what it has (see the class comment). */
    private static final Map<Pattern, String> REWRITES = new LinkedHashMap<>(); // filled once below, then only read

    static {
        REWRITES.put(Pattern.compile("\\.upper\\(\\s*\\)"), ".toUpperCase()");
        REWRITES.put(Pattern.compile("\\.lower\\(\\s*\\)"), ".toLowerCase()");
        for (String f : List.of("title", "capitalize")) {
            REWRITES.put(Pattern.compile("\\." + f + "\\(\\s*\\)"), "|" + f);
        }
        REWRITES.put(Pattern.compile("\\.lstrip\\(\\s*\\)"), ".stripLeading()");
        REWRITES.put(Pattern.compile("\\.rstrip\\(\\s*\\)"), ".stripTrailing()");
        REWRITES.put(Pattern.compile("\\.startswith\\("), ".startsWith(");
        REWRITES.put(Pattern.compile("\\.endswith\\("), ".endsWith(");
        REWRITES.put(Pattern.compile("\\.keys\\(\\s*\\)"), ".keySet()");
    }

    /** Brackets one tag may nest: real templates nest a few; deep nesting costs jinjava's parser quadratic time. */
    static final int MAX_NESTING = 64;

    private static final Pattern RAW = Pattern.compile("\\{%[-+]?\\s*raw\\s*[-+]?%}");
    private static final Pattern ENDRAW = Pattern.compile("\\{%[-+]?\\s*endraw\\s*[-+]?%}");

    /**
     * Rewrites Python idioms inside {@code {{ }}} and {@code {% %}} only; literal template text, comments and raw
     * blocks are left alone. One pass over the source: a tag that is never closed, or brackets nested deeper than
     * {@link #MAX_NESTING} inside a tag, is refused here (Jinja itself refuses an unclosed tag), rather than handed to
     * jinjava, whose parser takes time quadratic in either.
     */
    static String preprocess(String source) {
        if (source.endsWith("\n")) {
            source = source.substring(0, source.length() - 1); // Jinja's keep_trailing_newline=False
        }
        var sb = new StringBuilder(source.length() + 16);
        int pos = 0;
        for (int at = nextTag(source, 0); at >= 0; at = nextTag(source, pos)) {
            char kind = source.charAt(at + 1);
            String closer = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
            int close = source.indexOf(closer, at + 2);
            if (close < 0) {
                throw new ChatTemplateException("chat template: '{" + kind + "' at offset " + at + " is never closed by '"
                        + closer + "'");
            }
            int end = close + 2;
            sb.append(source, pos, at);
            pos = end;
            String tag = source.substring(at, end);
            if (kind == '#') {
                sb.append(tag);
                continue;
            }
            checkNesting(tag, at);
            if (kind == '%' && RAW.matcher(tag).matches()) {
                Matcher endraw = ENDRAW.matcher(source);
                if (!endraw.find(end)) {
                    throw new ChatTemplateException("chat template: '{% raw %}' at offset " + at + " has no '{% endraw %}'");
                }
                sb.append(source, at, endraw.end());
                pos = endraw.end();
                continue;
            }
            for (var r : REWRITES.entrySet()) {
                tag = r.getKey().matcher(tag).replaceAll(Matcher.quoteReplacement(r.getValue()));
            }
            sb.append(tag);
        }
        sb.append(source, pos, source.length());
        return sb.toString();
    }

    /** The offset of the next "{{", "{%" or "{#" at or after {@code from}, or -1. */
    private static int nextTag(String source, int from) {
        for (int at = source.indexOf('{', from); at >= 0 && at + 1 < source.length(); at = source.indexOf('{', at + 1)) {
            char c = source.charAt(at + 1);
            if (c == '{' || c == '%' || c == '#') return at;
        }
        return -1;
    }

    /** Refuses a tag whose brackets, outside string literals, nest deeper than {@link #MAX_NESTING}. */
    private static void checkNesting(String tag, int offset) {
        int depth = 0;
        char quote = 0;
        for (int i = 2; i < tag.length() - 2; i++) {
            char c = tag.charAt(i);
            if (quote != 0) {
                if (c == '\\') i++;
                else if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '(' || c == '[' || c == '{') {
                if (++depth > MAX_NESTING) {
                    throw new ChatTemplateException("chat template: the tag at offset " + offset + " nests brackets more than "
                            + MAX_NESTING + " deep");
                }
            } else if (c == ')' || c == ']' || c == '}') {
                depth = Math.max(0, depth - 1);
            }
        }
    }

    /**
     * What one render of a Jinja template may use: its time (checked before each node is rendered, so a loop over
     * an empty body runs at most one loop's worth past it), the characters of its output and of any one string it
     * builds, the elements of a list or map. The defaults leave a real template (a few milliseconds, the size of a
     * prompt) orders of magnitude of room.
     */
    record Limits(Duration time, long maxChars, int maxCollection) {
        static final Limits DEFAULT = new Limits(Duration.ofSeconds(10), 16L << 20, 1 << 20);
    }

    /** Thrown out of jinjava by the node pre-processor when a render is past its time; found again in the errors. */
    static final class RenderTimeExceeded extends RuntimeException {
        RenderTimeExceeded(String message) {
            super(message);
        }
    }

    /** The deadline (System.nanoTime) of the render running on this thread. */
    private static final ThreadLocal<long[]> DEADLINE = new ThreadLocal<>();

    private static void checkDeadline() {
        long[] d = DEADLINE.get();
        if (d != null && System.nanoTime() - d[0] > 0) {
            throw new RenderTimeExceeded("chat template render took longer than " + d[1] + " ms (a runaway loop?)");
        }
    }

    /**
     * A Jinja template with the given BOS and EOS texts; {@link ChatTemplateException} when a tag is never closed or
     * nests brackets too deeply ({@link #preprocess}).
     */
    public static ChatTemplate jinja(String source, String bosToken, String eosToken) {
        return jinja(source, bosToken, eosToken, Limits.DEFAULT);
    }

    /** One engine per set of limits: a Jinjava is thread-safe, and making one (its tags, filters, functions) is not free. */
    private static final Map<Limits, Jinjava> ENGINES = new ConcurrentHashMap<>();

    private static Jinjava engine(Limits limits) {
        var config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withNestedInterpretationEnabled(false)
                .withFailOnUnknownTokens(false)
                .withMaxOutputSize(limits.maxChars())
                .withMaxStringLength(limits.maxChars())
                .withMaxListSize(limits.maxCollection())
                .withMaxMapSize(limits.maxCollection())
                .withProcessors(JinjavaProcessors.newBuilder().withNodePreProcessor((node, interpreter) -> checkDeadline()).build())
                .build();
        var jinjava = new Jinjava(config);
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.class, "raiseException", Object.class));
        jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition(
                "", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
        return jinjava;
    }

    static ChatTemplate jinja(String source, String bosToken, String eosToken, Limits limits) {
        String prepared = preprocess(source);
        Jinjava jinjava = ENGINES.computeIfAbsent(limits, ChatTemplate::engine);

        List<String> stops = new ArrayList<>();
        for (String marker : END_OF_TURN_MARKERS) {
            if (source.contains(marker)) {
                stops.add(marker);
            }
        }
        if (eosToken != null && !eosToken.isEmpty() && !stops.contains(eosToken)) {
            stops.add(eosToken);
        }

        Renderer renderer = (messages, addGenerationPrompt) -> {
            Map<String, Object> context = new HashMap<>();
            List<Map<String, Object>> list = new ArrayList<>(messages.size());
            for (ChatMessage m : messages) {
                Map<String, Object> map = new LinkedHashMap<>();
                map.put("role", m.role());
                map.put("content", m.content());
                list.add(map);
            }
            context.put("messages", list);
            context.put("add_generation_prompt", addGenerationPrompt);
            context.put("bos_token", bosToken == null ? "" : bosToken);
            context.put("eos_token", eosToken == null ? "" : eosToken);
            RenderResult result;
            DEADLINE.set(new long[] {System.nanoTime() + limits.time().toNanos(), limits.time().toMillis()});
            try {
                result = jinjava.renderForResult(prepared, context);
            } catch (RenderTimeExceeded e) {
                throw new ChatTemplateException(e.getMessage());
            } catch (StackOverflowError e) {
                // deep nesting or recursion in the template; the stack is unwound by now
                throw new ChatTemplateException("chat template nests or recurses too deeply to render");
            } catch (RuntimeException e) {
                throw new ChatTemplateException("chat template failed: " + e, e);
            } finally {
                DEADLINE.remove();
            }
            for (TemplateError e : result.getErrors()) {
                for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                    if (t instanceof RaisedByTemplate raised) {
                        throw new ChatTemplateException("chat template raised an exception: " + raised.getMessage());
                    }
                    if (t instanceof RenderTimeExceeded late) {
                        throw new ChatTemplateException(late.getMessage());
                    }
                }
            }
            List<String> fatal = result.getErrors().stream()
                    .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)
                    .map(e -> "line " + e.getLineno() + ": " + e.getMessage()
                            + (e.getFieldName() == null || e.getFieldName().isEmpty() ? "" : " (" + e.getFieldName() + ")"))
                    .toList();
            if (!fatal.isEmpty()) {
                throw new ChatTemplateException("chat template failed: " + String.join("; ", fatal));
            }
            return result.getOutput();
        };
        return new ChatTemplate("jinja", renderer, stops, bosToken == null ? "" : bosToken);
    }

    @Override
    public String toString() {
        return "ChatTemplate[" + name + "]";
    }
}
