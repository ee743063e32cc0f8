#include "sift_kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NR SIFT_PANEL_WIDTH /* output features per panel (two zmm vectors) */
#define MR SIFT_TILE_ROWS   /* rows per micro-tile: 2×14 accumulators + 2 B vectors of the 32 zmm registers */
#define AS 16               /* packed-A stride: one 64-byte line per k step (rows 14, 15 unused) */

struct sift_packed_linear {
    int n, k, kpairs, panels, precision;
    float *bias; /* [panels*NR], zero past n */
    void *w;     /* fp32: float[panels][k][NR]; bf16: uint32[panels][kpairs][NR] holding (even, odd) pairs */
};

static void *alloc64(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
    return p;
}

/* fp32 → bf16, round to nearest even (what vcvtne2ps2bf16 does); NaN stays NaN. */
static uint16_t bf16_from_float(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float float_from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---------------------------------------------------------------- CPU features */

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static int cpu_features = -1; /* bit 0: AVX-512 F/BW/DQ/VL usable, bit 1: AVX-512 BF16 too */

static int detect_features(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0; /* OSXSAVE: the OS manages extended state, xgetbv is legal */
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 0xe6u) != 0xe6u) return 0; /* SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM state enabled */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31); /* F, DQ, BW, VL */
    if ((b & need) != need) return 0;
    int features = 1;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5))) features |= 2; /* AVX512_BF16 */
    return features;
}

static int features(void) {
    int f = __atomic_load_n(&cpu_features, __ATOMIC_RELAXED);
    if (f < 0) {
        f = detect_features();
        __atomic_store_n(&cpu_features, f, __ATOMIC_RELAXED);
    }
    return f;
}
#else
static int features(void) { return 0; }
#endif

int sift_kernel_supported(int kernel) {
    switch (kernel) {
    case SIFT_KERNEL_SCALAR: return 1;
    case SIFT_KERNEL_AVX512: return (features() & 1) != 0;
    case SIFT_KERNEL_AVX512_BF16: return (features() & 2) != 0;
    default: return 0;
    }
}

/* ---------------------------------------------------------------- packing */

sift_packed_linear *sift_pack_linear(const float *w, ptrdiff_t stride_n, ptrdiff_t stride_k, const float *bias,
                                     int n, int k, int precision) {
    if (!w || n <= 0 || k <= 0 || (precision != SIFT_PRECISION_F32 && precision != SIFT_PRECISION_BF16)) return NULL;
    sift_packed_linear *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n;
    p->k = k;
    p->kpairs = (k + 1) / 2;
    p->panels = (n + NR - 1) / NR;
    p->precision = precision;
    p->bias = alloc64(sizeof(float) * (size_t)p->panels * NR);
    size_t steps = precision == SIFT_PRECISION_F32 ? (size_t)k : (size_t)p->kpairs;
    p->w = alloc64(4 * (size_t)p->panels * steps * NR); /* 4 bytes: one float or one bf16 pair */
    if (!p->bias || !p->w) {
        sift_packed_linear_free(p);
        return NULL;
    }
    for (int j = 0; j < p->panels * NR; j++) p->bias[j] = (bias && j < n) ? bias[j] : 0.0f;
    for (int panel = 0; panel < p->panels; panel++) {
        for (int j = 0; j < NR; j++) {
            int row = panel * NR + j;
            const float *src = w + (ptrdiff_t)row * stride_n;
            if (precision == SIFT_PRECISION_F32) {
                float *dst = (float *)p->w + (size_t)panel * k * NR + j;
                for (int kk = 0; kk < k; kk++) dst[(size_t)kk * NR] = row < n ? src[kk * stride_k] : 0.0f;
            } else {
                uint32_t *dst = (uint32_t *)p->w + (size_t)panel * p->kpairs * NR + j;
                for (int pp = 0; pp < p->kpairs; pp++) {
                    uint32_t lo = 0, hi = 0;
                    if (row < n) {
                        lo = bf16_from_float(src[2 * pp * stride_k]);
                        if (2 * pp + 1 < k) hi = bf16_from_float(src[(2 * pp + 1) * stride_k]);
                    }
                    dst[(size_t)pp * NR] = lo | (hi << 16);
                }
            }
        }
    }
    return p;
}

void sift_packed_linear_free(sift_packed_linear *packed) {
    if (!packed) return;
    free(packed->bias);
    free(packed->w);
    free(packed);
}

int sift_packed_linear_panels(const sift_packed_linear *packed) { return packed->panels; }
int sift_packed_linear_precision(const sift_packed_linear *packed) { return packed->precision; }

/* ---------------------------------------------------------------- scalar reference kernel */

static void linear_scalar(const sift_packed_linear *p, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy,
                          int rows, int pb, int pe) {
    const int k = p->k;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (ptrdiff_t)r * ldx;
        for (int panel = pb; panel < pe; panel++) {
            for (int j = 0; j < NR; j++) {
                int col = panel * NR + j;
                if (col >= p->n) break;
                float sum = p->bias[col];
                if (p->precision == SIFT_PRECISION_F32) {
                    const float *wp = (const float *)p->w + (size_t)panel * k * NR + j;
                    for (int kk = 0; kk < k; kk++) sum += xr[kk] * wp[(size_t)kk * NR];
                } else {
                    const uint32_t *wp = (const uint32_t *)p->w + (size_t)panel * p->kpairs * NR + j;
                    for (int kk = 0; kk < k; kk++) {
                        uint32_t pair = wp[(size_t)(kk / 2) * NR];
                        float wv = float_from_bf16((uint16_t)(kk % 2 ? pair >> 16 : pair & 0xffffu));
                        sum += float_from_bf16(bf16_from_float(xr[kk])) * wv;
                    }
                }
                y[(ptrdiff_t)r * ldy + col] = sum;
            }
        }
    }
}

/* ---------------------------------------------------------------- AVX-512 kernels */

#if defined(__x86_64__)
#define F32_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))
#define INLINE static inline __attribute__((always_inline))

/* Masks for the valid features of a panel: lanes 0–15 and 16–31. */
static void panel_masks(const sift_packed_linear *p, int panel, __mmask16 *m0, __mmask16 *m1) {
    int valid = p->n - panel * NR;
    if (valid >= NR) { *m0 = 0xffff; *m1 = 0xffff; return; }
    *m0 = valid >= 16 ? 0xffff : (__mmask16)((1u << valid) - 1);
    *m1 = valid <= 16 ? 0 : (__mmask16)((1u << (valid - 16)) - 1);
}

/* Rows per block: the packed A block (tiles × K × 16 × 4 bytes) stays within ~192 KiB of the 1 MiB L2,
 * while each 32-wide W panel streams through it once per block. */
static int block_tiles(int steps) {
    int t = (192 * 1024) / (steps * AS * 4);
    return t < 1 ? 1 : t;
}

/* Transposes rows [0, mr) of X (mr ≤ 14) into a[k][16] with a gather per k step (rows ≥ mr read as zero). */
F32_TARGET static void pack_a_f32(const float *x, ptrdiff_t ldx, int mr, int k, float *a) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)ldx));
    const __mmask16 m = (__mmask16)((1u << mr) - 1);
    for (int kk = 0; kk < k; kk++)
        _mm512_store_ps(a + (size_t)kk * AS, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, x + kk, 4));
}

/* Converts rows [0, mr) of X to bf16 (round to nearest even) into a[k/2][16] of (even, odd) pairs. */
BF16_TARGET static void pack_a_bf16(const float *x, ptrdiff_t ldx, int mr, int k, uint32_t *a) {
    const __m256i step = _mm256_set1_epi32((int)ldx);
    const __m256i idx_lo = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), step);
    const __m256i idx_hi = _mm256_mullo_epi32(_mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15), step);
    const __mmask8 m_lo = (__mmask8)(mr >= 8 ? 0xff : (1u << mr) - 1);
    const __mmask8 m_hi = (__mmask8)(mr <= 8 ? 0 : (1u << (mr - 8)) - 1);
    const int full = k / 2;
    for (int pp = 0; pp < full; pp++) {
        /* Each 64-bit gather element is one row's (x[2pp], x[2pp+1]); index unit is a float (scale 4). */
        __m512d lo = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), m_lo, idx_lo, x + 2 * pp, 4);
        __m512d hi = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), m_hi, idx_hi, x + 2 * pp, 4);
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_castpd_ps(hi), _mm512_castpd_ps(lo));
        _mm512_store_si512((void *)(a + (size_t)pp * AS), (__m512i)v);
    }
    if (k % 2) {
        uint32_t *dst = a + (size_t)full * AS;
        for (int r = 0; r < AS; r++) dst[r] = r < mr ? bf16_from_float(x[(ptrdiff_t)r * ldx + k - 1]) : 0u;
    }
}

/* One mr×32 tile: Y = bias + A·B over `steps` k steps. mr is a compile-time constant after inlining. */
INLINE F32_TARGET void tile_f32(const int mr, const float *a, const float *b, const float *bias, int steps,
                                float *y, ptrdiff_t ldy, __mmask16 m0, __mmask16 m1) {
    __m512 c0[MR], c1[MR];
    const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
    for (int r = 0; r < mr; r++) { c0[r] = bias0; c1[r] = bias1; }
    for (int s = 0; s < steps; s++) {
        const __m512 b0 = _mm512_load_ps(b + (size_t)s * NR), b1 = _mm512_load_ps(b + (size_t)s * NR + 16);
        for (int r = 0; r < mr; r++) {
            const __m512 av = _mm512_set1_ps(a[(size_t)s * AS + r]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
    }
    for (int r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps(y + r * ldy, m0, c0[r]);
        _mm512_mask_storeu_ps(y + r * ldy + 16, m1, c1[r]);
    }
}

INLINE BF16_TARGET void tile_bf16(const int mr, const uint32_t *a, const uint32_t *b, const float *bias, int steps,
                                  float *y, ptrdiff_t ldy, __mmask16 m0, __mmask16 m1) {
    __m512 c0[MR], c1[MR];
    const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
    for (int r = 0; r < mr; r++) { c0[r] = bias0; c1[r] = bias1; }
    for (int s = 0; s < steps; s++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(b + (size_t)s * NR));
        const __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(b + (size_t)s * NR + 16));
        for (int r = 0; r < mr; r++) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[(size_t)s * AS + r]);
            c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
        }
    }
    for (int r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps(y + r * ldy, m0, c0[r]);
        _mm512_mask_storeu_ps(y + r * ldy + 16, m1, c1[r]);
    }
}

#define TILE_CASES(fn)                                                                                        \
    switch (mr) {                                                                                             \
    case 14: fn(14, a, b, bias, steps, y, ldy, m0, m1); break;                                                \
    case 13: fn(13, a, b, bias, steps, y, ldy, m0, m1); break;                                                \
    case 12: fn(12, a, b, bias, steps, y, ldy, m0, m1); break;                                                \
    case 11: fn(11, a, b, bias, steps, y, ldy, m0, m1); break;                                                \
    case 10: fn(10, a, b, bias, steps, y, ldy, m0, m1); break;                                                \
    case 9: fn(9, a, b, bias, steps, y, ldy, m0, m1); break;                                                  \
    case 8: fn(8, a, b, bias, steps, y, ldy, m0, m1); break;                                                  \
    case 7: fn(7, a, b, bias, steps, y, ldy, m0, m1); break;                                                  \
    case 6: fn(6, a, b, bias, steps, y, ldy, m0, m1); break;                                                  \
    case 5: fn(5, a, b, bias, steps, y, ldy, m0, m1); break;                                                  \
    case 4: fn(4, a, b, bias, steps, y, ldy, m0, m1); break;                                                  \
    case 3: fn(3, a, b, bias, steps, y, ldy, m0, m1); break;                                                  \
    case 2: fn(2, a, b, bias, steps, y, ldy, m0, m1); break;                                                  \
    default: fn(1, a, b, bias, steps, y, ldy, m0, m1); break;                                                 \
    }

F32_TARGET static void tile_f32_any(int mr, const float *a, const float *b, const float *bias, int steps, float *y,
                                    ptrdiff_t ldy, __mmask16 m0, __mmask16 m1) {
    TILE_CASES(tile_f32)
}

BF16_TARGET static void tile_bf16_any(int mr, const uint32_t *a, const uint32_t *b, const float *bias, int steps,
                                      float *y, ptrdiff_t ldy, __mmask16 m0, __mmask16 m1) {
    TILE_CASES(tile_bf16)
}

/* Row blocks → pack A tiles once → for each W panel, every tile of the block. Both kernels share this driver;
 * `bf16` selects the packing and tile routine (elements are 4 bytes either way: a float or a bf16 pair). */
static int linear_avx512(const sift_packed_linear *p, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy,
                         int rows, int pb, int pe, int bf16) {
    const int steps = bf16 ? p->kpairs : p->k;
    const int tiles_per_block = block_tiles(steps);
    const size_t tile_elems = (size_t)steps * AS;
    void *abuf = alloc64(4 * tile_elems * (size_t)tiles_per_block);
    if (!abuf) return -1;
    for (int r0 = 0; r0 < rows; r0 += tiles_per_block * MR) {
        const int block_rows = rows - r0 < tiles_per_block * MR ? rows - r0 : tiles_per_block * MR;
        const int tiles = (block_rows + MR - 1) / MR;
        for (int t = 0; t < tiles; t++) {
            const int mr = block_rows - t * MR < MR ? block_rows - t * MR : MR;
            const float *xs = x + (ptrdiff_t)(r0 + t * MR) * ldx;
            if (bf16) pack_a_bf16(xs, ldx, mr, p->k, (uint32_t *)abuf + t * tile_elems);
            else pack_a_f32(xs, ldx, mr, p->k, (float *)abuf + t * tile_elems);
        }
        for (int panel = pb; panel < pe; panel++) {
            __mmask16 m0, m1;
            panel_masks(p, panel, &m0, &m1);
            const float *bias = p->bias + (size_t)panel * NR;
            for (int t = 0; t < tiles; t++) {
                const int mr = block_rows - t * MR < MR ? block_rows - t * MR : MR;
                float *yt = y + (ptrdiff_t)(r0 + t * MR) * ldy + panel * NR;
                if (bf16)
                    tile_bf16_any(mr, (const uint32_t *)abuf + t * tile_elems,
                                  (const uint32_t *)p->w + (size_t)panel * steps * NR, bias, steps, yt, ldy, m0, m1);
                else
                    tile_f32_any(mr, (const float *)abuf + t * tile_elems,
                                 (const float *)p->w + (size_t)panel * steps * NR, bias, steps, yt, ldy, m0, m1);
            }
        }
    }
    free(abuf);
    return 0;
}
#endif

/* ---------------------------------------------------------------- entry point */

int sift_linear(const sift_packed_linear *p, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy, int rows,
                int panel_begin, int panel_end, int kernel) {
    if (!p || !x || !y || rows < 0 || ldx < p->k || ldy < p->n || panel_begin < 0 || panel_end > p->panels ||
        panel_begin > panel_end || !sift_kernel_supported(kernel))
        return -1;
    if (rows == 0 || panel_begin == panel_end) return 0;
    switch (kernel) {
    case SIFT_KERNEL_SCALAR:
        linear_scalar(p, x, ldx, y, ldy, rows, panel_begin, panel_end);
        return 0;
#if defined(__x86_64__)
    case SIFT_KERNEL_AVX512:
    case SIFT_KERNEL_AVX512_BF16: {
        const int bf16 = kernel == SIFT_KERNEL_AVX512_BF16;
        if (bf16 != (p->precision == SIFT_PRECISION_BF16)) return -1;
        if ((long long)ldx * AS >= 0x7fffffffLL) return -1; /* 32-bit gather indices */
        return linear_avx512(p, x, ldx, y, ldy, rows, panel_begin, panel_end, bf16);
    }
#endif
    default: return -1;
    }
}
