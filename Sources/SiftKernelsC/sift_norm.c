#include "sift_kernels.h"
#include "sift_simd.h"

#include <math.h>

/*
 * LayerNorm rows in AVX-512 (Swift's own SIMD code compiles to the x86-64 baseline, SSE2: four lanes). The same
 * two-pass arithmetic as Kernels.layerNorm's Swift path — mean, then the mean of squared deviations — with 16-lane
 * accumulators, and the output as fma((x − mean)·inv, γ, β).
 */

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
#endif

int sift_layer_norm(float *x, const float *residual, ptrdiff_t ld, int rows, int width, const float *gamma,
                    const float *beta, float eps) {
    if (!x || !gamma || !beta || rows < 0 || width < 1 || ld < width || !sift_kernel_supported(SIFT_KERNEL_AVX512))
        return -1;
#if defined(__x86_64__)
    for (int r = 0; r < rows; r++)
        layer_norm_row(x + (ptrdiff_t)r * ld, residual ? residual + (ptrdiff_t)r * ld : NULL, width, gamma, beta, eps);
    return 0;
#else
    return -1;
#endif
}
