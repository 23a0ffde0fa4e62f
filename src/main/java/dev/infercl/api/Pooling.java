package dev.infercl.api;

/** How {@link Model#embed} turns a text's hidden rows (one per token, after the final norm) into one vector. */
public enum Pooling {
    /** The average of every token's row (BOS included when the tokenizer adds it). */
    MEAN,
    /** The last token's row: what a decoder has read the whole text by, the row its next-token logits come from. */
    LAST
}
