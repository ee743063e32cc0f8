#ifndef SIFT_SIMD_H
#define SIFT_SIMD_H
/*
 * Internal helpers shared by the C kernels of SiftKernelsC (not part of the module's public headers):
 * target attributes and the AVX-512 exp / GELU used in fused output stores.
 */
#include <stdlib.h>

#include "sift_kernels.h"

/* 64-byte aligned allocation (one cache line / one zmm); never returns NULL for 0 bytes unless out of memory. */
static inline void *sift_alloc64(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
    return p;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define F32_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,fma")))
#define INLINE static inline __attribute__((always_inline))

/* Rows per block, in tiles of SIFT_TILE_ROWS rows: the block's X rows (or their bf16 / int8 copy, row_bytes each)
 * stay within ~192 KiB of the 1 MiB L2 while each 32-wide W panel streams over them once per block. */
static inline int sift_block_tiles(int row_bytes) {
    int t = (192 * 1024) / (SIFT_TILE_ROWS * row_bytes);
    return t < 1 ? 1 : t;
}

/* Store masks for a panel with `valid` real features (≥ 1): lanes 0–15 and 16–31 of its SIFT_PANEL_WIDTH. */
static inline void sift_panel_masks(int valid, __mmask16 *m0, __mmask16 *m1) {
    if (valid >= SIFT_PANEL_WIDTH) { *m0 = 0xffff; *m1 = 0xffff; return; }
    *m0 = valid >= 16 ? 0xffff : (__mmask16)((1u << valid) - 1);
    *m1 = valid <= 16 ? 0 : (__mmask16)((1u << (valid - 16)) - 1);
}

/* exp(x) for x ≤ 0: 2^n·p(r), n = round(x/ln 2), |r| ≤ ln2/2, degree-6 Taylor p (relative error ≈ 2e-8). */
INLINE F32_TARGET __m512 exp_nonpositive(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x); /* ln 2 split in two for an exact n·ln2 */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* GELU x·½·(1+erf(z)), z = x/√2. erfc(|z|) ≈ t·poly(t)·exp(−z²) with t = 1/(1+p|z|) (Abramowitz–Stegun 7.1.26,
 * as PyTorch's vectorised erf); 1+erf(z) is then 2−erfc(|z|) for z ≥ 0 and erfc(|z|) for z < 0, which avoids the
 * cancellation of 1+erf for negative z. */
INLINE F32_TARGET __m512 gelu(__m512 x) {
    const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    const __m512 az = _mm512_abs_ps(z);
    const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 q = _mm512_set1_ps(1.061405429f);
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-1.453152027f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(1.421413741f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-0.284496736f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(0.254829592f));
    q = _mm512_mul_ps(_mm512_mul_ps(q, t), exp_nonpositive(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z)));
    const __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 one_plus_erf = _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(2.0f), q), q);
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), one_plus_erf);
}
#endif

#endif
