package dev.infercl.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.infercl.SharedData;
import dev.infercl.gguf.GgufFile;
import dev.infercl.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat templates, byte for byte against prompts written out by hand from each format's documented definition.
 */
class ChatTemplateTest {

    static final List<ChatMessage> CONVERSATION = List.of(
            ChatMessage.system("You are a helpful assistant."),
            ChatMessage.user("Hello!"),
            ChatMessage.assistant("Hi there. How can I help?"),
            ChatMessage.user("Tell me a joke."));

    @Test
    void llama2() {
        var t = ChatTemplate.builtin("llama-2");
        assertEquals("[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST]"
                + " Hi there. How can I help? </s><s>[INST] Tell me a joke. [/INST]", t.render(CONVERSATION, true));
        assertEquals("[INST] Hello! [/INST]", t.render(List.of(ChatMessage.user(" Hello! ")), true));
        assertEquals(List.of("</s>"), t.stopStrings());
    }

    @Test
    void llama3() {
        var t = ChatTemplate.builtin("llama-3");
        assertEquals("<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there. How can I help?<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", t.render(CONVERSATION, true));
        assertEquals("<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>",
                t.render(List.of(ChatMessage.user("Hello!")), false));
        assertTrue(t.stopStrings().contains("<|eot_id|>"));
    }

    static final String CHATML_EXPECTED = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            + "<|im_start|>user\nHello!<|im_end|>\n"
            + "<|im_start|>assistant\nHi there. How can I help?<|im_end|>\n"
            + "<|im_start|>user\nTell me a joke.<|im_end|>\n"
            + "<|im_start|>assistant\n";

    @Test
    void chatml() {
        var t = ChatTemplate.builtin("chatml");
        assertEquals(CHATML_EXPECTED, t.render(CONVERSATION, true));
        assertEquals(CHATML_EXPECTED.substring(0, CHATML_EXPECTED.length() - "<|im_start|>assistant\n".length()),
                t.render(CONVERSATION, false));
        assertTrue(t.stopStrings().contains("<|im_end|>"));
    }

    @Test
    void phi3() {
        var t = ChatTemplate.builtin("phi-3");
        assertEquals("<|system|>\nYou are a helpful assistant.<|end|>\n"
                + "<|user|>\nHello!<|end|>\n"
                + "<|assistant|>\nHi there. How can I help?<|end|>\n"
                + "<|user|>\nTell me a joke.<|end|>\n"
                + "<|assistant|>\n", t.render(CONVERSATION, true));
        assertTrue(t.stopStrings().contains("<|end|>"));
    }

    @Test
    void gemma() {
        var t = ChatTemplate.builtin("gemma");
        assertEquals("<start_of_turn>user\nYou are a helpful assistant.\n\nHello!<end_of_turn>\n"
                + "<start_of_turn>model\nHi there. How can I help?<end_of_turn>\n"
                + "<start_of_turn>user\nTell me a joke.<end_of_turn>\n"
                + "<start_of_turn>model\n", t.render(CONVERSATION, true));
        assertTrue(t.stopStrings().contains("<end_of_turn>"));
    }

    @Test
    void unknownBuiltinIsNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.builtin("vicuna"));
        assertTrue(e.getMessage().contains("vicuna") && e.getMessage().contains("chatml"), e.getMessage());
        assertEquals("llama-3", ChatTemplate.builtin("LLAMA3").name());
    }

    // ---- Jinja templates ----

    /** ChatML written as a Jinja template. */
    static final String CHATML_JINJA = "{% for message in messages %}"
            + "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
            + "{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /** Llama 3 written as a Jinja template: BOS before the first message, contents trimmed. */
    static final String LLAMA3_JINJA = "{% set loop_messages = messages %}"
            + "{% for message in loop_messages %}"
            + "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
            + " + message['content'] | trim + '<|eot_id|>' %}"
            + "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
            + "{{ content }}"
            + "{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}\n";

    /** Llama 2 as a multi-line Jinja template: block tags on their own lines (trim_blocks, lstrip_blocks), raise_exception. */
    static final String LLAMA2_JINJA = """
            {% if messages[0]['role'] == 'system' %}
                {% set loop_messages = messages[1:] %}
                {% set system_message = messages[0]['content'] %}
            {% else %}
                {% set loop_messages = messages %}
                {% set system_message = false %}
            {% endif %}
            {% for message in loop_messages %}
                {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
            {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
                {% endif %}
                {% if loop.index0 == 0 and system_message != false %}
                    {% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}
                {% else %}
                    {% set content = message['content'] %}
                {% endif %}
                {% if message['role'] == 'user' %}
            {{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}
            {{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}
            {% endfor %}
            """;

    @Test
    void jinjaTemplatesRenderLikeTheirFormats() {
        assertEquals(CHATML_EXPECTED, ChatTemplate.jinja(CHATML_JINJA, "", "<|im_end|>").render(CONVERSATION, true));
        assertEquals("<|begin_of_text|>" + ChatTemplate.builtin("llama-3").render(CONVERSATION, true),
                ChatTemplate.jinja(LLAMA3_JINJA, "<|begin_of_text|>", "<|eot_id|>").render(CONVERSATION, true));
        var llama2 = ChatTemplate.jinja(LLAMA2_JINJA, "<s>", "</s>");
        assertEquals("<s>" + ChatTemplate.builtin("llama-2").render(CONVERSATION, true), llama2.render(CONVERSATION, true));
        var e = assertThrows(ChatTemplateException.class,
                () -> llama2.render(List.of(ChatMessage.user("a"), ChatMessage.user("b")), true));
        assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
        assertEquals(List.of("</s>"), llama2.stopStrings());
    }

    @Test
    void pythonStringMethodsNamespaceAndLiteralContent() {
        var t = ChatTemplate.jinja("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
                + "{{ m.role.upper() }}:{{ m['content'].lstrip().rstrip() }}{% if m.content.startswith(' x') %}!{% endif %};"
                + "{% endfor %}{{ ns.n }}{{ '.' if messages[-1].role.lower().endswith('er') }}", "", "");
        assertEquals("USER:x y!;ASSISTANT:{{ 7*7 }} <b>&amp;;2", t.render(List.of(ChatMessage.user(" x y "),
                ChatMessage.assistant("{{ 7*7 }} <b>&amp;")), true));
        assertEquals("USER:z;1.", t.render(List.of(ChatMessage.user("z")), true));
        // text outside tags is never rewritten
        assertEquals("a.upper() b", ChatTemplate.jinja("a.upper() {{ 'b' }}", "", "").render(List.of(), false));
        var broken = ChatTemplate.jinja("{{ messages[0].content.nosuchmethod() }}", "", "");
        assertThrows(ChatTemplateException.class, () -> broken.render(List.of(ChatMessage.user("x")), false));
        assertEquals("05 Mar 2024", ChatTemplate.strftime(LocalDateTime.of(2024, 3, 5, 1, 2), "%d %b %Y"));
    }

    // ---- templates read from GGUF files ----

    /** A byte-level vocabulary of the 256 single bytes and the given control tokens, with an optional template. */
    static Path writeModel(Path dir, String name, String template, String... controls) throws IOException {
        List<String> tokens = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(String.valueOf(ByteLevelPreTokenizerTest.byteChar(b)));
            types.add(TokenType.NORMAL.code());
        }
        for (String c : controls) {
            tokens.add(c);
            types.add(TokenType.CONTROL.code());
        }
        var w = new GgufWriter()
                .putString("general.architecture", "llama")
                .putString("tokenizer.ggml.model", "gpt2")
                .putString("tokenizer.ggml.pre", "gpt-2")
                .putStringArray("tokenizer.ggml.tokens", tokens.toArray(String[]::new))
                .putInt32Array("tokenizer.ggml.token_type", types.stream().mapToInt(Integer::intValue).toArray())
                .putStringArray("tokenizer.ggml.merges", new String[] {"H e"})
                .putUInt32("tokenizer.ggml.bos_token_id", 256)
                .putUInt32("tokenizer.ggml.eos_token_id", 257);
        if (template != null) {
            w.putString("tokenizer.chat_template", template);
        }
        Path p = dir.resolve(name);
        w.write(p);
        return p;
    }

    @Test
    void chatmlTemplateFromGguf(@TempDir Path dir) throws IOException {
        Path p = writeModel(dir, "chatml.gguf", CHATML_JINJA, "<|endoftext|>", "<|im_end|>", "<|im_start|>");
        try (var file = GgufFile.open(p)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            var t = ChatTemplate.fromGguf(file, tok);
            assertEquals("jinja", t.name());
            assertEquals(CHATML_EXPECTED, t.render(CONVERSATION, true));
            int[] ids = t.encode(tok, List.of(ChatMessage.user("Hi")), true);
            assertEquals(258, ids[0], "<|im_start|> parsed as a special token");
            assertEquals("user\nHi\n" + "assistant\n", tok.decode(ids), "control tokens print nothing");
            assertArrayEquals(new int[] {257}, t.stopTokenIds(tok), "EOS, which is <|im_end|>");
            // an explicit built-in name overrides the file's template
            assertEquals("gemma", ChatTemplate.fromGguf(file, tok, "gemma").name());
        }
    }

    @Test
    void llama3TemplateFromGguf(@TempDir Path dir) throws IOException {
        Path p = writeModel(dir, "llama3.gguf", LLAMA3_JINJA,
                "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>");
        try (var file = GgufFile.open(p)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            var t = ChatTemplate.fromGguf(file, tok);
            String expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                    + "<|start_header_id|>assistant<|end_header_id|>\n\nHi there. How can I help?<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>"
                    + "<|start_header_id|>assistant<|end_header_id|>\n\n";
            assertEquals(expected, t.render(CONVERSATION, true));
            assertTrue(t.stopStrings().contains("<|eot_id|>"));
            assertTrue(Arrays.stream(t.stopTokenIds(tok)).anyMatch(id -> id == 257));
        }
    }

    @Test
    void builtinChosenFromTheVocabularyWhenTheFileHasNone(@TempDir Path dir) throws IOException {
        record Case(String expected, String[] controls) {}
        var cases = List.of(
                new Case("chatml", new String[] {"<|endoftext|>", "<|im_end|>", "<|im_start|>"}),
                new Case("llama-3", new String[] {"<|begin_of_text|>", "<|eot_id|>"}),
                new Case("gemma", new String[] {"<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"}),
                new Case("phi-3", new String[] {"<s>", "</s>", "<|user|>", "<|end|>"}),
                new Case("llama-2", new String[] {"<s>", "</s>"}));
        for (Case c : cases) {
            Path p = writeModel(dir, c.expected() + ".gguf", null, c.controls());
            try (var file = GgufFile.open(p)) {
                assertEquals(c.expected(), ChatTemplate.fromGguf(file, Tokenizer.fromGguf(file)).name());
            }
        }
    }

    @Test
    void sharedPhi3TemplateRenders() throws IOException {
        Path p = SharedData.require("arch/phi3.gguf");
        try (var file = GgufFile.open(p)) {
            Tokenizer tok = Tokenizer.fromGguf(file);
            var t = ChatTemplate.fromGguf(file, tok);
            String text = t.render(CONVERSATION, true);
            // this template drops system messages and writes BOS itself
            assertEquals("<s><|user|>\nHello!<|end|>\n<|assistant|>\nHi there. How can I help?<|end|>\n"
                    + "<|user|>\nTell me a joke.<|end|>\n<|assistant|>\n", text);
            int[] ids = t.encode(tok, CONVERSATION, true);
            assertEquals(1, ids[0]);
            assertTrue(ids[1] != 1, "BOS once");
            int end = ChatTemplate.singleToken(tok, "<|end|>");
            assertTrue(end >= 0);
            assertTrue(Arrays.stream(t.stopTokenIds(tok)).anyMatch(id -> id == end));
        }
    }
}
