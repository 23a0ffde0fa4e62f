// a kernel file for KernelLibraryTest: it includes a header that does not exist
#include "no_such_header.h"
__kernel void kernel_include_missing_test(__global float* x) { x[0] = 0.0f; }
