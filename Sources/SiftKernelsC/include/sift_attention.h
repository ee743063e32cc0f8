#ifndef SIFT_ATTENTION_H
#define SIFT_ATTENTION_H
/*
 * Fused scaled dot-product attention for one (sequence, head) item, used by SiftKernels (Kernels.attention).
 * Only SiftKernels includes this header.
 *
 * Shapes (row-major, element (i, c) of a matrix with row stride ld at m[i*ld + c]):
 *   q, k, v  [length × head_size], row stride ld   (one head's columns inside the packed QKV matrix)
 *   out      [queries × head_size], row stride ldo (the head's columns of the context matrix)
 *   out = softmax(scale · q·kᵀ) · v for the first `queries` rows of q (1 ≤ queries ≤ length; all keys), softmax
 *   over keys, max-subtracted. Each query row's arithmetic does not depend on `queries`, so out's rows are the same
 *   as those rows of a full (queries = length) call; a cross-encoder's last layer needs only the first ([CLS]).
 *
 * Kernels (ids from sift_kernels.h, availability from sift_kernel_supported):
 *   SIFT_KERNEL_AVX512       fp32 throughout.
 *   SIFT_KERNEL_AVX512_BF16  both products with vdpbf16ps: q, k, v and the softmax probabilities rounded to bf16,
 *                            fp32 accumulation; softmax itself in fp32 with a
 *                            cheaper exp (~8e-5 relative, below the bf16 rounding of P).
 *   SIFT_KERNEL_AVX2         fp32 throughout in AVX2 + FMA: blocks of 6 query rows, 6×16 ymm tiles (16 registers).
 *   SIFT_KERNEL_SCALAR       portable C, fp32 (reference for the vector kernels, and the non-x86 path); written so a
 *                            compiler vectorises it (SSE2 on x86-64, NEON on aarch64) without reordering any sum.
 * Every kernel computes an item with the same arithmetic whatever the thread or position in the batch, so results
 * are deterministic. The function is single-threaded and reentrant: give each thread its own scratch.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Floats of scratch one call needs for sequences up to max_length tokens (includes 64-byte alignment slack). */
size_t sift_attention_scratch_floats(int max_length, int head_size);

/* Returns 0, or -1 for invalid arguments (length < 1, queries outside [1, length], head_size < 1, strides <
 * head_size, scratch too small, unsupported kernel); out is untouched then. */
int sift_attention(const float *q, const float *k, const float *v, ptrdiff_t ld, float *out, ptrdiff_t ldo,
                   int length, int queries, int head_size, float scale, float *scratch, size_t scratch_floats,
                   int kernel);

/* SIFT_KERNEL_AVX512_BF16 on q, k, v given as bf16 bits (uint16, row stride ld in elements), as a bf16 QKV projection
 * stores them: read in place as (even, odd) pairs, so head_size and ld must be even and q, k, v 4-byte aligned. Same
 * output, scratch and arithmetic as the fp32-input bf16 kernel except where the scale goes: that one rounds
 * scale·k to bf16, this one scales the fp32 scores inside the softmax's exponent (no extra rounding). Returns 0, or
 * -1 for invalid arguments or a CPU without AVX-512 BF16. */
int sift_attention_bf16(const uint16_t *q, const uint16_t *k, const uint16_t *v, ptrdiff_t ld, float *out, ptrdiff_t ldo,
                        int length, int queries, int head_size, float scale, float *scratch, size_t scratch_floats);

#ifdef __cplusplus
}
#endif
#endif
