package dev.infercl.backend;

/**
 * What {@code infercl bench} reads off a backend besides its speed: the device's bandwidth and arithmetic rate (the
 * rooflines of decode and prefill) and memory in use.
 */
public interface Measurable {
    /**
     * The device's streaming read bandwidth in bytes per second, measured with the backend's own probe (a large
     * buffer summed by all compute units, best of a few runs): the roofline of a decode step.
     */
    double probeReadBandwidth();

    /**
     * The device's sustained multiply-adds per second in the arithmetic this backend's products of many tokens use
     * for weights of {@code type} (float FMA, or int8 dot products where the backend quantizes the activations),
     * measured with the backend's own probe (independent chains of that instruction on every core, best of a few
     * runs): the compute roofline of a prefill.
     */
    double probeMultiplyAddRate(dev.infercl.gguf.GgmlType type);

    /** Bytes of one cached key or value element (4 for an F32 cache, 2 for F16, 1 for INT8 — whose per-block scales are not counted). */
    int kvBytesPerValue();

    /** Bytes the backend has allocated for tensors, scratch and KV caches (weights it merely maps are not counted). */
    long allocatedBytes();
}
