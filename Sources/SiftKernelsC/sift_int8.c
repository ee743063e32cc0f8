#include "sift_int8.h"
#include "sift_kernels.h"
#include "sift_simd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NR SIFT_PANEL_WIDTH /* output features per panel: two zmm vectors of 16 int32 */
#define MR SIFT_TILE_ROWS   /* rows per micro-tile: 2×14 accumulators + 2 W vectors + broadcasts in 32 zmm */

/* ŵ ∈ [−127, 127], activations q ∈ [0, 255] (header). */
enum { WEIGHT_LEVELS = 127, ACTIVATION_TOP = 255 };

struct sift_int8_linear {
    int n, k, kquads, kpairs, panels, activation;
    float *bias;     /* [panels*NR], zero past n */
    float *scale;    /* s_w [panels*NR], zero past n */
    int32_t *colsum; /* Σ_k ŵ[n][k] [panels*NR]: the zero-point correction */
    int32_t *w;      /* [panels][kquads][NR], each int32 four int8 ŵ[n][4g…4g+3] (little-endian byte order) */
    int32_t *w16;    /* [panels][kpairs][NR], each int32 two int16 ŵ[n][2m], ŵ[n][2m+1] (low half first), zero past k;
                      * only in a packing for SIFT_KERNEL_AVX2_INT8 (its vpmaddwd operands), else NULL */
    float *unsmooth; /* 1/s_k [kquads*4] (zero past k), or NULL: activations are quantized as x_k/s_k */
};

/* Smoothing factors s_k = √(m_k / max_n |W[n][k]|) (SmoothQuant with α = ½): a feature expected to be large
 * (m_k) is divided down before the per-row activation quantization and its weights are multiplied up instead,
 * so one outlier feature no longer sets the whole row's quantization step. s_k = 1 where m_k or W's column is
 * zero. Returns NULL on allocation failure. */
static float *smoothing_factors(const float *w, ptrdiff_t stride_n, ptrdiff_t stride_k, int n, int k,
                                const float *magnitude) {
    float *s = calloc((size_t)k, sizeof(float));
    if (!s) return NULL;
    /* Column maxima row by row: a mapped checkpoint is row-major, so this reads it sequentially. */
    for (int row = 0; row < n; row++)
        for (int kk = 0; kk < k; kk++) s[kk] = fmaxf(s[kk], fabsf(w[row * stride_n + kk * stride_k]));
    for (int kk = 0; kk < k; kk++) {
        const float wmax = s[kk], m = fabsf(magnitude[kk]);
        const float f = (m > 0.0f && wmax > 0.0f) ? sqrtf(m / wmax) : 1.0f;
        s[kk] = (f > 0.0f && f < INFINITY && 1.0f / f < INFINITY) ? f : 1.0f;
    }
    return s;
}

/* ---------------------------------------------------------------- packing */

sift_int8_linear *sift_pack_linear_int8(const float *w, ptrdiff_t stride_n, ptrdiff_t stride_k, const float *bias,
                                        int n, int k, int activation, const float *input_magnitude, int kernel) {
    if (!w || n <= 0 || k <= 0 || k > SIFT_INT8_MAX_K ||
        (activation != SIFT_ACTIVATION_NONE && activation != SIFT_ACTIVATION_GELU) ||
        (kernel != SIFT_KERNEL_SCALAR && kernel != SIFT_KERNEL_AVX512_VNNI && kernel != SIFT_KERNEL_AVX2_INT8 &&
         kernel != SIFT_KERNEL_AVX_VNNI))
        return NULL;
    sift_int8_linear *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n;
    p->k = k;
    p->kquads = (k + 3) / 4;
    p->kpairs = (k + 1) / 2;
    p->panels = (n + NR - 1) / NR;
    p->activation = activation;
    const size_t features = (size_t)p->panels * NR;
    p->bias = sift_alloc64(sizeof(float) * features);
    p->scale = sift_alloc64(sizeof(float) * features);
    p->colsum = sift_alloc64(sizeof(int32_t) * features);
    p->w = sift_alloc64(sizeof(int32_t) * features * p->kquads);
    /* The int16 pair copy only for the kernel that reads it (the quad layout stays: the scalar kernel reads it). */
    const int pairs = kernel == SIFT_KERNEL_AVX2_INT8;
    if (pairs) p->w16 = sift_alloc64(sizeof(int32_t) * features * p->kpairs);
    float *smooth = NULL;
    if (input_magnitude) {
        smooth = smoothing_factors(w, stride_n, stride_k, n, k, input_magnitude);
        p->unsmooth = sift_alloc64(sizeof(float) * (size_t)p->kquads * 4);
    }
    if (!p->bias || !p->scale || !p->colsum || !p->w || (pairs && !p->w16) ||
        (input_magnitude && (!smooth || !p->unsmooth))) {
        free(smooth);
        sift_int8_linear_free(p);
        return NULL;
    }
    if (smooth) {
        memset(p->unsmooth, 0, sizeof(float) * (size_t)p->kquads * 4);
        for (int kk = 0; kk < k; kk++) p->unsmooth[kk] = 1.0f / smooth[kk];
    }
    memset(p->w, 0, sizeof(int32_t) * features * p->kquads);
    if (pairs) memset(p->w16, 0, sizeof(int32_t) * features * p->kpairs);
    int8_t *bytes = (int8_t *)p->w;
    int16_t *halves = (int16_t *)p->w16;
    for (size_t col = 0; col < features; col++) {
        const int row = (int)col, panel = row / NR, j = row % NR;
        p->bias[col] = (bias && row < n) ? bias[row] : 0.0f;
        p->scale[col] = 0.0f;
        p->colsum[col] = 0;
        if (row >= n) continue;
        const float *src = w + (ptrdiff_t)row * stride_n;
#define SMOOTHED(kk) (smooth ? src[(kk) * stride_k] * smooth[kk] : src[(kk) * stride_k])
        float amax = 0.0f;
        for (int kk = 0; kk < k; kk++) amax = fmaxf(amax, fabsf(SMOOTHED(kk)));
        if (amax == 0.0f) continue; /* all-zero feature: ŵ = 0, output = bias */
        const float s = amax / (float)WEIGHT_LEVELS;
        p->scale[col] = s;
        int32_t sum = 0;
        for (int kk = 0; kk < k; kk++) {
            long v = lrintf(SMOOTHED(kk) / s);
            v = v > WEIGHT_LEVELS ? WEIGHT_LEVELS : v < -WEIGHT_LEVELS ? -WEIGHT_LEVELS : v;
            bytes[(((size_t)panel * p->kquads + kk / 4) * NR + j) * 4 + kk % 4] = (int8_t)v;
            if (pairs) halves[(((size_t)panel * p->kpairs + kk / 2) * NR + j) * 2 + kk % 2] = (int16_t)v;
            sum += (int32_t)v;
        }
        p->colsum[col] = sum;
#undef SMOOTHED
    }
    free(smooth);
    return p;
}

void sift_int8_linear_free(sift_int8_linear *packed) {
    if (!packed) return;
    free(packed->bias);
    free(packed->scale);
    free(packed->colsum);
    free(packed->w);
    free(packed->w16);
    free(packed->unsmooth);
    free(packed);
}

int sift_int8_linear_panels(const sift_int8_linear *packed) { return packed->panels; }

/* ---------------------------------------------------------------- activation quantization */

/* Scale, its inverse and the zero point for a row whose values span [lo, hi] (lo ≤ 0 ≤ hi). An all-zero row gets
 * scale 0 (every product then dequantizes to 0, the output is the bias); so does a range too small to invert. */
static void row_parameters(float lo, float hi, float *scale, float *inverse, int32_t *zero) {
    const float s = (hi - lo) / (float)ACTIVATION_TOP, inv = 1.0f / s;
    if (!(s > 0.0f) || !(inv < INFINITY)) { *scale = 0.0f; *inverse = 0.0f; *zero = 0; return; }
    *scale = s;
    *inverse = inv;
    long z = lrintf(-lo * *inverse);
    *zero = (int32_t)(z > ACTIVATION_TOP ? ACTIVATION_TOP : z);
}

/* Plain C quantization of one row: the reference for quantize_rows_vnni (same operations, same rounding). */
static void quantize_row_scalar(const float *x, int k, const float *unsmooth, uint8_t *q, float *scale,
                                int32_t *zero) {
#define INPUT(kk) (unsmooth ? x[kk] * unsmooth[kk] : x[kk])
    float lo = 0.0f, hi = 0.0f;
    for (int kk = 0; kk < k; kk++) { lo = fminf(lo, INPUT(kk)); hi = fmaxf(hi, INPUT(kk)); }
    float inverse;
    row_parameters(lo, hi, scale, &inverse, zero);
    for (int kk = 0; kk < k; kk++) {
        long v = lrintf(INPUT(kk) * inverse) + *zero;
        q[kk] = (uint8_t)(v > ACTIVATION_TOP ? ACTIVATION_TOP : v < 0 ? 0 : v);
    }
#undef INPUT
}

/* ---------------------------------------------------------------- scalar reference kernel */

/* raw: write the int32 accumulators to (int32_t *)out instead of the dequantized floats. */
static int linear_int8_scalar(const sift_int8_linear *p, const float *x, ptrdiff_t ldx, void *out, ptrdiff_t ldo,
                              int rows, int pb, int pe, int raw) {
    uint8_t *q = malloc((size_t)p->kquads * 4);
    if (!q) return -1;
    const int8_t *bytes = (const int8_t *)p->w;
    for (int r = 0; r < rows; r++) {
        float sa;
        int32_t za;
        memset(q, 0, (size_t)p->kquads * 4);
        quantize_row_scalar(x + (ptrdiff_t)r * ldx, p->k, p->unsmooth, q, &sa, &za);
        for (int panel = pb; panel < pe; panel++) {
            for (int j = 0; j < NR; j++) {
                const int col = panel * NR + j;
                if (col >= p->n) break;
                int32_t acc = -za * p->colsum[col];
                for (int kk = 0; kk < p->k; kk++)
                    acc += (int32_t)q[kk] * bytes[(((size_t)panel * p->kquads + kk / 4) * NR + j) * 4 + kk % 4];
                if (raw) {
                    ((int32_t *)out)[(ptrdiff_t)r * ldo + col] = acc;
                    continue;
                }
                float v = fmaf((float)acc, sa * p->scale[col], p->bias[col]);
                if (p->activation == SIFT_ACTIVATION_GELU) v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
                ((float *)out)[(ptrdiff_t)r * ldo + col] = v;
            }
        }
    }
    free(q);
    return 0;
}

/* ---------------------------------------------------------------- AVX-512 VNNI kernel */

#if defined(__x86_64__)

/* Quantizes X rows [0, rows) into `a` (row r at a + r·stride bytes; bytes past k are don't-care: W is zero there)
 * with the per-row scale and zero point; bit-identical to quantize_row_scalar. */
VNNI_TARGET static void quantize_rows_vnni(const float *x, ptrdiff_t ldx, int rows, int k, const float *unsmooth,
                                          uint8_t *a, int stride, float *scale, int32_t *zero) {
    /* Masked-off lanes (past k) read 0, which lies inside [lo, hi] anyway. */
#define LOAD_INPUT(c, m) (unsmooth ? _mm512_mul_ps(_mm512_maskz_loadu_ps(m, src + (c)), _mm512_maskz_loadu_ps(m, unsmooth + (c))) \
                                   : _mm512_maskz_loadu_ps(m, src + (c)))
    for (int r = 0; r < rows; r++) {
        const float *src = x + (ptrdiff_t)r * ldx;
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        for (int c = 0; c < k; c += 16) {
            const __mmask16 m = k - c >= 16 ? 0xffff : (__mmask16)((1u << (k - c)) - 1);
            const __m512 v = LOAD_INPUT(c, m);
            lo = _mm512_min_ps(lo, v);
            hi = _mm512_max_ps(hi, v);
        }
        float inverse;
        row_parameters(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), &scale[r], &inverse, &zero[r]);
        const __m512 inv = _mm512_set1_ps(inverse);
        const __m512i z = _mm512_set1_epi32(zero[r]), top = _mm512_set1_epi32(ACTIVATION_TOP);
        uint8_t *dst = a + (size_t)r * stride;
        for (int c = 0; c < k; c += 16) {
            const __mmask16 m = k - c >= 16 ? 0xffff : (__mmask16)((1u << (k - c)) - 1);
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(LOAD_INPUT(c, m), inv)); /* nearest even */
            v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, z), _mm512_setzero_si512()), top);
            _mm_storeu_si128((__m128i *)(dst + c), _mm512_cvtepi32_epi8(v));
        }
    }
#undef LOAD_INPUT
}

/* One mr×32 tile over `steps` groups of 4 k: acc = −z·colsum + Σ q·ŵ with vpdpbusd (u8 row bytes broadcast as one
 * int32, times the panel's s8 quads), then either the raw int32 or act(acc·s_a·s_w + bias) is stored. */
INLINE VNNI_TARGET void tile_int8(const int mr, const uint32_t *a, ptrdiff_t lda, const int32_t *b, int steps,
                                  const float *sa, const int32_t *za, const sift_int8_linear *p, int panel,
                                  void *out, ptrdiff_t ldo, __mmask16 m0, __mmask16 m1, int raw, int act) {
    __m512i c0[MR], c1[MR];
    const int32_t *colsum = p->colsum + (size_t)panel * NR;
    const __m512i cs0 = _mm512_load_si512((const void *)colsum), cs1 = _mm512_load_si512((const void *)(colsum + 16));
    for (int r = 0; r < mr; r++) {
        const __m512i nz = _mm512_set1_epi32(-za[r]);
        c0[r] = _mm512_mullo_epi32(nz, cs0);
        c1[r] = _mm512_mullo_epi32(nz, cs1);
        /* Y lines of the next tile down (the driver's next call): their write misses overlap this tile's math. */
        __builtin_prefetch((const float *)out + (r + MR) * ldo, 1, 3);
        __builtin_prefetch((const float *)out + (r + MR) * ldo + 16, 1, 3);
    }
    for (int s = 0; s < steps; s++) {
        const __m512i b0 = _mm512_load_si512((const void *)(b + (size_t)s * NR));
        const __m512i b1 = _mm512_load_si512((const void *)(b + (size_t)s * NR + 16));
        for (int r = 0; r < mr; r++) {
            const __m512i av = _mm512_set1_epi32((int)a[r * lda + s]);
            c0[r] = _mm512_dpbusd_epi32(c0[r], av, b0);
            c1[r] = _mm512_dpbusd_epi32(c1[r], av, b1);
        }
    }
    if (raw) {
        for (int r = 0; r < mr; r++) {
            _mm512_mask_storeu_epi32((int32_t *)out + r * ldo, m0, c0[r]);
            _mm512_mask_storeu_epi32((int32_t *)out + r * ldo + 16, m1, c1[r]);
        }
        return;
    }
    const float *scale = p->scale + (size_t)panel * NR, *bias = p->bias + (size_t)panel * NR;
    const __m512 sw0 = _mm512_load_ps(scale), sw1 = _mm512_load_ps(scale + 16);
    const __m512 bias0 = _mm512_load_ps(bias), bias1 = _mm512_load_ps(bias + 16);
    UNROLL_FULL for (int r = 0; r < mr; r++) {
        const __m512 s = _mm512_set1_ps(sa[r]);
        __m512 y0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c0[r]), _mm512_mul_ps(s, sw0), bias0);
        __m512 y1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c1[r]), _mm512_mul_ps(s, sw1), bias1);
        /* gelu_fast: the next (int8) layer quantizes these outputs to 8 bits per row anyway. */
        if (act == SIFT_ACTIVATION_GELU) { y0 = gelu_fast(y0); y1 = gelu_fast(y1); }
        _mm512_mask_storeu_ps((float *)out + r * ldo, m0, y0);
        _mm512_mask_storeu_ps((float *)out + r * ldo + 16, m1, y1);
    }
}

VNNI_TARGET static void tile_int8_any(int mr, const uint32_t *a, ptrdiff_t lda, const int32_t *b, int steps,
                                      const float *sa, const int32_t *za, const sift_int8_linear *p, int panel,
                                      void *out, ptrdiff_t ldo, __mmask16 m0, __mmask16 m1, int raw) {
/* raw and the activation are compile-time constants in each instance (as for the bf16 tiles: with GELU behind a
 * run-time branch the compiler kept every tile's accumulators on the stack around the k loop). */
#define TILE_INT8_RAW(n) tile_int8(n, a, lda, b, steps, sa, za, p, panel, out, ldo, m0, m1, 1, SIFT_ACTIVATION_NONE)
#define TILE_INT8_GELU(n) tile_int8(n, a, lda, b, steps, sa, za, p, panel, out, ldo, m0, m1, 0, SIFT_ACTIVATION_GELU)
#define TILE_INT8_NONE(n) tile_int8(n, a, lda, b, steps, sa, za, p, panel, out, ldo, m0, m1, 0, SIFT_ACTIVATION_NONE)
    if (raw) { TILE_ROW_CASES(TILE_INT8_RAW) }
    else if (p->activation == SIFT_ACTIVATION_GELU) { TILE_ROW_CASES(TILE_INT8_GELU) }
    else { TILE_ROW_CASES(TILE_INT8_NONE) }
#undef TILE_INT8_RAW
#undef TILE_INT8_GELU
#undef TILE_INT8_NONE
}

/* The quantized rows (64-byte aligned, `bytes`) and their scales and zero points (`rows` each) of one call; 0, or -1
 * with nothing allocated. */
static int alloc_row_buffers(size_t bytes, int rows, uint8_t **a, float **scale, int32_t **zero) {
    *a = sift_alloc64(bytes);
    *scale = malloc(sizeof(float) * (size_t)rows);
    *zero = malloc(sizeof(int32_t) * (size_t)rows);
    if (*a && *scale && *zero) return 0;
    free(*a);
    free(*scale);
    free(*zero);
    return -1;
}

/* Row blocks → quantize the block's rows once → for each W panel, every 14-row tile of the block. */
static int linear_int8_vnni(const sift_int8_linear *p, const float *x, ptrdiff_t ldx, void *out, ptrdiff_t ldo,
                            int rows, int pb, int pe, int raw) {
    const int stride = (p->kquads * 4 + 63) / 64 * 64; /* bytes per quantized row: whole cache lines */
    int block = sift_block_tiles(stride) * MR;
    if (block > rows) block = rows; /* a small call (one thread's chunk) allocates only what it quantizes */
    uint8_t *abuf;
    float *sa;
    int32_t *za;
    if (alloc_row_buffers((size_t)stride * block, block, &abuf, &sa, &za) != 0) return -1;
    const size_t elem = raw ? sizeof(int32_t) : sizeof(float);
    for (int r0 = 0; r0 < rows; r0 += block) {
        const int block_rows = rows - r0 < block ? rows - r0 : block;
        quantize_rows_vnni(x + (ptrdiff_t)r0 * ldx, ldx, block_rows, p->k, p->unsmooth, abuf, stride, sa, za);
        for (int panel = pb; panel < pe; panel++) {
            __mmask16 m0, m1;
            sift_panel_masks(p->n - panel * NR, &m0, &m1);
            const int32_t *b = p->w + (size_t)panel * p->kquads * NR;
            for (int t = 0; t < block_rows; t += MR) {
                const int mr = block_rows - t < MR ? block_rows - t : MR;
                char *ot = (char *)out + ((ptrdiff_t)(r0 + t) * ldo + panel * NR) * elem;
                tile_int8_any(mr, (const uint32_t *)(abuf + (size_t)t * stride), stride / 4, b, p->kquads, sa + t, za + t,
                              p, panel, ot, ldo, m0, m1, raw);
            }
        }
    }
    free(abuf);
    free(sa);
    free(za);
    return 0;
}
#endif

/* ---------------------------------------------------------------- AVX2 (vpmaddwd) and AVX-VNNI kernels */

#if defined(__x86_64__)

/* Register tiles: rows × I8_VECS ymm of 8 int32 features, i.e. a 16-feature half of the 32-wide panel (one cache
 * line of each W pair / quad group, so the half panel's W stays in L1 across the tiles of a row block while K ≲ 1000
 * for pairs, 2000 for quads).
 * AVX2: per k pair, 2 W loads, a broadcast per row, and per accumulator a vpmaddwd and a vpaddd: 6 rows = 12
 * accumulators + 2 W + the broadcast, 15 of 16 ymm. Zen 3 runs vpmaddwd on 2 of its 4 vector pipes and vpaddd on
 * any, and issues this 1:1 mix at ~3.3 per cycle (12 + 12 in ~7.3 cycles, not 6), so the exact kernel takes ~1.2×
 * the cycles per MAC of vpmaddubsw + vpmaddwd + vpaddd (8 of 12 on the multiply pipes), which saturated. Measured:
 * 5 rows −7 %, 4 rows −10 %, 3 rows × the whole panel spills; forcing each row's two vpmaddwd ahead of its vpaddd, no
 * gain. The k loop is unrolled twice: rolled (171 bytes), its speed depended on where it started in a 64-byte line,
 * 141–155 GOP/s at T=200 for shifts of 16 bytes in the same binary (at -O2 and -O3 alike); unrolled, 152 at every one.
 * AVX-VNNI: vpdpbusd accumulates in place, and its latency (5 cycles on Golden Cove, two per cycle) needs ≥ 10
 * chains in flight: 6 rows (12 accumulators + 2 W + broadcast). */
enum { I8_VECS = 2, I8_WIDTH = 8 * I8_VECS, AVX2_INT8_ROWS = 6, AVXVNNI_ROWS = 6 };
_Static_assert(NR % I8_WIDTH == 0, "a panel splits into whole tile parts");

/* quantize_rows_vnni in 8 lanes: bit-identical to quantize_row_scalar (exact min / max, the same row_parameters and
 * multiplies, vcvtps2dq rounding to nearest even like lrintf, the same clamp). Values [0, k rounded up to 8) are
 * written, those past k as 0, either
 *   as uint8, row r at a + r·stride bytes (AVX-VNNI: one int32 broadcast is a k quad), or (pairs)
 *   as uint16, in tiles of AVX2_INT8_ROWS rows: pair m (values 2m, 2m+1) of row r at
 *   a + (r / AVX2_INT8_ROWS)·AVX2_INT8_ROWS·stride + (m·AVX2_INT8_ROWS + r % AVX2_INT8_ROWS)·4 bytes, so that the AVX2
 *   tile's broadcasts for one k pair are consecutive (one pointer for all rows: fewer address µops in its loop).
 * Either stays within the row's (or tile's) `stride` bytes when stride ≥ 4·ceil(k/4) (uint8) or 2·(k rounded up to
 * 8) (pairs). */
AVX2_TARGET static void quantize_rows_avx2(const float *x, ptrdiff_t ldx, int rows, int k, const float *unsmooth,
                                           int pairs, uint8_t *a, int stride, float *scale, int32_t *zero) {
    const int body = k & ~7;
    const __m256i tail = avx2_lanes(k - body);
#define LOAD_INPUT(c) (unsmooth ? _mm256_mul_ps(_mm256_loadu_ps(src + (c)), _mm256_loadu_ps(unsmooth + (c))) \
                                : _mm256_loadu_ps(src + (c)))
    /* The last k % 8 inputs; masked-off lanes (past k) read 0, which lies inside [lo, hi] anyway. */
#define LOAD_TAIL()                                                                                                \
    (unsmooth ? _mm256_mul_ps(_mm256_maskload_ps(src + body, tail), _mm256_maskload_ps(unsmooth + body, tail))     \
              : _mm256_maskload_ps(src + body, tail))
    /* round(x·inverse) (vcvtps2dq: nearest even, as lrintf) + z, clamped to [0, 255] */
#define QUANTIZE(v)                                                                                                \
    _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v, inv)), z),              \
                                      _mm256_setzero_si256()),                                                     \
                     top)
    /* 8 values in [0, 255] to 8 bytes (the low byte of each int32 lane, gathered within each 128-bit half: vpshufb
     * does not cross halves, then the two halves' 4 bytes joined) or to 4 uint16 pairs (vpackusdw of the halves),
     * each pair stored at its place in the tile. */
    const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                               0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const ptrdiff_t pair_stride = 4 * AVX2_INT8_ROWS;
#define STORE8(c, q)                                                                                               \
    do {                                                                                                           \
        const __m256i q_ = (q);                                                                                    \
        if (pairs) {                                                                                               \
            const __m128i h_ = _mm_packus_epi32(_mm256_castsi256_si128(q_), _mm256_extracti128_si256(q_, 1));      \
            uint8_t *d_ = dst + (c) / 2 * pair_stride;                                                             \
            _mm_storeu_si32(d_, h_);                                                                               \
            _mm_storeu_si32(d_ + pair_stride, _mm_shuffle_epi32(h_, 1));                                           \
            _mm_storeu_si32(d_ + 2 * pair_stride, _mm_shuffle_epi32(h_, 2));                                       \
            _mm_storeu_si32(d_ + 3 * pair_stride, _mm_shuffle_epi32(h_, 3));                                       \
        } else {                                                                                                   \
            const __m256i t_ = _mm256_shuffle_epi8(q_, low_bytes);                                                 \
            _mm_storel_epi64((__m128i *)(dst + (c)),                                                               \
                             _mm_unpacklo_epi32(_mm256_castsi256_si128(t_), _mm256_extracti128_si256(t_, 1)));     \
        }                                                                                                          \
    } while (0)
    for (int r = 0; r < rows; r++) {
        const float *src = x + (ptrdiff_t)r * ldx;
        __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
        /* min(v, lo) keeps lo where v is NaN, as fminf does. */
        for (int c = 0; c < body; c += 8) {
            const __m256 v = LOAD_INPUT(c);
            lo = _mm256_min_ps(v, lo);
            hi = _mm256_max_ps(v, hi);
        }
        if (body < k) {
            const __m256 v = LOAD_TAIL();
            lo = _mm256_min_ps(v, lo);
            hi = _mm256_max_ps(v, hi);
        }
        float inverse;
        row_parameters(avx2_hmin(lo), avx2_hmax(hi), &scale[r], &inverse, &zero[r]);
        const __m256 inv = _mm256_set1_ps(inverse);
        const __m256i z = _mm256_set1_epi32(zero[r]), top = _mm256_set1_epi32(ACTIVATION_TOP);
        uint8_t *dst = pairs ? a + (size_t)(r / AVX2_INT8_ROWS) * AVX2_INT8_ROWS * stride + r % AVX2_INT8_ROWS * 4
                             : a + (size_t)r * stride;
        int c = 0;
        if (!pairs) {
            for (; c + 32 <= k; c += 32) {
                /* 32 values: vpackssdw / vpackuswb interleave the 128-bit halves, vpermd restores the order. */
                const __m256i q0 = QUANTIZE(LOAD_INPUT(c)), q1 = QUANTIZE(LOAD_INPUT(c + 8));
                const __m256i q2 = QUANTIZE(LOAD_INPUT(c + 16)), q3 = QUANTIZE(LOAD_INPUT(c + 24));
                const __m256i packed = _mm256_packus_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
                _mm256_storeu_si256((__m256i *)(dst + c),
                                    _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
            }
        }
        for (; c < body; c += 8) STORE8(c, QUANTIZE(LOAD_INPUT(c)));
        /* Lanes past k would hold z: zeroed, so an odd k's last pair is padded deterministically (W is zero there,
         * the value does not matter otherwise). */
        if (body < k) STORE8(body, _mm256_and_si256(QUANTIZE(LOAD_TAIL()), tail));
    }
#undef LOAD_INPUT
#undef LOAD_TAIL
#undef QUANTIZE
#undef STORE8
}

/* Accumulators start at −z·colsum, the zero-point correction. */
INLINE AVX2_TARGET void init_int8_avx2(const int mr, __m256i c[][I8_VECS], const int32_t *za, const int32_t *colsum,
                                       const void *out, ptrdiff_t ldo, int tile_rows) {
    for (int r = 0; r < mr; r++) {
        const __m256i nz = _mm256_set1_epi32(-za[r]);
        for (int v = 0; v < I8_VECS; v++)
            c[r][v] = _mm256_mullo_epi32(nz, _mm256_load_si256((const __m256i *)(colsum + 8 * v)));
        /* Y lines of the next tile down (the driver's next call): their write misses overlap this tile's math
         * (+1–3 % on 6400-row layers, whose Y goes to DRAM). */
        __builtin_prefetch((const float *)out + (r + tile_rows) * ldo, 1, 3);
    }
}

/* Stores the raw int32 accumulators or act(fma(acc, s_a·s_w, bias)) for the tile's `valid` real features (lanes
 * past them masked; vectors wholly past them not touched at all). */
INLINE AVX2_TARGET void store_int8_avx2(const int mr, __m256i c[][I8_VECS], const float *sa, const float *scale,
                                        const float *bias, void *out, ptrdiff_t ldo, int valid, int raw, int act) {
    if (raw) {
        for (int r = 0; r < mr; r++) {
            int32_t *dst = (int32_t *)out + r * ldo;
            for (int v = 0; v < I8_VECS; v++) {
                if (valid >= I8_WIDTH) _mm256_storeu_si256((__m256i *)(dst + 8 * v), c[r][v]);
                else if (valid > 8 * v) _mm256_maskstore_epi32(dst + 8 * v, avx2_lanes(valid - 8 * v), c[r][v]);
            }
        }
        return;
    }
    __m256 sw[I8_VECS], b[I8_VECS];
    for (int v = 0; v < I8_VECS; v++) { sw[v] = _mm256_load_ps(scale + 8 * v); b[v] = _mm256_load_ps(bias + 8 * v); }
    UNROLL_FULL for (int r = 0; r < mr; r++) {
        const __m256 s = _mm256_set1_ps(sa[r]);
        float *dst = (float *)out + r * ldo;
        for (int v = 0; v < I8_VECS; v++) {
            __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c[r][v]), _mm256_mul_ps(s, sw[v]), b[v]);
            /* gelu_fast: the next (int8) layer quantizes these outputs to 8 bits per row anyway. */
            if (act == SIFT_ACTIVATION_GELU) y = gelu_fast_avx2(y);
            if (valid >= I8_WIDTH) _mm256_storeu_ps(dst + 8 * v, y);
            else if (valid > 8 * v) _mm256_maskstore_ps(dst + 8 * v, avx2_lanes(valid - 8 * v), y);
        }
    }
}

/* AVX2: one mr × I8_WIDTH tile over `steps` k pairs. Row r's pair s (two uint16 activations, a[s·AVX2_INT8_ROWS + r])
 * broadcast to every lane, times the half panel's int16 W pairs (pair s at b[s·NR]): vpmaddwd sums each lane's two
 * products into int32 exactly, vpaddd accumulates. Then the store. */
INLINE AVX2_TARGET void tile_int8_avx2(const int mr, const uint32_t *a, const int32_t *b, int steps, const float *sa,
                                       const int32_t *za, const sift_int8_linear *p, int col0, void *out,
                                       ptrdiff_t ldo, int valid, int raw, int act) {
    __m256i c[AVX2_INT8_ROWS][I8_VECS];
    init_int8_avx2(mr, c, za, p->colsum + col0, out, ldo, AVX2_INT8_ROWS);
#pragma clang loop unroll_count(2) /* placement-independent speed, see the register tiles above */
    for (int s = 0; s < steps; s++) {
        __m256i w[I8_VECS];
        for (int v = 0; v < I8_VECS; v++) w[v] = _mm256_load_si256((const __m256i *)(b + (size_t)s * NR + 8 * v));
        for (int r = 0; r < mr; r++) {
            const __m256i av = _mm256_set1_epi32((int)a[s * AVX2_INT8_ROWS + r]);
            for (int v = 0; v < I8_VECS; v++) c[r][v] = _mm256_add_epi32(c[r][v], _mm256_madd_epi16(av, w[v]));
        }
    }
    store_int8_avx2(mr, c, sa, p->scale + col0, p->bias + col0, out, ldo, valid, raw, act);
}

/* AVX-VNNI: the same over `steps` k quads, row r's 4 bytes at a[r·lda + s], times the s8 quads; vpdpbusd
 * accumulates in place. */
INLINE AVXVNNI_TARGET void tile_int8_avxvnni(const int mr, const uint32_t *a, ptrdiff_t lda, const int32_t *b,
                                             int steps, const float *sa, const int32_t *za, const sift_int8_linear *p,
                                             int col0, void *out, ptrdiff_t ldo, int valid, int raw, int act) {
    __m256i c[AVXVNNI_ROWS][I8_VECS];
    init_int8_avx2(mr, c, za, p->colsum + col0, out, ldo, AVXVNNI_ROWS);
    for (int s = 0; s < steps; s++) {
        __m256i w[I8_VECS];
        for (int v = 0; v < I8_VECS; v++) w[v] = _mm256_load_si256((const __m256i *)(b + (size_t)s * NR + 8 * v));
        for (int r = 0; r < mr; r++) {
            const __m256i av = _mm256_set1_epi32((int)a[r * lda + s]);
            for (int v = 0; v < I8_VECS; v++) c[r][v] = _mm256_dpbusd_avx_epi32(c[r][v], av, w[v]);
        }
    }
    store_int8_avx2(mr, c, sa, p->scale + col0, p->bias + col0, out, ldo, valid, raw, act);
}

_Static_assert(AVX2_INT8_ROWS == 6 && AVXVNNI_ROWS == 6, "the row-count switch lists 6 … 1");

/* Instances with mr, raw and the activation compile-time constants (see tile_int8_any). */
#define RAW(n) TILE(n, 1, SIFT_ACTIVATION_NONE)
#define GELU(n) TILE(n, 0, SIFT_ACTIVATION_GELU)
#define NONE(n) TILE(n, 0, SIFT_ACTIVATION_NONE)
#define TILE_ANY                                                                                                  \
    if (raw) { switch (mr) { ROW_CASES_6_TO_1(RAW) } }                                                                 \
    else if (p->activation == SIFT_ACTIVATION_GELU) { switch (mr) { ROW_CASES_6_TO_1(GELU) } }                         \
    else { switch (mr) { ROW_CASES_6_TO_1(NONE) } }
AVX2_TARGET static void tile_int8_avx2_any(int mr, const uint32_t *a, const int32_t *b, int steps, const float *sa,
                                           const int32_t *za, const sift_int8_linear *p, int col0, void *out,
                                           ptrdiff_t ldo, int valid, int raw) {
#define TILE(n, raw_, act_) tile_int8_avx2(n, a, b, steps, sa, za, p, col0, out, ldo, valid, raw_, act_)
    TILE_ANY
#undef TILE
}
AVXVNNI_TARGET static void tile_int8_avxvnni_any(int mr, const uint32_t *a, ptrdiff_t lda, const int32_t *b,
                                                 int steps, const float *sa, const int32_t *za,
                                                 const sift_int8_linear *p, int col0, void *out, ptrdiff_t ldo,
                                                 int valid, int raw) {
#define TILE(n, raw_, act_) tile_int8_avxvnni(n, a, lda, b, steps, sa, za, p, col0, out, ldo, valid, raw_, act_)
    TILE_ANY
#undef TILE
}
#undef RAW
#undef GELU
#undef NONE
#undef TILE_ANY

/* Row blocks → quantize the block's rows once → for each W half panel → every tile of the block. vnni: vpdpbusd
 * (AVX-VNNI) on uint8 rows and the quad layout, else vpmaddwd on the tiled uint16 pairs and the pair layout (w16). */
static int linear_int8_avx2(const sift_int8_linear *p, const float *x, ptrdiff_t ldx, void *out, ptrdiff_t ldo,
                            int rows, int pb, int pe, int raw, int vnni) {
    const int tile_rows = vnni ? AVXVNNI_ROWS : AVX2_INT8_ROWS;
    const int steps = vnni ? p->kquads : p->kpairs; /* k groups of one int32: 4 uint8 or 2 uint16 */
    const int32_t *w = vnni ? p->w : p->w16;
    const int stride = (steps * 4 + 63) / 64 * 64; /* bytes per quantized row: whole cache lines */
    int block = sift_block_tiles(stride) * MR / tile_rows * tile_rows;
    if (block > rows) block = rows; /* a small call (one thread's chunk) allocates only what it quantizes */
    /* whole tiles: the pair layout interleaves the rows of each tile */
    uint8_t *abuf;
    float *sa;
    int32_t *za;
    if (alloc_row_buffers((size_t)stride * ((block + tile_rows - 1) / tile_rows * tile_rows), block, &abuf, &sa, &za) != 0)
        return -1;
    const size_t elem = raw ? sizeof(int32_t) : sizeof(float);
    for (int r0 = 0; r0 < rows; r0 += block) {
        const int block_rows = rows - r0 < block ? rows - r0 : block;
        quantize_rows_avx2(x + (ptrdiff_t)r0 * ldx, ldx, block_rows, p->k, p->unsmooth, !vnni, abuf, stride, sa, za);
        for (int panel = pb; panel < pe; panel++) {
            for (int col0 = panel * NR; col0 < (panel + 1) * NR && col0 < p->n; col0 += I8_WIDTH) {
                const int valid = p->n - col0;
                const int32_t *b = w + (size_t)panel * steps * NR + (col0 - panel * NR);
                for (int t = 0; t < block_rows; t += tile_rows) {
                    const int mr = block_rows - t < tile_rows ? block_rows - t : tile_rows;
                    char *ot = (char *)out + ((ptrdiff_t)(r0 + t) * ldo + col0) * elem;
                    /* row t's quads, or the pairs of the tile starting at row t */
                    const uint32_t *at = (const uint32_t *)(abuf + (size_t)t * stride);
                    if (vnni)
                        tile_int8_avxvnni_any(mr, at, stride / 4, b, steps, sa + t, za + t, p, col0, ot, ldo, valid, raw);
                    else
                        tile_int8_avx2_any(mr, at, b, steps, sa + t, za + t, p, col0, ot, ldo, valid, raw);
                }
            }
        }
    }
    free(abuf);
    free(sa);
    free(za);
    return 0;
}
#endif

/* ---------------------------------------------------------------- entry points */

static int run(const sift_int8_linear *p, const float *x, ptrdiff_t ldx, void *out, ptrdiff_t ldo, int rows,
               int panel_begin, int panel_end, int kernel, int raw) {
    if (!p || !x || !out || rows < 0 || ldx < p->k || ldo < p->n || panel_begin < 0 || panel_end > p->panels ||
        panel_begin > panel_end || !sift_kernel_supported(kernel))
        return -1;
    /* The AVX2 kernel reads the int16 pair copy, which only its own packing makes. */
    if (kernel == SIFT_KERNEL_AVX2_INT8 && !p->w16) return -1;
    if (rows == 0 || panel_begin == panel_end) return 0;
    switch (kernel) {
    case SIFT_KERNEL_SCALAR: return linear_int8_scalar(p, x, ldx, out, ldo, rows, panel_begin, panel_end, raw);
#if defined(__x86_64__)
    case SIFT_KERNEL_AVX512_VNNI: return linear_int8_vnni(p, x, ldx, out, ldo, rows, panel_begin, panel_end, raw);
    case SIFT_KERNEL_AVX2_INT8: return linear_int8_avx2(p, x, ldx, out, ldo, rows, panel_begin, panel_end, raw, 0);
    case SIFT_KERNEL_AVX_VNNI: return linear_int8_avx2(p, x, ldx, out, ldo, rows, panel_begin, panel_end, raw, 1);
#endif
    default: return -1;
    }
}

int sift_linear_int8(const sift_int8_linear *p, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy, int rows,
                     int panel_begin, int panel_end, int kernel) {
    return run(p, x, ldx, y, ldy, rows, panel_begin, panel_end, kernel, 0);
}

int sift_linear_int8_accumulators(const sift_int8_linear *p, const float *x, ptrdiff_t ldx, int32_t *acc,
                                  ptrdiff_t ldacc, int rows, int panel_begin, int panel_end, int kernel) {
    return run(p, x, ldx, acc, ldacc, rows, panel_begin, panel_end, kernel, 1);
}
