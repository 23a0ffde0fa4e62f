package dev.infercl.tokenizer;

/** A chat template that cannot be parsed or rendered, or that rejected the conversation (raise_exception). */
public class ChatTemplateException extends RuntimeException {
    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
