package dev.infercl.model;

/**
 * A LoRA adapter does not fit the model it is loaded for, or is not an adapter at all: the message names the file
 * and the offending tensor or metadata field.
 */
public class AdapterException extends ModelLoadException {
    public AdapterException(String message) {
        super(message);
    }
}
