// Requantisation of int32 accumulators to int8 on AVX-512, bitwise equal to
// FixedPointMultiplier.apply + clamp (Int8Kernels.requantise): per output channel c with Q31
// mantissa m and shift s, y = clamp(round(((acc + offset[c]) · m) / 2^(31 − s)) + zero, low, high),
// rounding half away from zero. Channels whose multiplier is ≥ 1 (31 − s ≤ 0) or vanishing
// (31 − s ≥ 63) take the scalar formula, as does every channel without AVX-512.
#include "CKernels.h"
#include "simd_target.h"

/// The scalar reference (FixedPointMultiplier.apply, then + zero and the clamp).
static inline int8_t requantise_one(int32_t t, int32_t m, long shift, int32_t zero, int32_t low, int32_t high) {
    int64_t p = (int64_t)t * (int64_t)m;
    long r = 31 - shift;
    int64_t v;
    if (r <= 0) {
        long s = -r < 62 ? -r : 62;
        int64_t limit = (int64_t)INT32_MAX >> s;
        v = p > limit ? (int64_t)INT32_MAX : p < -limit ? (int64_t)INT32_MIN : -r >= 64 ? 0 : (int64_t)((uint64_t)p << -r);
    } else if (r >= 63) {
        v = 0;
    } else {
        int64_t half = (int64_t)1 << (r - 1);
        v = p >= 0 ? (p + half) >> r : -((-p + half) >> r);
    }
    if (v < INT32_MIN) v = INT32_MIN;
    if (v > INT32_MAX) v = INT32_MAX;
    int32_t q = (int32_t)((uint32_t)(int32_t)v + (uint32_t)zero);
    if (q < low) q = low;
    if (q > high) q = high;
    return (int8_t)q;
}

#ifdef SF_X86
SF_AVX512 static void requantise_row(int8_t *y, const int32_t *acc, int32_t offset, int32_t m, long r, int32_t zero,
                                      int32_t low, int32_t high, long plane) {
    const __m512i mv = _mm512_set1_epi64(m), half = _mm512_set1_epi64((int64_t)1 << (r - 1));
    const __m512i lo32 = _mm512_set1_epi64(INT32_MIN), hi32 = _mm512_set1_epi64(INT32_MAX);
    const __m512i off = _mm512_set1_epi32(offset), zv = _mm512_set1_epi32(zero);
    const __m512i lowv = _mm512_set1_epi32(low), highv = _mm512_set1_epi32(high);
    const __m128i shift = _mm_cvtsi64_si128(r);
    for (long i = 0; i < plane; i += 16) {
        const long left = plane - i;
        const __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        __m512i t = _mm512_add_epi32(_mm512_maskz_loadu_epi32(mask, acc + i), off);
        __m512i halves[2] = {_mm512_cvtepi32_epi64(_mm512_castsi512_si256(t)), _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(t, 1))};
        __m256i narrow[2];
        for (int h = 0; h < 2; h++) {
            __m512i p = _mm512_mul_epi32(halves[h], mv);
            __mmask8 negative = _mm512_cmplt_epi64_mask(p, _mm512_setzero_si512());
            __m512i v = _mm512_srl_epi64(_mm512_add_epi64(_mm512_abs_epi64(p), half), shift);
            v = _mm512_mask_sub_epi64(v, negative, _mm512_setzero_si512(), v);
            v = _mm512_min_epi64(_mm512_max_epi64(v, lo32), hi32);
            narrow[h] = _mm512_cvtepi64_epi32(v);
        }
        __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(narrow[0]), narrow[1], 1);
        q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zv), lowv), highv);
        _mm_mask_storeu_epi8(y + i, mask, _mm512_cvtepi32_epi8(q));
    }
}
#endif

void sf_int8_requantise(int8_t *y, const int32_t *acc, const int32_t *offset, const void *multipliers, long stride, long mantissaOffset,
                        long shiftOffset, int32_t zero, int32_t low, int32_t high, long channels, long plane, int vectorised) {
    const char *table = (const char *)multipliers;
    for (long c = 0; c < channels; c++) {
        const int32_t b = offset ? offset[c] : 0;
        const int32_t m = *(const int32_t *)(const void *)(table + c * stride + mantissaOffset);
        const long shift = (long)*(const int64_t *)(const void *)(table + c * stride + shiftOffset);
        const long r = 31 - shift;
        const int32_t *a = acc + c * plane;
        int8_t *out = y + c * plane;
#ifdef SF_X86
        if (vectorised && r >= 1 && r <= 62) {
            requantise_row(out, a, b, m, r, zero, low, high, plane);
            continue;
        }
#endif
        for (long i = 0; i < plane; i++) out[i] = requantise_one((int32_t)((uint32_t)a[i] + (uint32_t)b), m, shift, zero, low, high);
    }
}


#ifdef SF_X86
/// Σ of one row of int8, 64 bytes at a time (sign-extended to int16 pairs, summed by vpmaddwd).
SF_AVX512 static int32_t row_sum(const int8_t *row, long per) {
    const __m512i ones = _mm512_set1_epi16(1);
    __m512i acc = _mm512_setzero_si512();
    for (long i = 0; i < per; i += 32) {
        const long left = per - i;
        const __mmask32 mask = left >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << left) - 1u);
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mask, row + i)), ones));
    }
    return _mm512_reduce_add_epi32(acc);
}
#endif

void sf_int8_offsets(const int8_t *weight, const int32_t *bias, long rows, long per, int32_t zero, int32_t *offset, int vectorised) {
    for (long o = 0; o < rows; o++) {
        int32_t s = 0;
#ifdef SF_X86
        if (vectorised) {
            s = row_sum(weight + o * per, per);
        } else
#endif
        {
            for (long i = 0; i < per; i++) s = (int32_t)((uint32_t)s + (uint32_t)(int32_t)weight[o * per + i]);
        }
        offset[o] = (int32_t)((uint32_t)bias[o] - (uint32_t)zero * (uint32_t)s);
    }
}
