// a header for KernelLibraryTest that includes itself
#include "include_cycle_test.h"
