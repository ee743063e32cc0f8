#ifndef SIFT_KERNELS_H
#define SIFT_KERNELS_H
/* Native micro-kernels used by SiftKernels. Only SiftKernels includes this header. */
int sift_kernels_version(void);
#endif
