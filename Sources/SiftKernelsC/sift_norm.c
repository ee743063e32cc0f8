#include "sift_kernels.h"
#include "sift_simd.h"

#include <math.h>

/*
 * LayerNorm rows in AVX-512 or AVX2 (Swift's own SIMD code compiles to the x86-64 baseline, SSE2: four lanes), and
 * in plain C for any CPU. The same two-pass arithmetic as Kernels.layerNorm's Swift path — mean, then the mean of
 * squared deviations — with 16- or 8-lane accumulators, and the output as fma((x − mean)·inv, γ, β).
 */

/* Plain C: eight partial sums per pass (a vectorising compiler keeps them in one register, as the vector rows do). */
static void layer_norm_row_portable(float *x, const float *residual, int width, const float *gamma, const float *beta,
                                    float eps) {
    if (residual)
        for (int c = 0; c < width; c++) x[c] += residual[c];
    float s[8] = {0};
    for (int c = 0; c < width; c++) s[c % 8] += x[c];
    const float mean = (((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))) / (float)width;
    float q[8] = {0};
    for (int c = 0; c < width; c++) { const float d = x[c] - mean; q[c % 8] += d * d; }
    const float variance = (((q[0] + q[4]) + (q[1] + q[5])) + ((q[2] + q[6]) + (q[3] + q[7]))) / (float)width;
    const float inv = 1.0f / sqrtf(variance + eps);
    for (int c = 0; c < width; c++) x[c] = fmaf((x[c] - mean) * inv, gamma[c], beta[c]);
}

#if defined(__x86_64__)
static __mmask16 tail_mask(int valid) { return valid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << valid) - 1); }

F32_TARGET static void layer_norm_row(float *x, const float *residual, int width, const float *gamma, const float *beta,
                                      float eps) {
    /* Two accumulators per pass: the add latency, not the loads, would bound a single chain. */
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    for (int c = 0; c < width; c += 16) {
        const __mmask16 m = tail_mask(width - c);
        __m512 v = _mm512_maskz_loadu_ps(m, x + c);
        if (residual) {
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, residual + c));
            _mm512_mask_storeu_ps(x + c, m, v);
        }
        if ((c / 16) & 1) s1 = _mm512_add_ps(s1, v); else s0 = _mm512_add_ps(s0, v);
    }
    const __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / (float)width);
    __m512 q0 = _mm512_setzero_ps(), q1 = _mm512_setzero_ps();
    for (int c = 0; c < width; c += 16) {
        const __mmask16 m = tail_mask(width - c);
        const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + c), mean); /* pad lanes stay 0 */
        if ((c / 16) & 1) q1 = _mm512_fmadd_ps(d, d, q1); else q0 = _mm512_fmadd_ps(d, d, q0);
    }
    const float variance = _mm512_reduce_add_ps(_mm512_add_ps(q0, q1)) / (float)width;
    const __m512 inv = _mm512_set1_ps(1.0f / sqrtf(variance + eps));
    for (int c = 0; c < width; c += 16) {
        const __mmask16 m = tail_mask(width - c);
        const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + c), mean);
        const __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(d, inv), _mm512_maskz_loadu_ps(m, gamma + c),
                                         _mm512_maskz_loadu_ps(m, beta + c));
        _mm512_mask_storeu_ps(x + c, m, y);
    }
}

AVX2_TARGET static void layer_norm_row_avx2(float *x, const float *residual, int width, const float *gamma,
                                            const float *beta, float eps) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (int c = 0; c < width; c += 8) {
        const __m256i m = avx2_lanes(width - c);
        __m256 v = _mm256_maskload_ps(x + c, m);
        if (residual) {
            v = _mm256_add_ps(v, _mm256_maskload_ps(residual + c, m));
            _mm256_maskstore_ps(x + c, m, v);
        }
        if ((c / 8) & 1) s1 = _mm256_add_ps(s1, v); else s0 = _mm256_add_ps(s0, v);
    }
    const float mean_value = avx2_hsum(_mm256_add_ps(s0, s1)) / (float)width;
    const __m256 mean = _mm256_set1_ps(mean_value);
    __m256 q0 = _mm256_setzero_ps(), q1 = _mm256_setzero_ps();
    for (int c = 0; c < width; c += 8) {
        const __m256i m = avx2_lanes(width - c);
        const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c, m), mean), _mm256_castsi256_ps(m));
        if ((c / 8) & 1) q1 = _mm256_fmadd_ps(d, d, q1); else q0 = _mm256_fmadd_ps(d, d, q0);
    }
    const float variance = avx2_hsum(_mm256_add_ps(q0, q1)) / (float)width;
    const __m256 inv = _mm256_set1_ps(1.0f / sqrtf(variance + eps));
    for (int c = 0; c < width; c += 8) {
        const __m256i m = avx2_lanes(width - c);
        const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(x + c, m), mean);
        const __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(d, inv), _mm256_maskload_ps(gamma + c, m), _mm256_maskload_ps(beta + c, m));
        _mm256_maskstore_ps(x + c, m, y);
    }
}
#endif

int sift_layer_norm(float *x, const float *residual, ptrdiff_t ld, int rows, int width, const float *gamma,
                    const float *beta, float eps, int kernel) {
    if (!x || !gamma || !beta || rows < 0 || width < 1 || ld < width || !sift_kernel_supported(kernel)) return -1;
    for (int r = 0; r < rows; r++) {
        float *row = x + (ptrdiff_t)r * ld;
        const float *res = residual ? residual + (ptrdiff_t)r * ld : NULL;
        switch (kernel) {
        case SIFT_KERNEL_SCALAR: layer_norm_row_portable(row, res, width, gamma, beta, eps); break;
#if defined(__x86_64__)
        case SIFT_KERNEL_AVX512: layer_norm_row(row, res, width, gamma, beta, eps); break;
        case SIFT_KERNEL_AVX2: layer_norm_row_avx2(row, res, width, gamma, beta, eps); break;
#endif
        default: return -1; /* only before the first row: every row takes the same case */
        }
    }
    return 0;
}
