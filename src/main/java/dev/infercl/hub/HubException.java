package dev.infercl.hub;

import java.io.IOException;

/** A model could not be resolved or fetched from the Hugging Face hub; the message says which and why. */
public class HubException extends IOException {
    public HubException(String message) {
        super(message);
    }

    public HubException(String message, Throwable cause) {
        super(message, cause);
    }
}
