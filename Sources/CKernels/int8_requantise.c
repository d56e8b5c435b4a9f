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

/// Small planes (the late layers at batch 1: 4 values per channel): sixteen consecutive values of
/// several channels per vector, each lane with its channel's multiplier, shift and offset
/// (gathered), so no lane idles. Returns 0, having written nothing, when some channel needs the
/// scalar formula.
SF_AVX512 static int requantise_across(int8_t *y, const int32_t *acc, const int32_t *offset, const char *table, long stride, long mantissaOffset,
                                       long shiftOffset, int32_t zero, int32_t low, int32_t high, long channels, long plane) {
    for (long c = 0; c < channels; c++) {
        const long r = 31 - (long)*(const int64_t *)(const void *)(table + c * stride + shiftOffset);
        if (r < 1 || r > 62) return 0;
    }
    const long total = channels * plane;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i lo32 = _mm512_set1_epi64(INT32_MIN), hi32 = _mm512_set1_epi64(INT32_MAX), one = _mm512_set1_epi64(1);
    const __m512i zv = _mm512_set1_epi32(zero), lowv = _mm512_set1_epi32(low), highv = _mm512_set1_epi32(high);
    const __m512i strideV = _mm512_set1_epi32((int32_t)stride);
    for (long i = 0; i < total; i += 16) {
        const long left = total - i;
        const __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        // Channel of each lane: (i + lane) / plane, exactly in float below 2^16 values (the
        // quotient's rounding error stays under the 1/plane gap to the next integer).
        const __m512i flat = _mm512_add_epi32(_mm512_set1_epi32((int32_t)i), lane);
        const __m512i ch = _mm512_min_epi32(_mm512_cvttps_epi32(_mm512_div_ps(_mm512_cvtepi32_ps(flat), _mm512_set1_ps((float)plane))),
                                            _mm512_set1_epi32((int32_t)(channels - 1)));
        const __m512i rec = _mm512_mullo_epi32(ch, strideV);
        const __m512i mant = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, rec, table + mantissaOffset, 1);
        const __m512i shifts = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, rec, table + shiftOffset, 1);
        const __m512i off = offset ? _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, ch, offset, 4) : _mm512_setzero_si512();
        const __m512i t = _mm512_add_epi32(_mm512_maskz_loadu_epi32(mask, acc + i), off);
        const __m512i rs = _mm512_sub_epi32(_mm512_set1_epi32(31), shifts);
        __m256i narrow[2];
        for (int h = 0; h < 2; h++) {
            const __m512i t64 = _mm512_cvtepi32_epi64(h ? _mm512_extracti64x4_epi64(t, 1) : _mm512_castsi512_si256(t));
            const __m512i m64 = _mm512_cvtepi32_epi64(h ? _mm512_extracti64x4_epi64(mant, 1) : _mm512_castsi512_si256(mant));
            const __m512i r64 = _mm512_cvtepi32_epi64(h ? _mm512_extracti64x4_epi64(rs, 1) : _mm512_castsi512_si256(rs));
            const __m512i half = _mm512_sllv_epi64(one, _mm512_sub_epi64(r64, one));
            const __m512i p = _mm512_mul_epi32(t64, m64);
            const __mmask8 negative = _mm512_cmplt_epi64_mask(p, _mm512_setzero_si512());
            __m512i v = _mm512_srlv_epi64(_mm512_add_epi64(_mm512_abs_epi64(p), half), r64);
            v = _mm512_mask_sub_epi64(v, negative, _mm512_setzero_si512(), v);
            v = _mm512_min_epi64(_mm512_max_epi64(v, lo32), hi32);
            narrow[h] = _mm512_cvtepi64_epi32(v);
        }
        __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(narrow[0]), narrow[1], 1);
        q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zv), lowv), highv);
        _mm_mask_storeu_epi8(y + i, mask, _mm512_cvtepi32_epi8(q));
    }
    return 1;
}
#endif

void sf_int8_requantise(int8_t *y, const int32_t *acc, const int32_t *offset, const void *multipliers, long stride, long mantissaOffset,
                        long shiftOffset, int32_t zero, int32_t low, int32_t high, long channels, long plane, int vectorised) {
    const char *table = (const char *)multipliers;
#ifdef SF_X86
    if (vectorised && plane < 16 && channels * plane < (1L << 16) &&
        requantise_across(y, acc, offset, table, stride, mantissaOffset, shiftOffset, zero, low, high, channels, plane)) {
        return;
    }
#endif
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

/// FixedPointMultiplier.apply on one value (the scalar formula above, without zero and clamp).
static inline int32_t apply_one(int32_t x, int32_t m, long shift) {
    int64_t p = (int64_t)x * (int64_t)m;
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
    return (int32_t)(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
}

/// The residual add of one value (Int8Kernels.add): two rescaled terms at 16 fractional bits, one
/// rounding shift, the sum's zero point, clamped to int8.
static inline int8_t add_one(int8_t a, int8_t b, int32_t ma, long sa, int32_t mb, long sb, int32_t za, int32_t zb, int32_t zy) {
    int32_t s = (int32_t)((uint32_t)apply_one(((int32_t)a - za) * 65536, ma, sa) + (uint32_t)apply_one(((int32_t)b - zb) * 65536, mb, sb));
    int32_t q = s >= 0 ? (int32_t)(((int64_t)s + 32768) >> 16) : -(int32_t)(((-(int64_t)s) + 32768) >> 16);
    int32_t v = (int32_t)((uint32_t)q + (uint32_t)zy);
    return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

#ifdef SF_X86
/// Eight applies of one multiplier (31 − shift = r in 1…62) in 64-bit lanes.
SF_AVX512 static inline __m256i apply8(__m256i x, __m512i m, __m512i half, __m128i r) {
    const __m512i p = _mm512_mul_epi32(_mm512_cvtepi32_epi64(x), m);
    const __mmask8 negative = _mm512_cmplt_epi64_mask(p, _mm512_setzero_si512());
    __m512i v = _mm512_srl_epi64(_mm512_add_epi64(_mm512_abs_epi64(p), half), r);
    v = _mm512_mask_sub_epi64(v, negative, _mm512_setzero_si512(), v);
    v = _mm512_min_epi64(_mm512_max_epi64(v, _mm512_set1_epi64(INT32_MIN)), _mm512_set1_epi64(INT32_MAX));
    return _mm512_cvtepi64_epi32(v);
}

/// The residual add eight values at a time for multipliers with 31 − shift in 1…62; returns how many
/// values it wrote (a multiple of 8).
SF_AVX512 static long add_vector(int8_t *y, const int8_t *a, const int8_t *b, int32_t ma, long ra, int32_t mb, long rb, int32_t za, int32_t zb,
                                 int32_t zy, long count) {
    long i = 0;
    {
        const __m512i mav = _mm512_set1_epi64(ma), mbv = _mm512_set1_epi64(mb);
        const __m512i ha = _mm512_set1_epi64((int64_t)1 << (ra - 1)), hb = _mm512_set1_epi64((int64_t)1 << (rb - 1));
        const __m128i sha = _mm_cvtsi64_si128(ra), shb = _mm_cvtsi64_si128(rb);
        const __m256i zav = _mm256_set1_epi32(za), zbv = _mm256_set1_epi32(zb), zyv = _mm256_set1_epi32(zy);
        const __m256i half16 = _mm256_set1_epi32(32768);
        for (; i + 8 <= count; i += 8) {
            const __m256i av = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(a + i))), zav), 16);
            const __m256i bv = _mm256_slli_epi32(_mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(b + i))), zbv), 16);
            const __m256i s = _mm256_add_epi32(apply8(av, mav, ha, sha), apply8(bv, mbv, hb, shb));
            // Rounding shift by 16, ties away from zero: on |s| (as unsigned, exact for s = INT32_MIN), then the sign back.
            const __m256i mag = _mm256_srli_epi32(_mm256_add_epi32(_mm256_abs_epi32(s), half16), 16);
            const __m256i q = _mm256_mask_sub_epi32(mag, _mm256_cmplt_epi32_mask(s, _mm256_setzero_si256()), _mm256_setzero_si256(), mag);
            const __m256i v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(q, zyv), _mm256_set1_epi32(-128)), _mm256_set1_epi32(127));
            _mm_storel_epi64((__m128i *)(void *)(y + i), _mm256_cvtepi32_epi8(v));
        }
    }
    return i;
}
#endif

void sf_int8_add(int8_t *y, const int8_t *a, const int8_t *b, int32_t ma, long sa, int32_t mb, long sb, int32_t za, int32_t zb, int32_t zy,
                 long count, int vectorised) {
    long i = 0;
#ifdef SF_X86
    const long ra = 31 - sa, rb = 31 - sb;
    if (vectorised && ra >= 1 && ra <= 62 && rb >= 1 && rb <= 62) i = add_vector(y, a, b, ma, ra, mb, rb, za, zb, zy, count);
#endif
    for (; i < count; i++) y[i] = add_one(a[i], b[i], ma, sa, mb, sb, za, zb, zy);
}
