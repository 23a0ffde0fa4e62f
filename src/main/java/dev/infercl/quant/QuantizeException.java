package dev.infercl.quant;

/** A quantization that cannot be done as asked (bad options, a source it refuses, missing calibration); the message says why in one line. */
public class QuantizeException extends RuntimeException {
    public QuantizeException(String message) {
        super(message);
    }
}
