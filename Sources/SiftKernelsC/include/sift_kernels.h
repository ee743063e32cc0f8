#ifndef SIFT_KERNELS_H
#define SIFT_KERNELS_H
/*
 * Native GEMM micro-kernels used by SiftKernels (PackedGemm.swift). Only SiftKernels includes this header.
 *
 * A "packed linear" layer holds W[N×K] (HF Linear layout: out × in) and a bias, packed once into the panel
 * layout the micro-kernels stream:
 *   fp32: panel p (32 output features) is K rows of 32 floats:           w[p][k][j]          = W[32p+j][k]
 *   bf16: panel p is ceil(K/2) rows of 32 (even, odd) bf16 pairs:         w[p][k/2][j][k%2]   = bf16(W[32p+j][k])
 * Features past N and the odd-K pad are zero, so every panel is computed full width and stored with a mask.
 *
 * sift_linear computes Y[rows×N] = act(X[rows×K]·Wᵀ + bias) for the output panels [panel_begin, panel_end).
 * It is single-threaded and reentrant (the packed layer is read-only); callers split rows or panels over threads.
 */
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SIFT_PRECISION_F32 = 0,
    SIFT_PRECISION_BF16 = 1,
};

enum {
    SIFT_KERNEL_SCALAR = 0,       /* portable C, any precision */
    SIFT_KERNEL_AVX512 = 1,       /* fp32 FMA, 14×32 register tile; needs AVX-512 F/BW/DQ/VL */
    SIFT_KERNEL_AVX512_BF16 = 2,  /* vdpbf16ps, 14×32 tile, fp32 accumulate; needs AVX-512 BF16 */
    SIFT_KERNEL_AVX512_VNNI = 3,  /* vpdpbusd u8×s8, int32 accumulate (int8 layers, sift_int8.h); needs AVX-512 VNNI */
    SIFT_KERNEL_AVX2 = 4,         /* fp32 FMA, 6×16 ymm register tile; needs AVX2 + FMA */
    SIFT_KERNEL_AVX2_INT8 = 5,    /* vpmaddwd on u8, s8 widened to int16 (int8 layers, exact; sift_int8.h); needs AVX2 */
    SIFT_KERNEL_AVX_VNNI = 6,     /* vpdpbusd on ymm (int8 layers, VEX-encoded AVX-VNNI); needs AVX2 + AVX-VNNI */
};

/* Kernel tiers, from fastest down; sift_kernel_supported honours a cap set by sift_set_kernel_tier (or by the
 * environment variable SIFT_KERNELS=avx512|avx2|portable|openblas, read once at the first query). */
enum {
    SIFT_TIER_AVX512 = 0,   /* everything the CPU has */
    SIFT_TIER_AVX2 = 1,     /* no AVX-512 kernel, even where the CPU has one */
    SIFT_TIER_PORTABLE = 2, /* no x86 vector kernel: plain C (SIFT_KERNEL_SCALAR) only */
};

enum {
    SIFT_ACTIVATION_NONE = 0,
    SIFT_ACTIVATION_GELU = 1, /* GELU x·½·(1+erf(x/√2)): fp32 erf per Abramowitz–Stegun 7.1.26 (|err| ≤ 1.5e-7);
                                 AVX-512 bf16 (and int8) kernels a polynomial, |GELU err| ≤ 4e-5 */
};

/* Output features per packed panel, and rows per micro-tile of the AVX-512 kernels. */
enum { SIFT_PANEL_WIDTH = 32, SIFT_TILE_ROWS = 14 };

typedef struct sift_packed_linear sift_packed_linear;

/* 1 if this CPU (and OS) can run the kernel and the tier cap allows it, else 0. */
int sift_kernel_supported(int kernel);

/* 1 if the CPU itself can run the kernel, whatever the tier cap. */
int sift_kernel_supported_by_cpu(int kernel);

/* Caps the kernels sift_kernel_supported reports at `tier` (a SIFT_TIER_*; the CPU still limits what runs).
 * Returns 0, or -1 for an unknown tier. Meant to be called once, before any kernel runs (the environment variable
 * SIFT_KERNELS does the same at the first query): callers choose kernels from it and must not see it change. */
int sift_set_kernel_tier(int tier);

/* Packs W; element (n, k) is w[n*stride_n + k*stride_k] (stride_n = K, stride_k = 1 for row-major [N×K]).
 * bias may be NULL (zero). activation is applied to every output (fused into the tile store).
 * Returns NULL on allocation failure or invalid arguments. */
sift_packed_linear *sift_pack_linear(const float *w, ptrdiff_t stride_n, ptrdiff_t stride_k, const float *bias,
                                     int n, int k, int precision, int activation);
void sift_packed_linear_free(sift_packed_linear *packed);
int sift_packed_linear_panels(const sift_packed_linear *packed);
int sift_packed_linear_precision(const sift_packed_linear *packed);

/* Y[rows×N] (row stride ldy) = X[rows×K] (row stride ldx) · Wᵀ + bias, for output features of panels
 * [panel_begin, panel_end). kernel must be supported and match the packing (SIFT_KERNEL_AVX512 and _AVX2 need fp32,
 * SIFT_KERNEL_AVX512_BF16 needs bf16; scalar takes either).
 * Returns 0, or -1 for invalid arguments / allocation failure (Y untouched then). */
int sift_linear(const sift_packed_linear *packed, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy,
                int rows, int panel_begin, int panel_end, int kernel);

/* sift_linear for a bf16-packed layer on SIFT_KERNEL_AVX512_BF16 with bf16 activations on either side: x_bf16 ≠ 0
 * reads X as bf16 rows (uint16 bits, row stride ldx elements; K and ldx even, x 4-byte aligned) instead of rounding
 * fp32 rows; y_bf16 ≠ 0 stores Y rounded to bf16 (nearest even) as uint16 bits instead of fp32. That rounding is the
 * one the next bf16 layer applies to an fp32 input, so a bf16-output layer feeding a bf16-input layer computes
 * exactly what the fp32 hand-off does, without the fp32 round trip. Returns 0, or -1 (invalid arguments, a layer
 * not packed as bf16, no AVX-512 BF16). */
int sift_linear_bf16_io(const sift_packed_linear *packed, const void *x, ptrdiff_t ldx, int x_bf16, void *y,
                        ptrdiff_t ldy, int y_bf16, int rows, int panel_begin, int panel_end);

/* In-place LayerNorm of rows [rows × width] (row stride ld): x = (x − mean)/√(var + eps)·γ + β with the biased
 * variance, after x += residual when residual (same stride) is not NULL. kernel: SIFT_KERNEL_AVX512, SIFT_KERNEL_AVX2
 * or SIFT_KERNEL_SCALAR. Returns 0, or -1 for invalid arguments or an unsupported kernel (x untouched then). */
int sift_layer_norm(float *x, const float *residual, ptrdiff_t ld, int rows, int width, const float *gamma,
                    const float *beta, float eps, int kernel);

/* The element-wise functions the vector kernels fuse (internal sift_simd.h), for their accuracy tests. */
enum {
    SIFT_VECTOR_EXP = 0,       /* e^x for x ≤ 0, ~2e-8 relative: fp32 attention softmax */
    SIFT_VECTOR_EXP_FAST = 1,  /* e^x for x ≤ 0, ~8e-5 relative: bf16 attention softmax (P is rounded to bf16) */
    SIFT_VECTOR_GELU = 2,      /* exact-form GELU, erf per A–S 7.1.26: fp32 GEMM store */
    SIFT_VECTOR_GELU_FAST = 3, /* polynomial GELU, |err| ≤ 4e-5: bf16 and int8 GEMM stores */
};

/* Test hook: y[i] = function(x[i]) for i < n with the code of `kernel` (SIFT_KERNEL_AVX512 or SIFT_KERNEL_AVX2).
 * Returns 0, or -1 if that kernel is unavailable or function is unknown (y untouched then). */
int sift_vector_function(int function, const float *x, float *y, size_t n, int kernel);

#ifdef __cplusplus
}
#endif
#endif
