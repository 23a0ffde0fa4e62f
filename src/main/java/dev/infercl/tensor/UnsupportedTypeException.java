package dev.infercl.tensor;

import dev.infercl.gguf.GgmlType;
import java.util.Collection;
import java.util.stream.Collectors;

/** A tensor's type is recognised (GGUF can carry it) but InferCL, or the backend in use, does not compute with it. */
public class UnsupportedTypeException extends RuntimeException {
    public UnsupportedTypeException(String tensorName, GgmlType type) {
        super("unsupported type " + type + " for tensor '" + tensorName + "': InferCL computes with " + GgmlType.computableNames()
                + " (requantize the file, e.g. with llama-quantize)");
    }

    /** A type the CPU backends compute but {@code backend} (e.g. "the OpenCL backend") does not: names what it does. */
    public UnsupportedTypeException(String tensorName, GgmlType type, String backend, Collection<GgmlType> supported) {
        super("unsupported type " + type + " for tensor '" + tensorName + "' on " + backend + ", which computes with "
                + supported.stream().map(GgmlType::name).collect(Collectors.joining(", ")) + " (the CPU backend computes " + type + ")");
    }
}
