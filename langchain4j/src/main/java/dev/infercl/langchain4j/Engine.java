package dev.infercl.langchain4j;

import dev.infercl.api.Model;
import dev.infercl.tokenizer.ChatTemplate;
import java.io.IOException;

/** The loaded model behind a LangChain4j model: owned (closed with it) or borrowed (left open). */
final class Engine implements AutoCloseable {
    final Model model;
    private final boolean owned;
    final String name;
    private ChatTemplate template;   // guarded by this
    private RuntimeException templateError;

    Engine(Model model, boolean owned, String name) {
        this.model = model;
        this.owned = owned;
        if (name == null) {
            name = model.path().getFileName().toString();
            if (name.endsWith(".gguf")) name = name.substring(0, name.length() - 5);
        }
        this.name = name;
    }

    /** The model's chat template (its {@code tokenizer.chat_template}, else a built-in chosen from the vocabulary). */
    synchronized ChatTemplate template(String builtin) {
        if (template == null && templateError == null) {
            try {
                template = model.chatTemplate(builtin);
            } catch (IOException | RuntimeException e) {
                templateError = new IllegalStateException("the model " + name + " has no usable chat template: " + e.getMessage(), e);
            }
        }
        if (templateError != null) throw templateError;
        return template;
    }

    private int contextLength;   // guarded by this

    /** Positions a conversation holds (what {@link Model#newSession()} gives, read once). */
    synchronized int contextLength() {
        if (contextLength == 0) {
            try (var s = model.newSession()) {
                contextLength = s.contextLength();
            }
        }
        return contextLength;
    }

    @Override
    public void close() {
        if (owned) model.close();
    }
}
