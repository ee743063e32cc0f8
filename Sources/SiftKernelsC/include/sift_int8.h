#ifndef SIFT_INT8_H
#define SIFT_INT8_H
/*
 * int8 linear layers for SiftKernels (PackedGemm.swift, precision .int8). Only SiftKernels includes this header.
 *
 * Quantization (dynamic, like ONNX Runtime's "dynamic int8" but per row instead of per tensor):
 *   weights, once at pack time, symmetric per output feature n, 127 levels each side:  s_w[n] = max_k |W[n][k]| / 127,
 *       ŵ[n][k] = clamp(round(W[n][k] / s_w[n]), −127, 127)                                       (int8)
 *   activations, per row r of X at every call, asymmetric over [min(0, min_k x), max(0, max_k x)]:
 *       s_a[r] = (hi − lo) / 255,  z[r] = round(−lo / s_a[r]),  q[r][k] = clamp(round(x / s_a[r]) + z[r], 0, 255) (uint8)
 *   int32 accumulator per output: acc[r][n] = Σ_k q[r][k]·ŵ[n][k] − z[r]·Σ_k ŵ[n][k]  (exact; needs K ≤ 32768)
 *   output: y[r][n] = act(fma((float)acc[r][n], s_a[r]·s_w[n], bias[n]))
 * Smoothing (optional, SmoothQuant with α = ½, Xiao et al. 2023): given an expected magnitude m_k of each input
 * feature (e.g. |γ_k| + |β_k| of the LayerNorm that produces X), packing computes s_k = √(m_k / max_n |W[n][k]|),
 * quantizes W[n][k]·s_k instead of W[n][k], and every call quantizes x_k / s_k (stored as a multiply by 1/s_k)
 * instead of x_k. The product is unchanged; the outlier features' range moves from the per-row activation step
 * into the per-feature weight step, where it costs far less.
 * Rounding is to nearest even (the CPU's default mode) in the scalar and every vector kernel, so on the same packed
 * layer their int32 accumulators — and, without an activation, their outputs — are bit-identical. The vector
 * kernels use polynomial GELU (|error| ≤ 4e-5) where the scalar kernel uses erff.
 *
 * Packed weight layouts: panel p holds output features 32p … 32p+31 (zero past N), K padded with zero weights.
 *   quads (every packing; vpdpbusd on AVX-512 VNNI and AVX-VNNI, and the scalar kernel): ceil(K/4) groups of 32
 *     int32 lanes, lane j of group g holding the 4 int8 ŵ[32p+j][4g … 4g+3];
 *   pairs (only when packed for SIFT_KERNEL_AVX2_INT8): ceil(K/2) groups of 32 int32 lanes, lane j of group m
 *     holding ŵ[32p+j][2m] (low int16) and ŵ[32p+j][2m+1] (high int16).
 * Without VNNI, AVX2's u8×s8 multiply (vpmaddubsw) sums product pairs into a saturating int16, and 2·255·127 does
 * not fit; fewer levels to avoid that cost too much accuracy (MiniLM embedding cosine 0.990 instead of ≥ 0.998).
 * So the AVX2 kernel widens both sides to int16 (activations stored as uint16 per k) and uses vpmaddwd, which sums
 * each int16 product pair into int32 exactly: the same 16 multiply-adds per multiply-pipe uop as vpmaddubsw +
 * vpmaddwd, but one accumulating vpaddd per 16 instead of per 32 (~1.2× the cycles on Zen 3, see sift_int8.c) and
 * twice the bytes of W and of the quantized rows.
 *
 * Like sift_linear, sift_linear_int8 is single-threaded and reentrant; callers split rows or panels over threads.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest K the int32 accumulators hold without overflow (2·255·127·K < 2³¹). */
enum { SIFT_INT8_MAX_K = 32768 };

typedef struct sift_int8_linear sift_int8_linear;

/* Quantizes and packs W; element (n, k) is w[n*stride_n + k*stride_k]. bias may be NULL (zero); activation is a
 * SIFT_ACTIVATION_* (sift_kernels.h); input_magnitude [k] turns smoothing on (NULL: off). kernel is the int8 kernel
 * the layer is packed for (SIFT_KERNEL_SCALAR, SIFT_KERNEL_AVX512_VNNI, SIFT_KERNEL_AVX_VNNI or
 * SIFT_KERNEL_AVX2_INT8; the CPU need not support it): the quantization is the same for all, SIFT_KERNEL_AVX2_INT8
 * only adds the int16 pair layout. Returns NULL on allocation failure or invalid arguments (k > SIFT_INT8_MAX_K,
 * another kernel id). */
sift_int8_linear *sift_pack_linear_int8(const float *w, ptrdiff_t stride_n, ptrdiff_t stride_k, const float *bias,
                                        int n, int k, int activation, const float *input_magnitude, int kernel);
void sift_int8_linear_free(sift_int8_linear *packed);
int sift_int8_linear_panels(const sift_int8_linear *packed);

/* Y[rows×N] (row stride ldy) = act(X[rows×K]·Wᵀ + bias) through the quantization above, for the output features
 * of panels [panel_begin, panel_end). kernel (if supported): SIFT_KERNEL_SCALAR, SIFT_KERNEL_AVX512_VNNI or
 * SIFT_KERNEL_AVX_VNNI on any packing; SIFT_KERNEL_AVX2_INT8 only on a layer packed for it (it reads the pairs).
 * Returns 0, or -1 for invalid arguments, such a kernel / packing mismatch, or allocation failure (Y untouched). */
int sift_linear_int8(const sift_int8_linear *packed, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy,
                     int rows, int panel_begin, int panel_end, int kernel);

/* Test hook: the int32 accumulators acc[r][n] (before scaling, bias and activation) into acc (row stride ldacc),
 * same arguments and return as sift_linear_int8. */
int sift_linear_int8_accumulators(const sift_int8_linear *packed, const float *x, ptrdiff_t ldx, int32_t *acc,
                                  ptrdiff_t ldacc, int rows, int panel_begin, int panel_end, int kernel);

#ifdef __cplusplus
}
#endif
#endif
