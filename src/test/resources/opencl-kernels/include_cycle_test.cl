// a kernel file for KernelLibraryTest whose header includes itself
#include "include_cycle_test.h"
