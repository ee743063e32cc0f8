#include "sift_kernels.h"
#include "sift_simd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NR SIFT_PANEL_WIDTH /* output features per panel (two zmm vectors) */
#define MR SIFT_TILE_ROWS   /* rows per micro-tile: 2×14 accumulators + 2 B vectors of the 32 zmm registers */

struct sift_packed_linear {
    int n, k, kpairs, panels, precision, activation;
    float *bias; /* [panels*NR], zero past n */
    void *w;     /* fp32: float[panels][k][NR]; bf16: uint32[panels][kpairs][NR] holding (even, odd) pairs */
};

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

/* ---------------------------------------------------------------- CPU features and tiers */

enum {
    FEATURE_AVX512 = 1,  /* AVX-512 F/BW/DQ/VL usable */
    FEATURE_BF16 = 2,    /* … and AVX-512 BF16 */
    FEATURE_VNNI512 = 4, /* … and AVX-512 VNNI */
    FEATURE_AVX2 = 8,    /* AVX2 + FMA usable (ymm state enabled by the OS) */
    FEATURE_AVXVNNI = 16 /* … and AVX-VNNI (VEX vpdpbusd on ymm) */
};

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static int detect_features(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0; /* OSXSAVE: the OS manages extended state, xgetbv is legal */
    const int fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & 0x6u) != 0x6u || !avx) return 0; /* SSE and AVX (ymm) state enabled */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int features = 0;
    if (fma && (b & (1u << 5))) features |= FEATURE_AVX2;
    unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    const int leaf71 = __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    if ((features & FEATURE_AVX2) && leaf71 && (a1 & (1u << 4))) features |= FEATURE_AVXVNNI;
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31); /* F, DQ, BW, VL */
    if ((xlo & 0xe6u) != 0xe6u || (b & need) != need) return features; /* opmask, ZMM_Hi256, Hi16_ZMM state */
    features |= FEATURE_AVX512;
    if (c & (1u << 11)) features |= FEATURE_VNNI512;
    if (leaf71 && (a1 & (1u << 5))) features |= FEATURE_BF16;
    return features;
}
#else
static int detect_features(void) { return 0; }
#endif

static int cpu_features = -1; /* detect_features(), once */
static int tier_cap = -1;     /* SIFT_TIER_*; -1 until set or read from SIFT_KERNELS */

static int cpu(void) {
    int f = __atomic_load_n(&cpu_features, __ATOMIC_RELAXED);
    if (f < 0) {
        f = detect_features();
        __atomic_store_n(&cpu_features, f, __ATOMIC_RELAXED);
    }
    return f;
}

/* SIFT_KERNELS: "avx512" (or unset, empty, "auto": no cap), "avx2", "portable" or "openblas" (no x86 vector kernel:
 * SiftKernels then chooses OpenBLAS or the plain C kernels). An unknown value caps nothing; SiftKernels reports it. */
static int tier_from_environment(void) {
    const char *v = getenv("SIFT_KERNELS");
    if (!v) return SIFT_TIER_AVX512;
    if (strcmp(v, "avx2") == 0) return SIFT_TIER_AVX2;
    if (strcmp(v, "portable") == 0 || strcmp(v, "openblas") == 0) return SIFT_TIER_PORTABLE;
    return SIFT_TIER_AVX512;
}

static int tier(void) {
    int t = __atomic_load_n(&tier_cap, __ATOMIC_RELAXED);
    if (t < 0) {
        t = tier_from_environment();
        __atomic_store_n(&tier_cap, t, __ATOMIC_RELAXED);
    }
    return t;
}

int sift_set_kernel_tier(int t) {
    if (t < SIFT_TIER_AVX512 || t > SIFT_TIER_PORTABLE) return -1;
    __atomic_store_n(&tier_cap, t, __ATOMIC_RELAXED);
    return 0;
}

int sift_kernel_supported_by_cpu(int kernel) {
    const int f = cpu();
    switch (kernel) {
    case SIFT_KERNEL_SCALAR: return 1;
    case SIFT_KERNEL_AVX512: return (f & FEATURE_AVX512) != 0;
    case SIFT_KERNEL_AVX512_BF16: return (f & FEATURE_AVX512) && (f & FEATURE_BF16);
    case SIFT_KERNEL_AVX512_VNNI: return (f & FEATURE_AVX512) && (f & FEATURE_VNNI512);
    case SIFT_KERNEL_AVX2:
    case SIFT_KERNEL_AVX2_INT8: return (f & FEATURE_AVX2) != 0;
    case SIFT_KERNEL_AVX_VNNI: return (f & FEATURE_AVXVNNI) != 0;
    default: return 0;
    }
}

int sift_kernel_supported(int kernel) {
    if (!sift_kernel_supported_by_cpu(kernel)) return 0;
    switch (kernel) {
    case SIFT_KERNEL_AVX512:
    case SIFT_KERNEL_AVX512_BF16:
    case SIFT_KERNEL_AVX512_VNNI: return tier() <= SIFT_TIER_AVX512;
    case SIFT_KERNEL_AVX2:
    case SIFT_KERNEL_AVX2_INT8:
    case SIFT_KERNEL_AVX_VNNI: return tier() <= SIFT_TIER_AVX2;
    default: return 1;
    }
}

/* ---------------------------------------------------------------- packing */

sift_packed_linear *sift_pack_linear(const float *w, ptrdiff_t stride_n, ptrdiff_t stride_k, const float *bias,
                                     int n, int k, int precision, int activation) {
    if (!w || n <= 0 || k <= 0 || (precision != SIFT_PRECISION_F32 && precision != SIFT_PRECISION_BF16) ||
        (activation != SIFT_ACTIVATION_NONE && activation != SIFT_ACTIVATION_GELU))
        return NULL;
    sift_packed_linear *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n;
    p->k = k;
    p->kpairs = (k + 1) / 2;
    p->panels = (n + NR - 1) / NR;
    p->precision = precision;
    p->activation = activation;
    p->bias = sift_alloc64(sizeof(float) * (size_t)p->panels * NR);
    size_t steps = precision == SIFT_PRECISION_F32 ? (size_t)k : (size_t)p->kpairs;
    p->w = sift_alloc64(4 * (size_t)p->panels * steps * NR); /* 4 bytes: one float or one bf16 pair */
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

/* ---------------------------------------------------------------- portable C kernels */

/* fp32: the 32 features of a panel for two rows at a time, k outermost, so the 2×32 sums vectorise across features
 * (SSE2 on the x86-64 baseline, NEON on aarch64) and each W row is read once per two X rows. Each output is
 * bias + Σ_k x_k·w_k summed in k order, as the reference does. */
static void linear_portable_f32(const sift_packed_linear *p, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy,
                                int rows, int pb, int pe) {
    const int k = p->k;
    for (int r = 0; r < rows; r += 2) {
        const int pair = r + 1 < rows;
        const float *x0 = x + (ptrdiff_t)r * ldx, *x1 = pair ? x0 + ldx : x0;
        for (int panel = pb; panel < pe; panel++) {
            const float *w = (const float *)p->w + (size_t)panel * k * NR;
            float s0[NR], s1[NR];
            for (int j = 0; j < NR; j++) s0[j] = s1[j] = p->bias[panel * NR + j];
            for (int kk = 0; kk < k; kk++) {
                const float a0 = x0[kk], a1 = x1[kk];
                const float *wk = w + (size_t)kk * NR;
                for (int j = 0; j < NR; j++) { s0[j] += a0 * wk[j]; s1[j] += a1 * wk[j]; }
            }
            const int valid = p->n - panel * NR < NR ? p->n - panel * NR : NR;
            /* The activation and the row pair are tested once per panel, not per output: the plain copies then
             * vectorise at SwiftPM's release -O2 as they did at -O3 (which unswitches such loops itself). */
            if (p->activation == SIFT_ACTIVATION_GELU) {
                for (int j = 0; j < valid; j++) {
                    s0[j] = 0.5f * s0[j] * (1.0f + erff(s0[j] * 0.70710678118654752f));
                    s1[j] = 0.5f * s1[j] * (1.0f + erff(s1[j] * 0.70710678118654752f));
                }
            }
            memcpy(y + (ptrdiff_t)r * ldy + panel * NR, s0, sizeof(float) * (size_t)valid);
            if (pair) memcpy(y + (ptrdiff_t)(r + 1) * ldy + panel * NR, s1, sizeof(float) * (size_t)valid);
        }
    }
}

/* bf16: plain emulation of the vdpbf16ps kernel (x and w rounded to bf16, fp32 sums): its test reference. */
static void linear_scalar_bf16(const sift_packed_linear *p, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy,
                               int rows, int pb, int pe) {
    const int k = p->k;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (ptrdiff_t)r * ldx;
        for (int panel = pb; panel < pe; panel++) {
            for (int j = 0; j < NR; j++) {
                int col = panel * NR + j;
                if (col >= p->n) break;
                float sum = p->bias[col];
                const uint32_t *wp = (const uint32_t *)p->w + (size_t)panel * p->kpairs * NR + j;
                for (int kk = 0; kk < k; kk++) {
                    uint32_t pair = wp[(size_t)(kk / 2) * NR];
                    float wv = float_from_bf16((uint16_t)(kk % 2 ? pair >> 16 : pair & 0xffffu));
                    sum += float_from_bf16(bf16_from_float(xr[kk])) * wv;
                }
                if (p->activation == SIFT_ACTIVATION_GELU) sum = 0.5f * sum * (1.0f + erff(sum * 0.70710678118654752f));
                y[(ptrdiff_t)r * ldy + col] = sum;
            }
        }
    }
}

/* ---------------------------------------------------------------- AVX-512 kernels */

#if defined(__x86_64__)
/* bf16 copy of X rows [0, rows): row r becomes `stride` uint32 (even, odd) pairs, round to nearest even,
 * zero-padded past k (which also supplies the odd-K pad). stride is a multiple of 16 ≥ ceil(k/2). */
BF16_TARGET static void convert_rows_bf16(const float *x, ptrdiff_t ldx, int rows, int k, uint32_t *a, int stride) {
    for (int r = 0; r < rows; r++) {
        const float *src = x + (ptrdiff_t)r * ldx;
        uint32_t *dst = a + (size_t)r * stride;
        for (int c = 0; c < 2 * stride; c += 32) {
            const int left = k - c;
            const __mmask16 mlo = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            const __mmask16 mhi = left >= 32 ? 0xffff : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
            const __m512 lo = _mm512_maskz_loadu_ps(mlo, src + c), hi = _mm512_maskz_loadu_ps(mhi, src + c + 16);
            _mm512_store_si512((void *)(dst + c / 2), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

/* One mr×32 tile: Y = bias + A·B over `steps` k steps (A element (r, s) at a[r·lda + s]; B row s at b[32s]).
 * mr is a compile-time constant after inlining, so the 2·mr accumulators live in zmm registers. */
INLINE F32_TARGET void tile_f32(const int mr, const float *a, ptrdiff_t lda, const float *b, const float *bias,
                                int steps, float *y, ptrdiff_t ldy, __mmask16 m0, __mmask16 m1, int act) {
    __m512 c0[MR], c1[MR];
    const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
    for (int r = 0; r < mr; r++) {
        c0[r] = bias0;
        c1[r] = bias1;
        /* Y lines of the next tile down (the driver's next call): their write misses overlap this tile's math. */
        __builtin_prefetch(y + (r + MR) * ldy, 1, 3);
        __builtin_prefetch(y + (r + MR) * ldy + 16, 1, 3);
    }
    for (int s = 0; s < steps; s++) {
        const __m512 b0 = _mm512_load_ps(b + (size_t)s * NR), b1 = _mm512_load_ps(b + (size_t)s * NR + 16);
        for (int r = 0; r < mr; r++) {
            const __m512 av = _mm512_set1_ps(a[r * lda + s]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
    }
    if (act == SIFT_ACTIVATION_GELU)
        UNROLL_FULL for (int r = 0; r < mr; r++) { c0[r] = gelu(c0[r]); c1[r] = gelu(c1[r]); }
    for (int r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps(y + r * ldy, m0, c0[r]);
        _mm512_mask_storeu_ps(y + r * ldy + 16, m1, c1[r]);
    }
}

/* y_bf16: store Y rounded to bf16 (nearest even, as convert_rows_bf16 would round it for the next layer) into
 * uint16 rows of stride ldy instead of fp32. */
INLINE BF16_TARGET void tile_bf16(const int mr, const uint32_t *a, ptrdiff_t lda, const uint32_t *b,
                                  const float *bias, int steps, void *y, ptrdiff_t ldy, __mmask16 m0, __mmask16 m1,
                                  int act, int y_bf16) {
    __m512 c0[MR], c1[MR];
    const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
    const size_t elem = y_bf16 ? 2 : 4;
    for (int r = 0; r < mr; r++) {
        c0[r] = bias0;
        c1[r] = bias1;
        /* Y lines of the next tile down (the driver's next call): their write misses overlap this tile's math. */
        __builtin_prefetch((char *)y + (r + MR) * ldy * elem, 1, 3);
        __builtin_prefetch((char *)y + ((r + MR) * ldy + 16) * elem, 1, 3);
    }
    for (int s = 0; s < steps; s++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(b + (size_t)s * NR));
        const __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(b + (size_t)s * NR + 16));
        for (int r = 0; r < mr; r++) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[r * lda + s]);
            c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
        }
    }
    if (act == SIFT_ACTIVATION_GELU) /* gelu_fast: the next layer rounds these outputs to bf16 anyway */
        UNROLL_FULL for (int r = 0; r < mr; r++) { c0[r] = gelu_fast(c0[r]); c1[r] = gelu_fast(c1[r]); }
    if (y_bf16) {
        const __mmask32 m = (__mmask32)m0 | ((__mmask32)m1 << 16);
        for (int r = 0; r < mr; r++)
            _mm512_mask_storeu_epi16((uint16_t *)y + r * ldy, m, (__m512i)_mm512_cvtne2ps_pbh(c1[r], c0[r]));
        return;
    }
    for (int r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps((float *)y + r * ldy, m0, c0[r]);
        _mm512_mask_storeu_ps((float *)y + r * ldy + 16, m1, c1[r]);
    }
}

/* The activation and the store type are compile-time constants in each instance: a tile without GELU then keeps its
 * accumulators in registers from the k loop to the stores (with GELU's rolled loop in the same function as a run-time
 * branch, the compiler kept every tile's 2·mr accumulators and bias copies on the stack around the k loop). */
#define TILE_F32_NONE(n) tile_f32(n, a, lda, b, bias, steps, y, ldy, m0, m1, SIFT_ACTIVATION_NONE)
#define TILE_F32_GELU(n) tile_f32(n, a, lda, b, bias, steps, y, ldy, m0, m1, SIFT_ACTIVATION_GELU)
F32_TARGET static void tile_f32_any(int mr, const float *a, ptrdiff_t lda, const float *b, const float *bias,
                                    int steps, float *y, ptrdiff_t ldy, __mmask16 m0, __mmask16 m1, int act) {
    if (act == SIFT_ACTIVATION_GELU) { TILE_ROW_CASES(TILE_F32_GELU) }
    else { TILE_ROW_CASES(TILE_F32_NONE) }
}
#undef TILE_F32_NONE
#undef TILE_F32_GELU

#define TILE_BF16_NONE_F32(n) tile_bf16(n, a, lda, b, bias, steps, y, ldy, m0, m1, SIFT_ACTIVATION_NONE, 0)
#define TILE_BF16_NONE_BF16(n) tile_bf16(n, a, lda, b, bias, steps, y, ldy, m0, m1, SIFT_ACTIVATION_NONE, 1)
#define TILE_BF16_GELU_F32(n) tile_bf16(n, a, lda, b, bias, steps, y, ldy, m0, m1, SIFT_ACTIVATION_GELU, 0)
#define TILE_BF16_GELU_BF16(n) tile_bf16(n, a, lda, b, bias, steps, y, ldy, m0, m1, SIFT_ACTIVATION_GELU, 1)
BF16_TARGET static void tile_bf16_any(int mr, const uint32_t *a, ptrdiff_t lda, const uint32_t *b, const float *bias,
                                      int steps, void *y, ptrdiff_t ldy, __mmask16 m0, __mmask16 m1, int act, int y_bf16) {
    if (act == SIFT_ACTIVATION_GELU) {
        if (y_bf16) { TILE_ROW_CASES(TILE_BF16_GELU_BF16) } else { TILE_ROW_CASES(TILE_BF16_GELU_F32) }
    } else {
        if (y_bf16) { TILE_ROW_CASES(TILE_BF16_NONE_BF16) } else { TILE_ROW_CASES(TILE_BF16_NONE_F32) }
    }
}
#undef TILE_BF16_NONE_F32
#undef TILE_BF16_NONE_BF16
#undef TILE_BF16_GELU_F32
#undef TILE_BF16_GELU_BF16

/* Row blocks → (bf16: convert the block's rows once, unless X is already bf16) → for each W panel, every 14-row tile
 * (GELU_TILE_ROWS with GELU) of the block. fp32 broadcasts straight from X, so it needs no copy of X at all.
 * x_bf16 / y_bf16 (bf16 only): X is uint16 bf16 rows (K even, ldx even) read in place as pairs; Y is stored as
 * uint16 bf16. */
static int linear_avx512(const sift_packed_linear *p, const void *x, ptrdiff_t ldx, void *y, ptrdiff_t ldy,
                         int rows, int pb, int pe, int bf16, int x_bf16, int y_bf16) {
    const int stride = (p->kpairs + 15) / 16 * 16; /* bf16 copy: pairs per row */
    const int tiles_per_block = sift_block_tiles(bf16 ? 4 * stride : 4 * p->k);
    uint32_t *abuf = NULL;
    if (bf16 && !x_bf16 && !(abuf = sift_alloc64(4 * (size_t)stride * tiles_per_block * MR))) return -1;
    const size_t y_elem = y_bf16 ? 2 : 4;
    const int tile_rows = p->activation == SIFT_ACTIVATION_GELU ? GELU_TILE_ROWS : MR;
    for (int r0 = 0; r0 < rows; r0 += tiles_per_block * MR) {
        const int block_rows = rows - r0 < tiles_per_block * MR ? rows - r0 : tiles_per_block * MR;
        const uint32_t *a = abuf;
        ptrdiff_t lda = stride;
        if (x_bf16) {
            a = (const uint32_t *)((const uint16_t *)x + (ptrdiff_t)r0 * ldx);
            lda = ldx / 2;
        } else if (bf16) {
            convert_rows_bf16((const float *)x + (ptrdiff_t)r0 * ldx, ldx, block_rows, p->k, abuf, stride);
        }
        for (int panel = pb; panel < pe; panel++) {
            __mmask16 m0, m1;
            sift_panel_masks(p->n - panel * NR, &m0, &m1);
            const float *bias = p->bias + (size_t)panel * NR;
            for (int t = 0; t < block_rows; t += tile_rows) {
                const int mr = block_rows - t < tile_rows ? block_rows - t : tile_rows;
                char *yt = (char *)y + ((ptrdiff_t)(r0 + t) * ldy + panel * NR) * y_elem;
                if (bf16)
                    tile_bf16_any(mr, a + (size_t)t * lda, lda,
                                  (const uint32_t *)p->w + (size_t)panel * p->kpairs * NR, bias, p->kpairs, yt, ldy, m0, m1,
                                  p->activation, y_bf16);
                else
                    tile_f32_any(mr, (const float *)x + (ptrdiff_t)(r0 + t) * ldx, ldx,
                                 (const float *)p->w + (size_t)panel * p->k * NR, bias, p->k, (float *)yt, ldy, m0, m1,
                                 p->activation);
            }
        }
    }
    free(abuf);
    return 0;
}
#endif

/* ---------------------------------------------------------------- AVX2 + FMA kernel */

#if defined(__x86_64__)
/* 16 ymm registers: a tile is AVX2_ROWS rows × one half panel (16 features, two ymm), so its 12 accumulators, the
 * two W vectors and the broadcast row value fit (the BLIS Haswell shape). Per k step: 2 W loads and 6 broadcasts
 * feed 12 FMAs, which keeps both FMA ports busy without exceeding Zen 3's two 256-bit loads per cycle. */
enum { AVX2_ROWS = 6, AVX2_HALF = 16 };

/* One mr×16 tile: Y = act(bias + A·B) over `steps` k steps (A element (r, s) at a[r·lda + s]; B row s at b[32s], the
 * half panel's 16 floats); `valid` real features (≤ 16) are stored, the rest masked. */
INLINE AVX2_TARGET void tile_avx2(const int mr, const float *a, ptrdiff_t lda, const float *b, const float *bias,
                                  int steps, float *y, ptrdiff_t ldy, int valid, int act) {
    __m256 c0[AVX2_ROWS], c1[AVX2_ROWS];
    const __m256 bias0 = _mm256_load_ps(bias), bias1 = _mm256_load_ps(bias + 8);
    for (int r = 0; r < mr; r++) { c0[r] = bias0; c1[r] = bias1; }
    for (int s = 0; s < steps; s++) {
        const __m256 b0 = _mm256_load_ps(b + (size_t)s * NR), b1 = _mm256_load_ps(b + (size_t)s * NR + 8);
        for (int r = 0; r < mr; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r * lda + s);
            c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
        }
    }
    if (act == SIFT_ACTIVATION_GELU)
        UNROLL_FULL for (int r = 0; r < mr; r++) { c0[r] = gelu_avx2(c0[r]); c1[r] = gelu_avx2(c1[r]); }
    if (valid >= AVX2_HALF) {
        for (int r = 0; r < mr; r++) {
            _mm256_storeu_ps(y + r * ldy, c0[r]);
            _mm256_storeu_ps(y + r * ldy + 8, c1[r]);
        }
        return;
    }
    const __m256i m0 = avx2_lanes(valid), m1 = avx2_lanes(valid - 8);
    for (int r = 0; r < mr; r++) {
        _mm256_maskstore_ps(y + r * ldy, m0, c0[r]);
        _mm256_maskstore_ps(y + r * ldy + 8, m1, c1[r]);
    }
}

_Static_assert(AVX2_ROWS == 6, "ROW_CASES_6_TO_1 lists the row counts 6 … 1");

/* The activation is a compile-time constant in each instance, as for the AVX-512 tiles (see tile_f32_any). */
#define TILE_AVX2_NONE(n) tile_avx2(n, a, lda, b, bias, steps, y, ldy, valid, SIFT_ACTIVATION_NONE)
#define TILE_AVX2_GELU(n) tile_avx2(n, a, lda, b, bias, steps, y, ldy, valid, SIFT_ACTIVATION_GELU)
AVX2_TARGET static void tile_avx2_any(int mr, const float *a, ptrdiff_t lda, const float *b, const float *bias, int steps,
                                      float *y, ptrdiff_t ldy, int valid, int act) {
    if (act == SIFT_ACTIVATION_GELU) { switch (mr) { ROW_CASES_6_TO_1(TILE_AVX2_GELU) } }
    else { switch (mr) { ROW_CASES_6_TO_1(TILE_AVX2_NONE) } }
}
#undef TILE_AVX2_NONE
#undef TILE_AVX2_GELU

/* Row blocks (X rows within ~192 KiB of L2) → for each W panel half (K×16 floats, streamed from L1/L2 once per
 * tile) → every 6-row tile of the block. X is read in place (broadcasts), so no copy of X is made. */
AVX2_TARGET static void linear_avx2(const sift_packed_linear *p, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy,
                                    int rows, int pb, int pe) {
    const int block = sift_block_tiles(4 * p->k) * SIFT_TILE_ROWS / AVX2_ROWS * AVX2_ROWS;
    for (int r0 = 0; r0 < rows; r0 += block) {
        const int block_rows = rows - r0 < block ? rows - r0 : block;
        for (int panel = pb; panel < pe; panel++) {
            for (int half = 0; half < 2; half++) {
                const int valid = p->n - panel * NR - half * AVX2_HALF;
                if (valid <= 0) break;
                const float *b = (const float *)p->w + (size_t)panel * p->k * NR + half * AVX2_HALF;
                const float *bias = p->bias + (size_t)panel * NR + half * AVX2_HALF;
                for (int t = 0; t < block_rows; t += AVX2_ROWS) {
                    const int mr = block_rows - t < AVX2_ROWS ? block_rows - t : AVX2_ROWS;
                    tile_avx2_any(mr, x + (ptrdiff_t)(r0 + t) * ldx, ldx, b, bias, p->k,
                                  y + (ptrdiff_t)(r0 + t) * ldy + panel * NR + half * AVX2_HALF, ldy, valid, p->activation);
                }
            }
        }
    }
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
        if (p->precision == SIFT_PRECISION_F32) linear_portable_f32(p, x, ldx, y, ldy, rows, panel_begin, panel_end);
        else linear_scalar_bf16(p, x, ldx, y, ldy, rows, panel_begin, panel_end);
        return 0;
#if defined(__x86_64__)
    case SIFT_KERNEL_AVX512:
    case SIFT_KERNEL_AVX512_BF16: {
        const int bf16 = kernel == SIFT_KERNEL_AVX512_BF16;
        if (bf16 != (p->precision == SIFT_PRECISION_BF16)) return -1;
        return linear_avx512(p, x, ldx, y, ldy, rows, panel_begin, panel_end, bf16, 0, 0);
    }
    case SIFT_KERNEL_AVX2:
        if (p->precision != SIFT_PRECISION_F32) return -1;
        linear_avx2(p, x, ldx, y, ldy, rows, panel_begin, panel_end);
        return 0;
#endif
    default: return -1;
    }
}

int sift_linear_bf16_io(const sift_packed_linear *p, const void *x, ptrdiff_t ldx, int x_bf16, void *y, ptrdiff_t ldy,
                        int y_bf16, int rows, int panel_begin, int panel_end) {
    if (!p || !x || !y || rows < 0 || ldx < p->k || ldy < p->n || panel_begin < 0 || panel_end > p->panels ||
        panel_begin > panel_end || p->precision != SIFT_PRECISION_BF16 ||
        !sift_kernel_supported(SIFT_KERNEL_AVX512_BF16))
        return -1;
    /* bf16 rows are read as (even, odd) pairs in place: every row must start on a pair, and hold whole pairs. */
    if (x_bf16 && (p->k % 2 != 0 || ldx % 2 != 0 || ((uintptr_t)x & 3) != 0)) return -1;
    if (rows == 0 || panel_begin == panel_end) return 0;
#if defined(__x86_64__)
    return linear_avx512(p, x, ldx, y, ldy, rows, panel_begin, panel_end, 1, x_bf16 != 0, y_bf16 != 0);
#else
    return -1;
#endif
}

/* ---------------------------------------------------------------- test hook */

#if defined(__x86_64__)
F32_TARGET static void vector_function_avx512(int function, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 r;
        switch (function) {
        case SIFT_VECTOR_EXP: r = exp_nonpositive(v); break;
        case SIFT_VECTOR_EXP_FAST: r = exp_nonpositive_fast(v); break;
        case SIFT_VECTOR_GELU: r = gelu(v); break;
        default: r = gelu_fast(v); break;
        }
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

/* AVX2 has no fast exp (it has no bf16 attention): SIFT_VECTOR_EXP_FAST is rejected by the entry point. */
AVX2_TARGET static void vector_function_avx2(int function, const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
        const __m256i m = avx2_lanes(n - i >= 8 ? 8 : (int)(n - i));
        const __m256 v = _mm256_maskload_ps(x + i, m);
        __m256 r;
        switch (function) {
        case SIFT_VECTOR_EXP: r = exp_nonpositive_avx2(v); break;
        case SIFT_VECTOR_GELU: r = gelu_avx2(v); break;
        default: r = gelu_fast_avx2(v); break;
        }
        _mm256_maskstore_ps(y + i, m, r);
    }
}
#endif

int sift_vector_function(int function, const float *x, float *y, size_t n, int kernel) {
    if (function < SIFT_VECTOR_EXP || function > SIFT_VECTOR_GELU_FAST || !sift_kernel_supported(kernel)) return -1;
#if defined(__x86_64__)
    if (kernel == SIFT_KERNEL_AVX512) { vector_function_avx512(function, x, y, n); return 0; }
    if (kernel == SIFT_KERNEL_AVX2 && function != SIFT_VECTOR_EXP_FAST) { vector_function_avx2(function, x, y, n); return 0; }
#endif
    return -1;
}
