package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.infercl.FuzzSupport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Chat-template rendering with fuzzed templates and conversations. An input is a flag byte, then NUL-separated
 * fields: the Jinja source, then role and content of each message (UTF-8; a missing content is empty). Flags: bit 0
 * add_generation_prompt; bits 1–3 pick the template: 0–4 a built-in ({@link ChatTemplate#BUILTIN_NAMES}), else the
 * Jinja source.
 *
 * <p>Invariants: a render returns text or throws {@link ChatTemplateException}, nothing else (jinjava's own
 * failures, stack overflows of deeply nested templates and runaway output included), and it ends within the
 * per-input bound: a template engine with loops could run forever, so the renderer bounds its own work; the
 * rendered text then tokenizes (stories260K's vocabulary) with ids inside the vocabulary.
 *
 * <p>Seeds under src/test/resources/dev/infercl/tokenizer/ChatTemplateFuzzTestInputs/render: the Jinja templates of
 * common model families, templates that loop, recurse or grow their output, and the fuzzer's finds.
 */
class ChatTemplateFuzzTest {

    /** The renderer's limits, smaller than the defaults so that a runaway input costs a quarter of a second, not ten. */
    static final ChatTemplate.Limits LIMITS = new ChatTemplate.Limits(java.time.Duration.ofMillis(250), 1L << 20, 1 << 16);

    @FuzzTest
    void render(byte[] data) {
        int flags = data.length > 0 ? data[0] & 0xFF : 0;
        String[] fields = new String(data, Math.min(1, data.length), Math.max(0, data.length - 1), StandardCharsets.UTF_8)
                .split("\0", -1);
        boolean generationPrompt = (flags & 1) != 0;
        int pick = flags >> 1 & 7;
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 1; i < fields.length; i += 2) {
            messages.add(new ChatMessage(fields[i], i + 1 < fields.length ? fields[i + 1] : ""));
        }
        FuzzSupport.bounded(() -> renderChecked(pick < ChatTemplate.BUILTIN_NAMES.size()
                ? ChatTemplate.builtin(ChatTemplate.BUILTIN_NAMES.get(pick)) : null, fields[0], messages, generationPrompt));
    }

    static void renderChecked(ChatTemplate builtin, String source, List<ChatMessage> messages, boolean generationPrompt) {
        try {
            ChatTemplate t = builtin != null ? builtin : ChatTemplate.jinja(source, "<s>", "</s>", LIMITS);
            String text = t.render(messages, generationPrompt);
            assertNotNull(text);
            Tokenizer tok = FuzzVocabularies.sentencePiece(0);
            for (int id : t.encode(tok, messages, generationPrompt)) assertTrue(id >= 0 && id < tok.vocabSize());
        } catch (ChatTemplateException e) {
            assertNotNull(e.getMessage());
        }
    }

    // ---- templates that would run away without the renderer's limits -------------------------------------------

    /** Templates that loop, recurse or grow without end (or nearly), by the name of their seed file. */
    static final java.util.Map<String, String> RUNAWAY = new java.util.LinkedHashMap<>();

    static {
        RUNAWAY.put("nested-empty-loops",
                "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}{% endfor %}");
        RUNAWAY.put("million-outputs", "{% for i in range(1000) %}{% for j in range(1000) %}{{ i * j }}{% endfor %}{% endfor %}");
        RUNAWAY.put("string-doubling", "{% set s = 'ab' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s | length }}");
        RUNAWAY.put("macro-recursion", "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}");
        RUNAWAY.put("deep-parentheses", "{{ " + "(".repeat(2000) + "1" + ")".repeat(2000) + " }}");
        RUNAWAY.put("long-content", "{% for m in messages %}{{ m.content * 100000 }}{% endfor %}");
    }

    /** The committed seed of that name, rendered as {@link #render} renders it: its failure, or null. */
    private static ChatTemplateException renderSeed(String name) throws IOException {
        byte[] data = Files.readAllBytes(Path.of("src/test/resources/dev/infercl/tokenizer/ChatTemplateFuzzTestInputs/render", name));
        String[] fields = new String(data, 1, data.length - 1, StandardCharsets.UTF_8).split("\0", -1);
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 1; i < fields.length; i += 2) messages.add(new ChatMessage(fields[i], i + 1 < fields.length ? fields[i + 1] : ""));
        try {
            ChatTemplate.jinja(fields[0], "<s>", "</s>", LIMITS).render(messages, (data[0] & 1) != 0);
            return null;
        } catch (ChatTemplateException e) {
            return e;
        }
    }

    /** A billion iterations of an empty loop: stopped by the time limit, checked between the outer loops' nodes. */
    @Test
    void nestedEmptyLoopsStopAtTheTimeLimit() throws IOException {
        long t0 = System.nanoTime();
        var e = renderSeed("runaway-nested-empty-loops");
        assertNotNull(e);
        assertTrue(e.getMessage().contains("took longer than 250 ms"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "stopped late");
    }

    /** A string doubled forty times: stopped by the string limit before it fills the heap. */
    @Test
    void stringGrowthStopsAtTheStringLimit() throws IOException {
        var e = renderSeed("runaway-string-doubling");
        assertNotNull(e);
        assertTrue(e.getMessage().contains("chat template failed"), e.getMessage());
    }

    /**
     * Output past the limit (a million numbers, a long content repeated): stopped with a typed error, by the output
     * limit or by the time limit, whichever the machine reaches first.
     */
    @Test
    void outputStopsAtTheOutputLimit() throws IOException {
        for (String name : List.of("runaway-million-outputs", "runaway-long-content")) {
            var e = renderSeed(name);
            assertNotNull(e, name);
            assertTrue(e.getMessage().contains("chat template failed") || e.getMessage().contains("took longer than"),
                    e.getMessage());
        }
    }

    /**
     * Two thousand nested parentheses (which would overflow jinjava's parser stack after seconds of parsing) are
     * refused before parsing. (A macro calling itself renders: jinjava refuses the recursive call, as its
     * configuration does not enable recursive macros.)
     */
    @Test
    void deepNestingIsATypedError() throws IOException {
        var e = renderSeed("runaway-deep-parentheses");
        assertNotNull(e);
        assertTrue(e.getMessage().contains("nests brackets more than 64 deep"), e.getMessage());
        assertNull(renderSeed("runaway-macro-recursion"));
    }

    /** What is left past the bracket limit, nesting that overflows the stack all the same, is a typed error. */
    @Test
    void stackOverflowIsATypedError() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(ChatTemplateException.class, () -> ChatTemplate.jinja(
                "{{ " + "not ".repeat(20_000) + "x }}", "", "", LIMITS).render(List.of(), false));
        assertTrue(e.getMessage().contains("too deeply"), e.getMessage());
    }

    /** A tag that is never closed is refused in one pass over the source (it used to take quadratic time). */
    @Test
    void unclosedTagsAreRefusedInLinearTime() {
        long t0 = System.nanoTime();
        var e = org.junit.jupiter.api.Assertions.assertThrows(ChatTemplateException.class,
                () -> ChatTemplate.jinja("{{".repeat(200_000), "", ""));
        assertTrue(e.getMessage().contains("is never closed"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "slow");
        assertEquals("{% raw %}{{ x{% endraw %}", ChatTemplate.preprocess("{% raw %}{{ x{% endraw %}"));
        assertEquals("{# {{ #}.toUpperCase()", ChatTemplate.preprocess("{# {{ #}.toUpperCase()"));
    }

    // ---- the seed corpus ------------------------------------------------------------------------------------

    /** Writes the hand-made seeds into {@code -Dinfercl.fuzz.writeSeeds=DIR}; does nothing otherwise. */
    @Test
    void writeSeeds() throws IOException {
        String dir = System.getProperty("infercl.fuzz.writeSeeds");
        if (dir == null) return;
        Path out = Path.of(dir).resolve("render");
        Files.createDirectories(out);
        String[] conversation = {"system", "Be brief.", "user", "Hi!", "assistant", "Hello.", "user", "Tell me a story."};
        List<String> templates = List.of(ChatTemplateTest.CHATML_JINJA, ChatTemplateTest.LLAMA3_JINJA,
                ChatTemplateTest.LLAMA2_JINJA,
                "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
                        + "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
                        + "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
                        + "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}",
                "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
                        + "{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}"
                        + "{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n'"
                        + " + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
                        + "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
                "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}"
                        + "{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"
                        + "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}"
                        + "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}",
                "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ m.role.upper() }}:"
                        + "{{ m['content'].lstrip().rstrip() }}{% if m.content.startswith(' x') %}!{% endif %};{% endfor %}"
                        + "{{ ns.n }}{{ '.' if messages[-1].role.lower().endswith('er') }}{{ strftime_now('%d %b %Y') }}",
                "{% macro m(x) %}[{{ x | tojson }}]{% endmacro %}{% for a in messages[1:] %}{{ m(a) }}{{ a.content.split(' ')"
                        + " | join('|') }}{{ a.items() | list | length }}{{ a.get('role') }}{% endfor %}{{ messages | length }}",
                "{{ raise_exception(messages) }}", "{{ messages[99]['content'] }}", "{% if %}", "{{", "plain text");
        int n = 0;
        for (String t : templates) {
            int flags = (n % 2) | 5 << 1; // Jinja
            Files.write(out.resolve(String.format("jinja-%02d", n++)), seed(flags, t, conversation));
        }
        for (var t : RUNAWAY.entrySet()) {
            Files.write(out.resolve("runaway-" + t.getKey()), seed(5 << 1, t.getValue(), conversation));
        }
        for (int b = 0; b < ChatTemplate.BUILTIN_NAMES.size(); b++) {
            Files.write(out.resolve("builtin-" + ChatTemplate.BUILTIN_NAMES.get(b)), seed(1 | b << 1, "", conversation));
        }
        Files.write(out.resolve("builtin-llama-2-unknown-role"), seed(0, "", new String[] {"tool", "{}", "user", "x"}));
    }

    private static byte[] seed(int flags, String template, String[] conversation) {
        var sb = new StringBuilder().append((char) 0).append(template);
        for (String f : conversation) sb.append('\0').append(f);
        byte[] b = sb.toString().getBytes(StandardCharsets.UTF_8);
        b[0] = (byte) flags;
        return b;
    }
}
