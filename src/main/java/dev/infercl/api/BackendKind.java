package dev.infercl.api;

/** Which backend computes: {@code AUTO} prefers an OpenCL GPU, then any OpenCL device, then the CPU. */
public enum BackendKind {
    AUTO, OPENCL, CPU, REFERENCE
}
