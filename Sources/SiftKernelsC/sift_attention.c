#include "sift_attention.h"
#include "sift_kernels.h"
#include "sift_simd.h"

#include <stdint.h>
#include <string.h>

/*
 * One (sequence, head) item, L = length, d = head_size:
 *   1. pack scale·Kᵀ [d × Lp] and V [L × Dp] contiguously into scratch. In the QKV matrix consecutive rows are
 *      3·hidden floats apart (4608 bytes for MiniLM), which maps every row to the same few L1 sets; packed, a
 *      head's keys and values (2 × 64 KiB at L = 512, d = 32) stream from L1/L2 without conflict misses.
 *   2. per block of up to ROWS query rows: scores [ROWS × Lp] (each loaded key vector is reused by every row of
 *      the block), softmax in place per row, then P·V with the 1/Σ normalisation applied to the output
 *      accumulators instead of to P.
 * Lp and Dp are L and d rounded up to 32 (two zmm): the AVX-512 tiles are two vectors wide, pads are zero (the scores
 * skip a last half-chunk that holds only pads).
 * The bf16 kernel packs Kᵀ and V as (even, odd) bf16 pairs along the reduction (head dim for q·kᵀ, key position for
 * P·V) so vdpbf16ps does two multiply-adds per lane: about a quarter less attention time than fp32 on Zen 4, with the
 * MiniLM bf16 embedding cosine vs fp32 unchanged at 0.99997 (the bf16 linear layers' rounding dominates).
 * The AVX2 kernel (16 ymm) has blocks of AVX2_ROWS = 6 rows and tiles two ymm (16 floats) wide, and packs Kᵀ in
 * panels of 16 keys and V in panels of 16 columns, each panel contiguous, so a tile streams its operand sequentially
 * (the panels fit in the same d·Lp and L·Dp floats).
 * The portable kernel packs Kᵀ in panels of SCALAR_WIDTH = 32 keys and V as [L × Dp], and computes one query row at
 * a time in 32-float local arrays, which compilers keep in vector registers (8 SSE or NEON accumulators).
 */

enum { ROWS = 8 };  /* query rows per block: 2·ROWS accumulators + 2 B vectors + a broadcast fit the 32 zmm */

static int round32(int n) { return (n + 31) / 32 * 32; }

size_t sift_attention_scratch_floats(int max_length, int head_size) {
    if (max_length < 1 || head_size < 1) return 0;
    const size_t lp = (size_t)round32(max_length), dp = (size_t)round32(head_size);
    /* Kᵀ and V (fp32, or bf16 pairs in about half of each) + scores block + bf16 copy of a block's queries + alignment. */
    return (size_t)head_size * lp + (size_t)max_length * dp + ROWS * lp + ROWS * dp + 16;
}

/* ---------------------------------------------------------------- portable C */

/* e^x for x ≤ 0, Cephes expf: n = round(x·log2 e), r = x − n·ln 2 (ln 2 split for an exact product),
 * e^r by a degree-5 minimax polynomial; ~1 ulp. Same formula as Kernels.expApproximation in Swift, including its
 * magic-number rounding: branch-free and without a libm call (roundf is one on baseline x86-64), so the softmax
 * loop vectorises. The vector kernels use sift_simd.h's exp_nonpositive (degree-6 Taylor, ~2 ulp), the bf16 one
 * exp2_fast (~8e-5). */
static inline float exp_nonpositive_scalar(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float magic = 12582912.0f; /* 1.5·2²³: adding it rounds to an integer held in the low mantissa bits */
    const float shifted = x * 1.44269504088896341f + magic;
    const float n = shifted - magic;
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float er = p * r * r + r + 1.0f;
    uint32_t shifted_bits, magic_bits;
    memcpy(&shifted_bits, &shifted, 4);
    memcpy(&magic_bits, &magic, 4);
    const uint32_t bits = (shifted_bits - magic_bits + 127) << 23; /* 2ⁿ: (n + 127) << 23 */
    float two_n;
    memcpy(&two_n, &bits, 4);
    return er * two_n;
}

/* Keys per scores chunk and columns per P·V chunk: 32-float accumulator arrays are 8 SSE / NEON registers, enough
 * independent sums to cover the add (or FMA) latency. */
enum { SCALAR_WIDTH = 32 };

/* kt[(j/W)·W·d + c·W + j%W] = scale·k[j][c] for j < Lp, 0 past L (W = SCALAR_WIDTH): Kᵀ in panels of W keys,
 * each [d × W] contiguous. */
static void pack_keys_scalar(const float *k, ptrdiff_t ld, int length, int d, float scale, float *kt) {
    const int lp = round32(length);
    for (int j = 0; j < lp; j++) {
        float *column = kt + (size_t)(j / SCALAR_WIDTH) * SCALAR_WIDTH * d + j % SCALAR_WIDTH;
        if (j < length) {
            const float *kj = k + (ptrdiff_t)j * ld;
            for (int c = 0; c < d; c++) column[(size_t)c * SCALAR_WIDTH] = scale * kj[c];
        } else {
            for (int c = 0; c < d; c++) column[(size_t)c * SCALAR_WIDTH] = 0.0f;
        }
    }
}

/* vp[j·dp + c] = v[j][c], 0 for d ≤ c < dp. */
static void pack_values_scalar(const float *v, ptrdiff_t ld, int length, int d, int dp, float *vp) {
    for (int j = 0; j < length; j++) {
        memcpy(vp + (size_t)j * dp, v + (ptrdiff_t)j * ld, sizeof(float) * (size_t)d);
        memset(vp + (size_t)j * dp + d, 0, sizeof(float) * (size_t)(dp - d));
    }
}

/* One query row at a time (the first `queries` rows): scores into s [Lp], softmax, P·V. Each inner loop runs over
 * W = SCALAR_WIDTH independent lanes (the maximum and Σ kept per lane, combined in a fixed order at the end), so
 * compilers vectorise it without reassociating anything, and a row's arithmetic depends only on L and d. */
static void attention_scalar(const float *q, const float *k, const float *v, ptrdiff_t ld, float *out, ptrdiff_t ldo,
                             int length, int queries, int d, float scale, float *scratch) {
    const int lp = round32(length), dp = round32(d);
    float *kt = scratch, *vp = kt + (size_t)d * lp, *s = vp + (size_t)length * dp;
    pack_keys_scalar(k, ld, length, d, scale, kt);
    pack_values_scalar(v, ld, length, d, dp, vp);
    for (int i = 0; i < queries; i++) {
        const float *qi = q + (ptrdiff_t)i * ld;
        float lane_max[SCALAR_WIDTH];
        for (int t = 0; t < SCALAR_WIDTH; t++) lane_max[t] = -__builtin_inff();
        for (int j = 0; j < length; j += SCALAR_WIDTH) {
            const float *panel = kt + (size_t)j * d;
            float acc[SCALAR_WIDTH] = {0};
            for (int c = 0; c < d; c++) {
                const float a = qi[c];
                for (int t = 0; t < SCALAR_WIDTH; t++) acc[t] += a * panel[c * SCALAR_WIDTH + t];
            }
            const int keys = length - j; /* the rest are pads */
            for (int t = 0; t < SCALAR_WIDTH; t++) {
                s[j + t] = acc[t];
                const float key = t < keys ? acc[t] : -__builtin_inff();
                lane_max[t] = key > lane_max[t] ? key : lane_max[t];
            }
        }
        float max = lane_max[0];
        for (int t = 1; t < SCALAR_WIDTH; t++) max = lane_max[t] > max ? lane_max[t] : max;
        float lane_sum[SCALAR_WIDTH] = {0};
        for (int j = 0; j < length; j += SCALAR_WIDTH) {
            const int keys = length - j;
            for (int t = 0; t < SCALAR_WIDTH; t++) {
                s[j + t] = exp_nonpositive_scalar(s[j + t] - max); /* pads too (finite; P·V reads only L) */
                lane_sum[t] += t < keys ? s[j + t] : 0.0f;
            }
        }
        float sum = 0.0f;
        for (int t = 0; t < SCALAR_WIDTH; t++) sum += lane_sum[t];
        const float inv = 1.0f / sum;
        float *oi = out + (ptrdiff_t)i * ldo;
        for (int c = 0; c < d; c += SCALAR_WIDTH) {
            float acc[SCALAR_WIDTH] = {0};
            for (int j = 0; j < length; j++) {
                const float a = s[j];
                const float *vj = vp + (size_t)j * dp + c;
                for (int t = 0; t < SCALAR_WIDTH; t++) acc[t] += a * vj[t];
            }
            const int columns = d - c < SCALAR_WIDTH ? d - c : SCALAR_WIDTH;
            for (int t = 0; t < columns; t++) oi[c + t] = acc[t] * inv;
        }
    }
}

/* ---------------------------------------------------------------- AVX-512 */

#if defined(__x86_64__)
static __mmask16 lanes_mask(int valid) {
    return valid >= 16 ? (__mmask16)0xffff : valid <= 0 ? (__mmask16)0 : (__mmask16)((1u << valid) - 1);
}

/* The QKV rows were written by the preceding GEMM and are mostly out of L2 by now; one row per (item, row) is too
 * little for the hardware prefetcher to run ahead across the 3·hidden stride, so the packers ask for the row
 * PREFETCH_ROWS ahead (prefetches past the matrix end are harmless hints). */
enum { PREFETCH_ROWS = 24 };

INLINE void prefetch_row(const float *row, int d) {
    for (int c = 0; c < d; c += 16) __builtin_prefetch(row + c);
    __builtin_prefetch(row + d - 1);
}

/* The next block's `rows` query rows (read) and output rows (written) while this block computes. */
INLINE void prefetch_next_block(const float *q, ptrdiff_t ld, float *out, ptrdiff_t ldo, int d, int rows) {
    for (int r = 0; r < rows; r++) {
        prefetch_row(q + r * ld, d);
        for (int c = 0; c < d; c += 16) __builtin_prefetch(out + r * ldo + c, 1);
        __builtin_prefetch(out + r * ldo + d - 1, 1);
    }
}

/* kt[c·lp + j] = scale·k[j][c] for j < L, 0 for L ≤ j < lp. Row by row of K: contiguous reads, and each kt row
 * is written sequentially per column, which the store buffer absorbs. */
F32_TARGET static void pack_keys_f32(const float *k, ptrdiff_t ld, int length, int d, int lp, float scale, float *kt) {
    for (int c = 0; c < d; c++) memset(kt + (size_t)c * lp + length, 0, sizeof(float) * (size_t)(lp - length));
    for (int j = 0; j < length; j++) {
        const float *kj = k + (ptrdiff_t)j * ld;
        prefetch_row(kj + PREFETCH_ROWS * ld, d);
        /* Plain stores: clang otherwise vectorises this into scatters with 64-bit index multiplies (no faster). */
#pragma clang loop vectorize(disable)
        for (int c = 0; c < d; c++) kt[(size_t)c * lp + j] = kj[c] * scale;
    }
}

/* kt[c2·lp + j] = bf16 pair (scale·k[j][2c2], scale·k[j][2c2+1]) (odd d: high half 0), round to nearest even. */
BF16_TARGET static void pack_keys_bf16(const float *k, ptrdiff_t ld, int length, int d, int lp, float scale,
                                       uint32_t *kt) {
    const int pairs = (d + 1) / 2;
    float tmp[16];
    for (int c2 = 0; c2 < pairs; c2++) memset(kt + (size_t)c2 * lp + length, 0, sizeof(uint32_t) * (size_t)(lp - length));
    for (int j = 0; j < length; j++) {
        const float *kj = k + (ptrdiff_t)j * ld;
        prefetch_row(kj + PREFETCH_ROWS * ld, d);
        for (int c = 0; c < 2 * pairs; c += 32) {
            const __m512 lo = _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes_mask(d - c), kj + c), _mm512_set1_ps(scale));
            const __m512 hi = _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes_mask(d - c - 16), kj + c + 16), _mm512_set1_ps(scale));
            _mm512_storeu_si512((void *)tmp, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
            const uint32_t *t = (const uint32_t *)tmp;
            for (int p = 0; p < 16 && c / 2 + p < pairs; p++) kt[(size_t)(c / 2 + p) * lp + j] = t[p];
        }
    }
}

/* vp[j·dp + c] = v[j][c], zero for d ≤ c < dp. */
F32_TARGET static void pack_values(const float *v, ptrdiff_t ld, int length, int d, int dp, float *vp) {
    for (int j = 0; j < length; j++) {
        const float *vj = v + (ptrdiff_t)j * ld;
        prefetch_row(vj + PREFETCH_ROWS * ld, d);
        for (int c = 0; c < dp; c += 16)
            _mm512_store_ps(vp + (size_t)j * dp + c, _mm512_maskz_loadu_ps(lanes_mask(d - c), vj + c));
    }
}

/* Horizontal sums (or maxima) of the ROWS vectors v[0..ROWS) at once → [ROWS] in one ymm: each vector's halves
 * added lane-wise, then three levels of pairwise shuffles across vectors. A block's eight reductions this way take
 * ~25 vector operations instead of eight serial shuffle-and-add chains. */
_Static_assert(ROWS == 8, "reduce_rows reduces eight rows");

INLINE F32_TARGET __m256 reduce_rows(const __m512 *v, int maximum) {
#define REDUCE_OP(a, b) (maximum ? _mm256_max_ps((a), (b)) : _mm256_add_ps((a), (b)))
    __m256 y[ROWS];
    for (int r = 0; r < ROWS; r++) y[r] = REDUCE_OP(_mm512_castps512_ps256(v[r]), _mm512_extractf32x8_ps(v[r], 1));
    __m256 h[ROWS / 2]; /* h[i] lanes: pairs of y[2i] then of y[2i+1], per 128-bit half */
    for (int i = 0; i < ROWS / 2; i++)
        h[i] = REDUCE_OP(_mm256_shuffle_ps(y[2 * i], y[2 * i + 1], 0x88), _mm256_shuffle_ps(y[2 * i], y[2 * i + 1], 0xdd));
    const __m256 t0 = REDUCE_OP(_mm256_shuffle_ps(h[0], h[1], 0x88), _mm256_shuffle_ps(h[0], h[1], 0xdd));
    const __m256 t1 = REDUCE_OP(_mm256_shuffle_ps(h[2], h[3], 0x88), _mm256_shuffle_ps(h[2], h[3], 0xdd));
    return REDUCE_OP(_mm256_permute2f128_ps(t0, t1, 0x20), _mm256_permute2f128_ps(t0, t1, 0x31));
#undef REDUCE_OP
}

/* inv[r] = 1/Σ of each row from its lane sums sums[r]; rows ≥ mr must hold a nonzero placeholder (their results are
 * unused), so one division serves the block. */
INLINE F32_TARGET void store_inverse_sums(const __m512 *sums, float *inv) {
    _mm256_storeu_ps(inv, _mm256_div_ps(_mm256_set1_ps(1.0f), reduce_rows(sums, 0)));
}

/* s[r·lp + j] = q_r · kt[·][j] for the block's mr rows and the lp columns (pads come out 0; a last half-chunk of pads
 * only is skipped, see scores_bf16), and each row's maximum over the first `length` scores in max[r], tracked while
 * storing. mr is a compile-time constant after inlining, so the 2·mr accumulators stay in registers across the
 * d-long reduction. */
INLINE F32_TARGET void scores_f32(const int mr, const float *q, ptrdiff_t ld, const float *kt, int lp, int length, int d,
                                  float *s, float *max) {
    __m512 m[ROWS];
    for (int r = 0; r < ROWS; r++) m[r] = _mm512_set1_ps(-__builtin_inff()); /* rows ≥ mr: reduced, never used */
    for (int j = 0; j < lp; j += 32) {
        if (length - j <= 16) {
            __m512 c0[ROWS];
            for (int r = 0; r < mr; r++) c0[r] = _mm512_setzero_ps();
            for (int c = 0; c < d; c++) {
                const __m512 b0 = _mm512_load_ps(kt + (size_t)c * lp + j);
                for (int r = 0; r < mr; r++) c0[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[r * ld + c]), b0, c0[r]);
            }
            const __mmask16 valid0 = lanes_mask(length - j);
            for (int r = 0; r < mr; r++) {
                _mm512_store_ps(s + (size_t)r * lp + j, c0[r]);
                m[r] = _mm512_mask_max_ps(m[r], valid0, m[r], c0[r]);
            }
            break;
        }
        __m512 c0[ROWS], c1[ROWS];
        for (int r = 0; r < mr; r++) { c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps(); }
        for (int c = 0; c < d; c++) {
            const __m512 b0 = _mm512_load_ps(kt + (size_t)c * lp + j), b1 = _mm512_load_ps(kt + (size_t)c * lp + j + 16);
            for (int r = 0; r < mr; r++) {
                const __m512 a = _mm512_set1_ps(q[r * ld + c]);
                c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
                c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
            }
        }
        const __mmask16 valid0 = lanes_mask(length - j), valid1 = lanes_mask(length - j - 16);
        for (int r = 0; r < mr; r++) {
            _mm512_store_ps(s + (size_t)r * lp + j, c0[r]);
            _mm512_store_ps(s + (size_t)r * lp + j + 16, c1[r]);
            m[r] = _mm512_mask_max_ps(m[r], valid0, m[r], c0[r]);
            m[r] = _mm512_mask_max_ps(m[r], valid1, m[r], c1[r]);
        }
    }
    _mm256_storeu_ps(max, reduce_rows(m, 1));
}

/* As scores_f32 with bf16 pairs: query row r's pairs at qb[r·qld, r·qld + pairs), kt [pairs × lp]. Also returns
 * each row's maximum over the first `length` scores in max[r] (tracked while storing, so the softmax needs no extra
 * pass). */
INLINE BF16_TARGET void scores_bf16(const int mr, const uint32_t *qb, ptrdiff_t qld, int pairs, const uint32_t *kt,
                                    int lp, int length, float *s, float *max) {
    __m512 m[ROWS];
    for (int r = 0; r < ROWS; r++) m[r] = _mm512_set1_ps(-__builtin_inff()); /* rows ≥ mr: reduced, never used */
    for (int j = 0; j < lp; j += 32) {
        if (length - j <= 16) {
            /* Last chunk with ≤ 16 keys: one vector per row (the softmax masks the other 16 lanes, P·V never reads
             * them), saving the padded half of the chunk — 1/12 of the scores at L = 172. */
            __m512 c0[ROWS];
            for (int r = 0; r < mr; r++) c0[r] = _mm512_setzero_ps();
            for (int c = 0; c < pairs; c++) {
                const __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(kt + (size_t)c * lp + j));
                for (int r = 0; r < mr; r++)
                    c0[r] = _mm512_dpbf16_ps(c0[r], (__m512bh)_mm512_set1_epi32((int)qb[r * qld + c]), b0);
            }
            const __mmask16 valid0 = lanes_mask(length - j);
            for (int r = 0; r < mr; r++) {
                _mm512_store_ps(s + (size_t)r * lp + j, c0[r]);
                m[r] = _mm512_mask_max_ps(m[r], valid0, m[r], c0[r]);
            }
            break;
        }
        __m512 c0[ROWS], c1[ROWS];
        for (int r = 0; r < mr; r++) { c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps(); }
        for (int c = 0; c < pairs; c++) {
            const __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(kt + (size_t)c * lp + j));
            const __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(kt + (size_t)c * lp + j + 16));
            for (int r = 0; r < mr; r++) {
                const __m512bh a = (__m512bh)_mm512_set1_epi32((int)qb[r * qld + c]);
                c0[r] = _mm512_dpbf16_ps(c0[r], a, b0);
                c1[r] = _mm512_dpbf16_ps(c1[r], a, b1);
            }
        }
        const __mmask16 valid0 = lanes_mask(length - j), valid1 = lanes_mask(length - j - 16);
        for (int r = 0; r < mr; r++) {
            _mm512_store_ps(s + (size_t)r * lp + j, c0[r]);
            _mm512_store_ps(s + (size_t)r * lp + j + 16, c1[r]);
            m[r] = _mm512_mask_max_ps(m[r], valid0, m[r], c0[r]);
            m[r] = _mm512_mask_max_ps(m[r], valid1, m[r], c1[r]);
        }
    }
    _mm256_storeu_ps(max, reduce_rows(m, 1));
}

/* fp32 kernel: row s[0, L) ← e^(s − max) in place (lanes past L: harmless values inside the lp-wide row, never read
 * by P·V); returns the lane sums (lanes past L excluded). Full 32-score chunks unmasked with two sums. */
INLINE F32_TARGET __m512 softmax_unnormalised(float *s, int length, float row_max) {
    const __m512 max = _mm512_set1_ps(row_max);
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= length; j += 32) {
        const __m512 e0 = exp_nonpositive(_mm512_sub_ps(_mm512_load_ps(s + j), max));
        const __m512 e1 = exp_nonpositive(_mm512_sub_ps(_mm512_load_ps(s + j + 16), max));
        _mm512_store_ps(s + j, e0);
        _mm512_store_ps(s + j + 16, e1);
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
    }
    if (j < length) {
        const __mmask16 m0 = lanes_mask(length - j), m1 = lanes_mask(length - j - 16);
        const __m512 e0 = _mm512_maskz_mov_ps(m0, exp_nonpositive(_mm512_sub_ps(_mm512_load_ps(s + j), max)));
        const __m512 e1 = _mm512_maskz_mov_ps(m1, exp_nonpositive(_mm512_sub_ps(_mm512_load_ps(s + j + 16), max)));
        _mm512_store_ps(s + j, e0);
        _mm512_store_ps(s + j + 16, e1);
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
    }
    return _mm512_add_ps(sum0, sum1);
}

/* out_r[c, c+32) = inv_r · Σ_j p_r[j]·vp[j][c, c+32) for the block's rows, each 32-column chunk of d. */
INLINE F32_TARGET void context_f32(const int mr, const float *p, int lp, const float *vp, int dp, int length, int d,
                                   const float *inv, float *out, ptrdiff_t ldo) {
    for (int c = 0; c < dp; c += 32) {
        __m512 c0[ROWS], c1[ROWS];
        for (int r = 0; r < mr; r++) { c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps(); }
        for (int j = 0; j < length; j++) {
            const __m512 b0 = _mm512_load_ps(vp + (size_t)j * dp + c), b1 = _mm512_load_ps(vp + (size_t)j * dp + c + 16);
            for (int r = 0; r < mr; r++) {
                const __m512 a = _mm512_set1_ps(p[(size_t)r * lp + j]);
                c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
                c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
            }
        }
        const __mmask16 m0 = lanes_mask(d - c), m1 = lanes_mask(d - c - 16);
        for (int r = 0; r < mr; r++) {
            const __m512 scale = _mm512_set1_ps(inv[r]);
            _mm512_mask_storeu_ps(out + r * ldo + c, m0, _mm512_mul_ps(c0[r], scale));
            _mm512_mask_storeu_ps(out + r * ldo + c + 16, m1, _mm512_mul_ps(c1[r], scale));
        }
    }
}

/* vb[j2·dp + c] = bf16 pair (v[2·j2][c], v[2·j2+1][c]), zero past d and past L (odd L), round to nearest even. */
BF16_TARGET static void pack_values_bf16(const float *v, ptrdiff_t ld, int length, int d, int dp, uint32_t *vb) {
    /* cvtne2ps gives [row0 c..c+15 | row1 c..c+15] as 16-bit lanes; this index interleaves them into pairs. */
    static const uint16_t interleave[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                            8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i index = _mm512_loadu_si512((const void *)interleave);
    for (int j = 0; j < length; j += 2) {
        const float *v0 = v + (ptrdiff_t)j * ld, *v1 = v0 + ld;
        const int second = j + 1 < length;
        prefetch_row(v0 + PREFETCH_ROWS * ld, d);
        prefetch_row(v1 + PREFETCH_ROWS * ld, d);
        for (int c = 0; c < dp; c += 16) {
            const __mmask16 m = lanes_mask(d - c);
            const __m512 a = _mm512_maskz_loadu_ps(m, v0 + c), b = _mm512_maskz_loadu_ps(second ? m : 0, v1 + c);
            _mm512_store_si512((void *)(vb + (size_t)(j / 2) * dp + c),
                               _mm512_permutexvar_epi16(index, (__m512i)_mm512_cvtne2ps_pbh(b, a)));
        }
    }
}

/* As context_f32 with bf16 pairs: row r of pb holds (p[2·j2], p[2·j2+1]) at r·lp + j2 (as uint32), vb [⌈L/2⌉ × dp]. */
INLINE BF16_TARGET void context_bf16(const int mr, const uint32_t *pb, int lp, const uint32_t *vb, int dp, int length,
                                     int d, const float *inv, float *out, ptrdiff_t ldo) {
    const int pairs = (length + 1) / 2;
    for (int c = 0; c < dp; c += 32) {
        __m512 c0[ROWS], c1[ROWS];
        for (int r = 0; r < mr; r++) { c0[r] = _mm512_setzero_ps(); c1[r] = _mm512_setzero_ps(); }
        for (int j = 0; j < pairs; j++) {
            const __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(vb + (size_t)j * dp + c));
            const __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(vb + (size_t)j * dp + c + 16));
            for (int r = 0; r < mr; r++) {
                const __m512bh a = (__m512bh)_mm512_set1_epi32((int)pb[(size_t)r * lp + j]);
                c0[r] = _mm512_dpbf16_ps(c0[r], a, b0);
                c1[r] = _mm512_dpbf16_ps(c1[r], a, b1);
            }
        }
        const __mmask16 m0 = lanes_mask(d - c), m1 = lanes_mask(d - c - 16);
        for (int r = 0; r < mr; r++) {
            const __m512 scale = _mm512_set1_ps(inv[r]);
            _mm512_mask_storeu_ps(out + r * ldo + c, m0, _mm512_mul_ps(c0[r], scale));
            _mm512_mask_storeu_ps(out + r * ldo + c + 16, m1, _mm512_mul_ps(c1[r], scale));
        }
    }
}

/* bf16 kernel: row s[0, L) ← bf16 pairs (p[2·j2], p[2·j2+1]) of p = e^(s − max) in place at the row's start, in one
 * pass (pair j2 replaces floats ≤ 2·j2: each 32-float chunk is read before its 16 pairs are written over the chunk's
 * first half); lanes past L become 0, so the odd-L pad pair adds nothing. Returns the lane sums of the unrounded
 * p (the block reduces its rows' sums together).
 * e^(factor·(s − max)) = 2^t with t = s·f − max·f, f = factor·log2 e, in one FMA (factor: the attention scale when
 * the scores are unscaled, else 1), then sift_simd.h's exp2_fast (~8e-5 relative; P is rounded to bf16 anyway); no
 * clamp is needed because vscalefps flushes 2^n to 0 for very negative n. Full chunks run without masks and with two
 * sums, the tail chunk masked. */
INLINE BF16_TARGET __m512 softmax_to_bf16(float *s, int length, float row_max, float factor) {
    const float f = factor * 1.44269504f;
    const __m512 log2e = _mm512_set1_ps(f), offset = _mm512_set1_ps(-row_max * f);
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= length; j += 32) {
        const __m512 e0 = exp2_fast(_mm512_fmadd_ps(_mm512_load_ps(s + j), log2e, offset));
        const __m512 e1 = exp2_fast(_mm512_fmadd_ps(_mm512_load_ps(s + j + 16), log2e, offset));
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
        _mm512_storeu_si512((void *)((uint32_t *)s + j / 2), (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    if (j < length) {
        const __mmask16 m0 = lanes_mask(length - j), m1 = lanes_mask(length - j - 16);
        const __m512 e0 = _mm512_maskz_mov_ps(m0, exp2_fast(_mm512_fmadd_ps(_mm512_load_ps(s + j), log2e, offset)));
        const __m512 e1 = _mm512_maskz_mov_ps(m1, exp2_fast(_mm512_fmadd_ps(_mm512_load_ps(s + j + 16), log2e, offset)));
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
        _mm512_storeu_si512((void *)((uint32_t *)s + j / 2), (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
    }
    return _mm512_add_ps(sum0, sum1);
}

/* inv[r] = 1/Σ p of each row from the rows' lane sums (rows ≥ mr are padded and their results unused). */
INLINE BF16_TARGET void softmax_block_bf16(const int mr, float *s, int lp, int length, const float *max, float factor,
                                          float *inv) {
    __m512 sums[ROWS];
    for (int r = 0; r < ROWS; r++) sums[r] = _mm512_set1_ps(1.0f);
    for (int r = 0; r < mr; r++) sums[r] = softmax_to_bf16(s + (size_t)r * lp, length, max[r], factor);
    store_inverse_sums(sums, inv);
}

/* One block of mr query rows (fp32 scores). */
INLINE F32_TARGET void block_f32(const int mr, const float *q, ptrdiff_t ld, const float *kt, const float *vp,
                                 float *s, int length, int d, int lp, int dp, float *out, ptrdiff_t ldo) {
    float max[ROWS], inv[ROWS];
    scores_f32(mr, q, ld, kt, lp, length, d, s, max);
    __m512 sums[ROWS];
    for (int r = 0; r < ROWS; r++) sums[r] = _mm512_set1_ps(1.0f);
    for (int r = 0; r < mr; r++) sums[r] = softmax_unnormalised(s + (size_t)r * lp, length, max[r]);
    store_inverse_sums(sums, inv);
    context_f32(mr, s, lp, vp, dp, length, d, inv, out, ldo);
}

/* One block of mr query rows, bf16 products: the block's queries are rounded to bf16 pairs into qb first, the
 * probabilities in place after the softmax. */
INLINE BF16_TARGET void block_bf16(const int mr, const float *q, ptrdiff_t ld, const uint32_t *kt, const float *vp,
                                   float *s, uint32_t *qb, int length, int d, int lp, int dp, float *out, ptrdiff_t ldo) {
    const int pairs = (d + 1) / 2;
    float inv[ROWS];
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < 2 * pairs; c += 32) {
            const __m512 lo = _mm512_maskz_loadu_ps(lanes_mask(d - c), q + r * ld + c);
            const __m512 hi = _mm512_maskz_loadu_ps(lanes_mask(d - c - 16), q + r * ld + c + 16);
            _mm512_mask_storeu_epi32((void *)(qb + r * pairs + c / 2), lanes_mask(pairs - c / 2),
                                     (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    float max[ROWS];
    scores_bf16(mr, qb, pairs, pairs, kt, lp, length, s, max);
    softmax_block_bf16(mr, s, lp, length, max, 1.0f, inv);
    context_bf16(mr, (const uint32_t *)s, lp, (const uint32_t *)vp, dp, length, d, inv, out, ldo);
}

#define BLOCK_CASES(call)                                                                                     \
    switch (mr) {                                                                                             \
    ROW_CASES_8_TO_1(call)                                                                                    \
    }
_Static_assert(ROWS == 8, "BLOCK_CASES lists the block sizes 8 … 1");

F32_TARGET static void attention_f32(const float *q, const float *k, const float *v, ptrdiff_t ld, float *out,
                                     ptrdiff_t ldo, int length, int queries, int d, float scale, float *scratch) {
    const int lp = round32(length), dp = round32(d);
    float *kt = scratch, *vp = kt + (size_t)d * lp, *s = vp + (size_t)length * dp;
    pack_keys_f32(k, ld, length, d, lp, scale, kt);
    pack_values(v, ld, length, d, dp, vp);
    for (int i = 0; i < queries; i += ROWS) {
        const int mr = queries - i < ROWS ? queries - i : ROWS;
        const float *qi = q + (ptrdiff_t)i * ld;
        float *oi = out + (ptrdiff_t)i * ldo;
        prefetch_next_block(qi + ROWS * ld, ld, oi + ROWS * ldo, ldo, d, ROWS);
#define CALL_F32(n) block_f32(n, qi, ld, kt, vp, s, length, d, lp, dp, oi, ldo)
        BLOCK_CASES(CALL_F32)
#undef CALL_F32
    }
}

BF16_TARGET static void attention_bf16(const float *q, const float *k, const float *v, ptrdiff_t ld, float *out,
                                       ptrdiff_t ldo, int length, int queries, int d, float scale, float *scratch) {
    const int lp = round32(length), dp = round32(d);
    /* Kᵀ pairs use (d+1)/2 of the d·lp floats sift_attention_scratch_floats reserves for Kᵀ. */
    uint32_t *kt = (uint32_t *)scratch;
    float *vp = scratch + (size_t)d * lp, *s = vp + (size_t)length * dp;
    uint32_t *qb = (uint32_t *)(s + (size_t)ROWS * lp);
    pack_keys_bf16(k, ld, length, d, lp, scale, kt);
    pack_values_bf16(v, ld, length, d, dp, (uint32_t *)vp);
    for (int i = 0; i < queries; i += ROWS) {
        const int mr = queries - i < ROWS ? queries - i : ROWS;
        const float *qi = q + (ptrdiff_t)i * ld;
        float *oi = out + (ptrdiff_t)i * ldo;
        prefetch_next_block(qi + ROWS * ld, ld, oi + ROWS * ldo, ldo, d, ROWS);
#define CALL_BF16(n) block_bf16(n, qi, ld, kt, vp, s, qb, length, d, lp, dp, oi, ldo)
        BLOCK_CASES(CALL_BF16)
#undef CALL_BF16
    }
}

/* ---- bf16 inputs: q, k, v already bf16 (the QKV projection stored them so), read in place as (even, odd) pairs. */

static __mmask32 lanes_mask32(int valid) {
    return valid >= 32 ? (__mmask32)0xffffffffu : valid <= 0 ? (__mmask32)0 : (__mmask32)((1u << valid) - 1);
}

INLINE void prefetch_row_bf16(const uint16_t *row, int d) {
    for (int c = 0; c < d; c += 32) __builtin_prefetch(row + c);
    __builtin_prefetch(row + d - 1);
}

/* kt[c2·lp + j] = pair c2 of key row j, 0 for L ≤ j < lp. Unscaled: the scale is applied in the softmax's exponent. */
BF16_TARGET static void pack_keys_from_bf16(const uint16_t *k, ptrdiff_t ld, int length, int pairs, int lp, uint32_t *kt) {
    for (int c2 = 0; c2 < pairs; c2++) memset(kt + (size_t)c2 * lp + length, 0, sizeof(uint32_t) * (size_t)(lp - length));
    for (int j = 0; j < length; j++) {
        const uint16_t *kj = k + (ptrdiff_t)j * ld;
        prefetch_row_bf16(kj + PREFETCH_ROWS * ld, 2 * pairs);
        const uint32_t *pair = (const uint32_t *)kj; /* 4-byte aligned: k is, and ld is even */
#pragma clang loop vectorize(disable)
        for (int c2 = 0; c2 < pairs; c2++) kt[(size_t)c2 * lp + j] = pair[c2];
    }
}

/* vb[j2·dp + c] = (v[2·j2][c], v[2·j2+1][c]) bf16 pairs, zero past d and past L (odd L). */
BF16_TARGET static void pack_values_from_bf16(const uint16_t *v, ptrdiff_t ld, int length, int d, int dp, uint32_t *vb) {
    /* permutex2var picks 16-bit lanes from (a, b): index i < 32 is a[i], 32 + i is b[i]. */
    static const uint16_t low[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                     8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
    static const uint16_t high[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
                                      24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};
    const __m512i lo = _mm512_loadu_si512((const void *)low), hi = _mm512_loadu_si512((const void *)high);
    for (int j = 0; j < length; j += 2) {
        const uint16_t *v0 = v + (ptrdiff_t)j * ld, *v1 = v0 + ld;
        const int second = j + 1 < length;
        prefetch_row_bf16(v0 + PREFETCH_ROWS * ld, d);
        prefetch_row_bf16(v1 + PREFETCH_ROWS * ld, d);
        for (int c = 0; c < dp; c += 32) {
            const __mmask32 m = lanes_mask32(d - c);
            const __m512i a = _mm512_maskz_loadu_epi16(m, v0 + c), b = _mm512_maskz_loadu_epi16(second ? m : 0, v1 + c);
            uint32_t *dst = vb + (size_t)(j / 2) * dp + c;
            _mm512_store_si512((void *)dst, _mm512_permutex2var_epi16(a, lo, b));
            _mm512_store_si512((void *)(dst + 16), _mm512_permutex2var_epi16(a, hi, b));
        }
    }
}

/* One block of mr query rows read in place from bf16 q (row stride ld): scores unscaled, the scale in the softmax. */
INLINE BF16_TARGET void block_bf16_input(const int mr, const uint16_t *q, ptrdiff_t ld, const uint32_t *kt,
                                         const uint32_t *vb, float *s, int length, int d, int lp, int dp, float scale,
                                         float *out, ptrdiff_t ldo) {
    float max[ROWS], inv[ROWS];
    scores_bf16(mr, (const uint32_t *)q, ld / 2, d / 2, kt, lp, length, s, max);
    softmax_block_bf16(mr, s, lp, length, max, scale, inv);
    context_bf16(mr, (const uint32_t *)s, lp, vb, dp, length, d, inv, out, ldo);
}

BF16_TARGET static void attention_bf16_input(const uint16_t *q, const uint16_t *k, const uint16_t *v, ptrdiff_t ld,
                                             float *out, ptrdiff_t ldo, int length, int queries, int d, float scale,
                                             float *scratch) {
    const int lp = round32(length), dp = round32(d);
    /* Same scratch layout as attention_bf16 (Kᵀ pairs in the first d·lp floats, V pairs next, then the scores). */
    uint32_t *kt = (uint32_t *)scratch, *vb = (uint32_t *)(scratch + (size_t)d * lp);
    float *s = scratch + (size_t)d * lp + (size_t)length * dp;
    pack_keys_from_bf16(k, ld, length, d / 2, lp, kt);
    pack_values_from_bf16(v, ld, length, d, dp, vb);
    for (int i = 0; i < queries; i += ROWS) {
        const int mr = queries - i < ROWS ? queries - i : ROWS;
        const uint16_t *qi = q + (ptrdiff_t)i * ld;
        float *oi = out + (ptrdiff_t)i * ldo;
        for (int r = 0; r < ROWS; r++) {
            prefetch_row_bf16(qi + (ROWS + r) * ld, d);
            __builtin_prefetch(oi + (ROWS + r) * ldo, 1);
            __builtin_prefetch(oi + (ROWS + r) * ldo + d - 1, 1);
        }
#define CALL_BF16_INPUT(n) block_bf16_input(n, qi, ld, kt, vb, s, length, d, lp, dp, scale, oi, ldo)
        BLOCK_CASES(CALL_BF16_INPUT)
#undef CALL_BF16_INPUT
    }
}

/* ---------------------------------------------------------------- AVX2 + FMA */

/* 16 ymm registers: a tile is AVX2_ROWS rows × 16 floats (two ymm), so its 12 accumulators, the two loaded vectors
 * and the broadcast fit (the shape of sift_kernels.c's AVX2 GEMM tile). Per reduction step 2 loads and 6 broadcasts
 * feed 12 FMAs: both FMA ports busy, within Zen 3's two 256-bit loads per cycle. */
enum { AVX2_ROWS = 6, AVX2_PANEL = 16 };

static int round16(int n) { return (n + 15) / 16 * 16; }

/* p[0, valid) (valid ≥ 1); lanes past valid are 0 and their memory is not read. */
INLINE AVX2_TARGET __m256 load_lanes(const float *p, int valid) {
    return valid >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, avx2_lanes(valid));
}

/* p[0, valid) = x[0, valid) (valid ≥ 1); memory past valid is not written. */
INLINE AVX2_TARGET void store_lanes(float *p, __m256 x, int valid) {
    if (valid >= 8) _mm256_storeu_ps(p, x);
    else _mm256_maskstore_ps(p, avx2_lanes(valid), x);
}

/* Transposes the 8×8 block x in place: lane c of x[i] becomes lane i of x[c]. */
INLINE AVX2_TARGET void transpose8(__m256 *x) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(x[2 * i], x[2 * i + 1]);     /* rows 2i, 2i+1: columns 0,1 | 4,5 interleaved */
        t[2 * i + 1] = _mm256_unpackhi_ps(x[2 * i], x[2 * i + 1]); /* columns 2,3 | 6,7 */
    }
    for (int h = 0; h < 2; h++) /* h: rows 0–3 or 4–7 */
        for (int i = 0; i < 2; i++) {
            const __m256 a = t[4 * h + i], b = t[4 * h + 2 + i];
            u[4 * h + 2 * i] = _mm256_shuffle_ps(a, b, 0x44);     /* column 2i | 2i+4 of the four rows */
            u[4 * h + 2 * i + 1] = _mm256_shuffle_ps(a, b, 0xee); /* column 2i+1 | 2i+5 */
        }
    for (int c = 0; c < 4; c++) {
        x[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        x[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* kt[(j/16)·16d + c·16 + j%16] = scale·k[j][c] for j < round16(L), 0 past L: Kᵀ in panels of 16 keys, each
 * [d × 16] contiguous, by 8×8 blocks transposed in registers (element by element, a [CLS]-only call took a quarter
 * longer on Zen 3, a full one at L = 100 2 % longer). */
AVX2_TARGET static void pack_keys_avx2(const float *k, ptrdiff_t ld, int length, int d, float scale, float *kt) {
    const __m256 factor = _mm256_set1_ps(scale);
    const int keys = round16(length);
    for (int j = 0; j < keys; j += 8) {
        float *panel = kt + (size_t)(j / AVX2_PANEL) * AVX2_PANEL * d + j % AVX2_PANEL;
        for (int r = 0; r < 8; r++) prefetch_row(k + (ptrdiff_t)(j + r + PREFETCH_ROWS) * ld, d);
        for (int c = 0; c < d; c += 8) {
            __m256 x[8];
            for (int r = 0; r < 8; r++)
                x[r] = j + r < length ? _mm256_mul_ps(load_lanes(k + (ptrdiff_t)(j + r) * ld + c, d - c), factor)
                                      : _mm256_setzero_ps();
            transpose8(x);
            for (int i = 0; i < 8 && c + i < d; i++) _mm256_store_ps(panel + (size_t)(c + i) * AVX2_PANEL, x[i]);
        }
    }
}

/* vp[(c/16)·16L + j·16 + c%16] = v[j][c] for c < round8(d), 0 past d: V in panels of 16 columns, each [L × 16]
 * contiguous (a last panel's second half is left unwritten when d mod 16 ≤ 8: context_avx2 reads only the first). */
AVX2_TARGET static void pack_values_avx2(const float *v, ptrdiff_t ld, int length, int d, float *vp) {
    for (int j = 0; j < length; j++) {
        const float *vj = v + (ptrdiff_t)j * ld;
        prefetch_row(vj + PREFETCH_ROWS * ld, d);
        for (int c = 0; c < d; c += 8) {
            float *panel = vp + (size_t)(c / AVX2_PANEL) * AVX2_PANEL * length;
            _mm256_store_ps(panel + (size_t)j * AVX2_PANEL + c % AVX2_PANEL, load_lanes(vj + c, d - c));
        }
    }
}

/* s[r·ls + j] = q_r · kt[·][j] for the block's mr rows and j < L (and the pads of the last tile, which come out 0),
 * 16 keys (one panel) per tile, or 8 for a last chunk of ≤ 8 keys; each row's maximum over the first L scores in
 * max[r], tracked while storing. mr is a compile-time constant after inlining, so the accumulators stay in
 * registers. */
INLINE AVX2_TARGET void scores_avx2(const int mr, const float *q, ptrdiff_t ld, const float *kt, int length, int d,
                                    float *s, int ls, float *max) {
    __m256 m[AVX2_ROWS];
    for (int r = 0; r < mr; r++) m[r] = _mm256_set1_ps(-__builtin_inff());
    for (int j = 0; j < length; j += AVX2_PANEL) {
        const float *panel = kt + (size_t)j * d;
        if (length - j <= 8) {
            __m256 c0[AVX2_ROWS];
            for (int r = 0; r < mr; r++) c0[r] = _mm256_setzero_ps();
            for (int c = 0; c < d; c++) {
                const __m256 b0 = _mm256_load_ps(panel + (size_t)c * AVX2_PANEL);
                for (int r = 0; r < mr; r++) c0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(q + r * ld + c), b0, c0[r]);
            }
            const __m256 valid0 = _mm256_castsi256_ps(avx2_lanes(length - j));
            for (int r = 0; r < mr; r++) {
                _mm256_store_ps(s + (size_t)r * ls + j, c0[r]);
                m[r] = _mm256_blendv_ps(m[r], _mm256_max_ps(m[r], c0[r]), valid0);
            }
            break;
        }
        __m256 c0[AVX2_ROWS], c1[AVX2_ROWS];
        for (int r = 0; r < mr; r++) { c0[r] = _mm256_setzero_ps(); c1[r] = _mm256_setzero_ps(); }
        for (int c = 0; c < d; c++) {
            const __m256 b0 = _mm256_load_ps(panel + (size_t)c * AVX2_PANEL);
            const __m256 b1 = _mm256_load_ps(panel + (size_t)c * AVX2_PANEL + 8);
            for (int r = 0; r < mr; r++) {
                const __m256 a = _mm256_broadcast_ss(q + r * ld + c);
                c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
                c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
            }
        }
        const __m256 valid1 = _mm256_castsi256_ps(avx2_lanes(length - j - 8)); /* the first 8 are all keys */
        for (int r = 0; r < mr; r++) {
            _mm256_store_ps(s + (size_t)r * ls + j, c0[r]);
            _mm256_store_ps(s + (size_t)r * ls + j + 8, c1[r]);
            m[r] = _mm256_max_ps(m[r], c0[r]);
            m[r] = _mm256_blendv_ps(m[r], _mm256_max_ps(m[r], c1[r]), valid1);
        }
    }
    for (int r = 0; r < mr; r++) max[r] = avx2_hmax(m[r]);
}

/* s[j] ← e^(s[j] − row_max) in place for j < round8(L), 0 past L (unnormalised: P·V applies 1/Σ); returns Σ.
 * Two sums over the 16-key chunks, the ≤ 15 left masked; a row's order of additions depends only on L. */
INLINE AVX2_TARGET float softmax_unnormalised_avx2(float *s, int length, float row_max) {
    const __m256 max = _mm256_set1_ps(row_max);
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= length; j += 16) {
        const __m256 e0 = exp_nonpositive_avx2(_mm256_sub_ps(_mm256_load_ps(s + j), max));
        const __m256 e1 = exp_nonpositive_avx2(_mm256_sub_ps(_mm256_load_ps(s + j + 8), max));
        _mm256_store_ps(s + j, e0);
        _mm256_store_ps(s + j + 8, e1);
        sum0 = _mm256_add_ps(sum0, e0);
        sum1 = _mm256_add_ps(sum1, e1);
    }
    for (; j < length; j += 8) {
        const __m256 valid = _mm256_castsi256_ps(avx2_lanes(length - j));
        const __m256 e = _mm256_and_ps(exp_nonpositive_avx2(_mm256_sub_ps(_mm256_load_ps(s + j), max)), valid);
        _mm256_store_ps(s + j, e);
        sum0 = _mm256_add_ps(sum0, e);
    }
    return avx2_hsum(_mm256_add_ps(sum0, sum1));
}

/* out_r[c, c+16) = inv_r · Σ_j p_r[j]·vp[j][c, c+16) for the block's rows, one V panel per tile (8 columns for a
 * last panel of ≤ 8 real columns); columns past d are not written. */
INLINE AVX2_TARGET void context_avx2(const int mr, const float *p, int ls, const float *vp, int length, int d,
                                     const float *inv, float *out, ptrdiff_t ldo) {
    for (int c = 0; c < d; c += AVX2_PANEL) {
        const float *panel = vp + (size_t)c * length;
        if (d - c <= 8) {
            __m256 c0[AVX2_ROWS];
            for (int r = 0; r < mr; r++) c0[r] = _mm256_setzero_ps();
            for (int j = 0; j < length; j++) {
                const __m256 b0 = _mm256_load_ps(panel + (size_t)j * AVX2_PANEL);
                for (int r = 0; r < mr; r++)
                    c0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + (size_t)r * ls + j), b0, c0[r]);
            }
            for (int r = 0; r < mr; r++)
                store_lanes(out + r * ldo + c, _mm256_mul_ps(c0[r], _mm256_set1_ps(inv[r])), d - c);
            break;
        }
        __m256 c0[AVX2_ROWS], c1[AVX2_ROWS];
        for (int r = 0; r < mr; r++) { c0[r] = _mm256_setzero_ps(); c1[r] = _mm256_setzero_ps(); }
        for (int j = 0; j < length; j++) {
            const __m256 b0 = _mm256_load_ps(panel + (size_t)j * AVX2_PANEL);
            const __m256 b1 = _mm256_load_ps(panel + (size_t)j * AVX2_PANEL + 8);
            for (int r = 0; r < mr; r++) {
                const __m256 a = _mm256_broadcast_ss(p + (size_t)r * ls + j);
                c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
                c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
            }
        }
        for (int r = 0; r < mr; r++) {
            const __m256 scale = _mm256_set1_ps(inv[r]);
            _mm256_storeu_ps(out + r * ldo + c, _mm256_mul_ps(c0[r], scale));
            store_lanes(out + r * ldo + c + 8, _mm256_mul_ps(c1[r], scale), d - c - 8);
        }
    }
}

/* One block of mr query rows; scores rows ls floats apart in s. */
INLINE AVX2_TARGET void block_avx2(const int mr, const float *q, ptrdiff_t ld, const float *kt, const float *vp,
                                   float *s, int ls, int length, int d, float *out, ptrdiff_t ldo) {
    float max[AVX2_ROWS], inv[AVX2_ROWS];
    scores_avx2(mr, q, ld, kt, length, d, s, ls, max);
    for (int r = 0; r < mr; r++) inv[r] = 1.0f / softmax_unnormalised_avx2(s + (size_t)r * ls, length, max[r]);
    context_avx2(mr, s, ls, vp, length, d, inv, out, ldo);
}

_Static_assert(AVX2_ROWS == 6, "ROW_CASES_6_TO_1 lists the block sizes 6 … 1");

/* Scratch as attention_f32's: the panels take at most the d·Lp and L·Dp floats reserved for Kᵀ and V, the scores
 * AVX2_ROWS of the ROWS rows of Lp. */
AVX2_TARGET static void attention_avx2(const float *q, const float *k, const float *v, ptrdiff_t ld, float *out,
                                       ptrdiff_t ldo, int length, int queries, int d, float scale, float *scratch) {
    const int lp = round32(length), dp = round32(d);
    float *kt = scratch, *vp = kt + (size_t)d * lp, *s = vp + (size_t)length * dp;
    /* The packers prefetch PREFETCH_ROWS rows ahead of the row they read; the rows before that and the first
     * block's are requested here, so that their misses overlap (+6 % at L = 100 on Zen 3). */
    for (int j = 0; j < PREFETCH_ROWS && j < length; j++) {
        prefetch_row(k + (ptrdiff_t)j * ld, d);
        prefetch_row(v + (ptrdiff_t)j * ld, d);
    }
    prefetch_next_block(q, ld, out, ldo, d, AVX2_ROWS);
    pack_keys_avx2(k, ld, length, d, scale, kt);
    pack_values_avx2(v, ld, length, d, vp);
    for (int i = 0; i < queries; i += AVX2_ROWS) {
        const int mr = queries - i < AVX2_ROWS ? queries - i : AVX2_ROWS;
        const float *qi = q + (ptrdiff_t)i * ld;
        float *oi = out + (ptrdiff_t)i * ldo;
        prefetch_next_block(qi + AVX2_ROWS * ld, ld, oi + AVX2_ROWS * ldo, ldo, d, AVX2_ROWS);
#define CALL_AVX2(n) block_avx2(n, qi, ld, kt, vp, s, lp, length, d, oi, ldo)
        switch (mr) { ROW_CASES_6_TO_1(CALL_AVX2) }
#undef CALL_AVX2
    }
}
#endif

/* ---------------------------------------------------------------- entry point */

int sift_attention(const float *q, const float *k, const float *v, ptrdiff_t ld, float *out, ptrdiff_t ldo,
                   int length, int queries, int head_size, float scale, float *scratch, size_t scratch_floats,
                   int kernel) {
    if (!q || !k || !v || !out || !scratch || length < 1 || queries < 1 || queries > length || head_size < 1 ||
        ld < head_size || ldo < head_size ||
        scratch_floats < sift_attention_scratch_floats(length, head_size) || !sift_kernel_supported(kernel))
        return -1;
    /* The vector kernels use aligned loads on scratch; the size includes 16 floats of slack for this. */
    float *aligned = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    switch (kernel) {
    case SIFT_KERNEL_SCALAR:
        attention_scalar(q, k, v, ld, out, ldo, length, queries, head_size, scale, aligned);
        return 0;
#if defined(__x86_64__)
    case SIFT_KERNEL_AVX512:
        attention_f32(q, k, v, ld, out, ldo, length, queries, head_size, scale, aligned);
        return 0;
    case SIFT_KERNEL_AVX512_BF16:
        attention_bf16(q, k, v, ld, out, ldo, length, queries, head_size, scale, aligned);
        return 0;
    case SIFT_KERNEL_AVX2:
        attention_avx2(q, k, v, ld, out, ldo, length, queries, head_size, scale, aligned);
        return 0;
#endif
    default: return -1;
    }
}

int sift_attention_bf16(const uint16_t *q, const uint16_t *k, const uint16_t *v, ptrdiff_t ld, float *out, ptrdiff_t ldo,
                        int length, int queries, int head_size, float scale, float *scratch, size_t scratch_floats) {
    if (!q || !k || !v || !out || !scratch || length < 1 || queries < 1 || queries > length || head_size < 1 ||
        head_size % 2 != 0 || ld < head_size || ld % 2 != 0 || ldo < head_size ||
        (((uintptr_t)q | (uintptr_t)k | (uintptr_t)v) & 3) != 0 ||
        scratch_floats < sift_attention_scratch_floats(length, head_size) ||
        !sift_kernel_supported(SIFT_KERNEL_AVX512_BF16))
        return -1;
#if defined(__x86_64__)
    float *aligned = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    attention_bf16_input(q, k, v, ld, out, ldo, length, queries, head_size, scale, aligned);
    return 0;
#else
    return -1;
#endif
}
