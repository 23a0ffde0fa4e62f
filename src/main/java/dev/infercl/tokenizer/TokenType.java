package dev.infercl.tokenizer;

/** The kind of a vocabulary entry, with the numeric codes GGUF stores in {@code tokenizer.ggml.token_type}. */
public enum TokenType {
    UNDEFINED(0),
    NORMAL(1),
    UNKNOWN(2),
    CONTROL(3),
    USER_DEFINED(4),
    UNUSED(5),
    BYTE(6);

    private final int code;

    TokenType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The type for a GGUF code; codes outside 0..6 become {@link #UNDEFINED}. */
    public static TokenType of(int code) {
        return switch (code) {
            case 1 -> NORMAL;
            case 2 -> UNKNOWN;
            case 3 -> CONTROL;
            case 4 -> USER_DEFINED;
            case 5 -> UNUSED;
            case 6 -> BYTE;
            default -> UNDEFINED;
        };
    }
}
