package dev.infercl.model;

/** A model file is well-formed but describes something InferCL cannot run yet (architecture, tokenizer, type). */
public class UnsupportedModelException extends ModelLoadException {
    public UnsupportedModelException(String message) {
        super(message);
    }
}
