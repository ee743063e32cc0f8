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
/* The AVX2 tier (Zen 3, Intel client cores since Haswell): 16 ymm registers, no masks, no bf16. */
#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define AVXVNNI_TARGET __attribute__((target("avx2,fma,avxvnni")))
#define INLINE static inline __attribute__((always_inline))
/* Fully unrolled epilogue loops keep a tile's accumulator arrays in registers: a rolled loop (GELU's body is too
 * large for the default unroller) indexes them, so the compiler kept them on the stack around the whole k loop. */
#define UNROLL_FULL _Pragma("clang loop unroll(full)")

/* Dispatch a block of `mr` rows to an instance where the row count is a compile-time constant, so the block's
 * accumulators live in zmm registers: `call(n)` is the call for n rows. ROW_CASES_8_TO_1 holds the case labels
 * for 8 … 1 (attention's query blocks), ROW_CASES_6_TO_1 those for 6 … 1 (the AVX2 tiles); TILE_ROW_CASES is the whole switch for GEMM tiles of 1 … SIFT_TILE_ROWS. */
#define ROW_CASES_6_TO_1(call)                                                                                    \
    case 6: call(6); break;                                                                                       \
    case 5: call(5); break;                                                                                       \
    case 4: call(4); break;                                                                                       \
    case 3: call(3); break;                                                                                       \
    case 2: call(2); break;                                                                                       \
    default: call(1); break;
#define ROW_CASES_8_TO_1(call)                                                                                    \
    case 8: call(8); break;                                                                                       \
    case 7: call(7); break;                                                                                       \
    ROW_CASES_6_TO_1(call)
#define TILE_ROW_CASES(call)                                                                                      \
    switch (mr) {                                                                                                 \
    case 14: call(14); break;                                                                                     \
    case 13: call(13); break;                                                                                     \
    case 12: call(12); break;                                                                                     \
    case 11: call(11); break;                                                                                     \
    case 10: call(10); break;                                                                                     \
    case 9: call(9); break;                                                                                       \
    ROW_CASES_8_TO_1(call)                                                                                        \
    }
_Static_assert(SIFT_TILE_ROWS == 14, "TILE_ROW_CASES lists the row counts 14 … 1");

/* Rows per tile when GELU runs in the bf16/fp32 tile's store: 2×12 accumulators leave the unrolled GELU registers
 * for its temporaries and constants (fewer spills; +0.7 % on the bf16 GELU layer, none for int8, which keeps 14). */
#define GELU_TILE_ROWS 12

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

/* 2^t to ~8e-5 relative error, for the bf16 attention kernel's probabilities (and exp_nonpositive_fast): they are
 * rounded to bf16 (8-bit mantissa, relative step 2^-8) before P·V, so exp_nonpositive's 2e-8 buys nothing there.
 * t = n + f, n = round(t), |f| ≤ ½; 2^f by a degree-3 minimax polynomial (relative error 7.5e-5), 2^n by vscalefps,
 * which also flushes to 0 for very negative t (no clamp needed). 6 vector ops. The softmax normalises by the sum of
 * the same values, so the polynomial's common factor (p(0) = 0.99993) cancels. */
INLINE F32_TARGET __m512 exp2_fast(__m512 t) {
    const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(0.05517167f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.24261114f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.69326097f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.99992806f));
    return _mm512_scalef_ps(p, n);
}

/* exp(x) for x ≤ 0 through exp2_fast (the rounding of x·log2 e adds ≤ 8e-6 at x = −87); NaN and −inf map to
 * e^−87. */
INLINE F32_TARGET __m512 exp_nonpositive_fast(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    return exp2_fast(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)));
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

/* GELU to |error| ≤ 4e-5 (over all x; measured by FastMathTests), for the bf16 and int8 GEMM stores only: their
 * outputs are rounded to bf16 (relative step 2^-8) or quantized to 8 bits by the next layer, so gelu's 1e-7 buys
 * nothing there, and gelu's division and exp made the fused store a quarter of the int8 intermediate layer.
 * GELU(x) = x·Φ(x) with Φ(x) = ½ + x·Q(x²): x·Q(x²) = ½·erf(x/√2) is odd, so Q is a polynomial in u = x² (degree 8,
 * minimax for the weighted error x²·ΔQ = |GELU error| on |x| ≤ 4.3, coefficients rounded to float one at a time
 * from the highest and the rest refitted). Past |x| = 4.3 GELU is max(x, 0) to within ½·4.3·erfc(4.3/√2) = 3.7e-5.
 * 13 vector ops, no division, no exp (gelu: ~30 and one of each). */
INLINE F32_TARGET __m512 gelu_fast(__m512 x) {
    const __m512 u = _mm512_mul_ps(x, x);
    __m512 q = _mm512_set1_ps(4.173823787e-11f);
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-4.229902206e-09f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(1.895899970e-07f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-4.995038125e-06f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(8.700695616e-05f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-1.070767990e-03f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(9.693356231e-03f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(-6.615336984e-02f));
    q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(3.988012969e-01f));
    const __m512 g = _mm512_mul_ps(x, _mm512_fmadd_ps(x, q, _mm512_set1_ps(0.5f)));
    const __mmask16 outside = _mm512_cmp_ps_mask(u, _mm512_set1_ps(4.3f * 4.3f), _CMP_GT_OQ);
    return _mm512_mask_max_ps(g, outside, x, _mm512_setzero_ps());
}
/* ---------------------------------------------------------------- AVX2 + FMA versions (8 lanes, no masks) */

/* Lanes [0, valid) all ones, the rest zero: the mask operand of vmaskmovps / vpmaskmovd (valid may be ≤ 0 or ≥ 8). */
INLINE AVX2_TARGET __m256i avx2_lanes(int valid) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* 2^n for integer-valued n in [−126, 127], from the exponent bits (AVX2 has no vscalefps). */
INLINE AVX2_TARGET __m256 avx2_pow2i(__m256 n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}

/* exp_nonpositive in 8 lanes: the same range reduction and degree-6 polynomial (relative error ≈ 2e-8); the clamp
 * at −87 keeps n ≥ −126, where 2^n is still a normal float. NaN maps to e^−87. */
INLINE AVX2_TARGET __m256 exp_nonpositive_avx2(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    return _mm256_mul_ps(p, avx2_pow2i(n));
}

/* gelu in 8 lanes (Abramowitz–Stegun 7.1.26 erf, |error| ≤ 1.5e-7 on erf). */
INLINE AVX2_TARGET __m256 gelu_avx2(__m256 x) {
    const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    const __m256 az = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(az, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
    __m256 q = _mm256_set1_ps(1.061405429f);
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.453152027f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.421413741f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-0.284496736f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.254829592f));
    q = _mm256_mul_ps(_mm256_mul_ps(q, t), exp_nonpositive_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), z), z)));
    const __m256 negative = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 one_plus_erf = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), q), q, negative);
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), one_plus_erf);
}

/* gelu_fast in 8 lanes (same polynomial, |error| ≤ 4e-5): the int8 GEMM stores. */
INLINE AVX2_TARGET __m256 gelu_fast_avx2(__m256 x) {
    const __m256 u = _mm256_mul_ps(x, x);
    __m256 q = _mm256_set1_ps(4.173823787e-11f);
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-4.229902206e-09f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(1.895899970e-07f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-4.995038125e-06f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(8.700695616e-05f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-1.070767990e-03f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(9.693356231e-03f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(-6.615336984e-02f));
    q = _mm256_fmadd_ps(q, u, _mm256_set1_ps(3.988012969e-01f));
    const __m256 g = _mm256_mul_ps(x, _mm256_fmadd_ps(x, q, _mm256_set1_ps(0.5f)));
    const __m256 outside = _mm256_cmp_ps(u, _mm256_set1_ps(4.3f * 4.3f), _CMP_GT_OQ);
    return _mm256_blendv_ps(g, _mm256_max_ps(x, _mm256_setzero_ps()), outside);
}

/* Horizontal sum / max of 8 lanes. */
INLINE AVX2_TARGET float avx2_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
INLINE AVX2_TARGET float avx2_hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
INLINE AVX2_TARGET float avx2_hmin(__m256 v) {
    __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_min_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_min_ss(s, _mm_movehdup_ps(s)));
}
#endif

#endif
