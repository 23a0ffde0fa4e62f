// a kernel file for KernelLibraryTest that compiles with a warning (an assignment used as a condition)
__kernel void kernel_warning_test(__global int* x) {
    if (x[0] = 2) x[1] = 1;
}
