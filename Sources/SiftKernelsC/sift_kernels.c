#include "sift_kernels.h"
int sift_kernels_version(void) { return 1; }
