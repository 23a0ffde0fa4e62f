package dev.infercl.model;

import java.io.IOException;

/** A model cannot be loaded: a tensor is missing or of the wrong shape, metadata is absent, the file is not a model. */
public class ModelLoadException extends IOException {
    public ModelLoadException(String message) {
        super(message);
    }
}
