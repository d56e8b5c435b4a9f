// The QAS update of int8 weights (QASUpdate.weights without fp32 masters) on AVX-512, eight
// elements at a time in double precision, bitwise equal to the Swift loop: the same IEEE
// operations in the same order (compiled without floating-point contraction), the same
// SplitMix64 counter hash for stochastic rounding, the same clamp (NaN goes to +127 as Swift's
// min/max send it).
#include "CKernels.h"
#include "simd_target.h"
#include <math.h>

static inline uint64_t mix(uint64_t seed, uint64_t counter) {
    uint64_t z = seed + counter * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// One element, as QASUpdate.weights computes it.
static inline int8_t update_one(int8_t wq, double s, double ss, float g, double lr, int stochastic, uint64_t seed, uint64_t counter) {
    double gBar = s * (double)g;
    double scaled = gBar / ss;
    double v = (double)wq - lr * scaled;
    double r;
    if (stochastic) {
        double f = floor(v);
        double u = (double)(mix(seed, counter) >> 11) / 9007199254740992.0;
        r = f + (u < v - f ? 1.0 : 0.0);
    } else {
        r = round(v);
    }
    double t = r < 127.0 ? r : 127.0;
    t = t >= -127.0 ? t : -127.0;
    return (int8_t)(int)t;
}

#ifdef SF_X86
SF_AVX512 static void update_row(int8_t *w, long base, const long *offsets, long count, const float *g, double s, double ss, double lr,
                                 int stochastic, uint64_t seed, uint64_t tensorBits) {
    const __m512d sv = _mm512_set1_pd(s), ssv = _mm512_set1_pd(ss), lrv = _mm512_set1_pd(lr);
    const __m512d hi = _mm512_set1_pd(127.0), lo = _mm512_set1_pd(-127.0), one = _mm512_set1_pd(1.0);
    const __m512d unit = _mm512_set1_pd(1.0 / 9007199254740992.0);
    const __m512i seedv = _mm512_set1_epi64((long long)seed), tv = _mm512_set1_epi64((long long)tensorBits);
    const __m512i c1 = _mm512_set1_epi64((long long)0x9E3779B97F4A7C15ULL), c2 = _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ULL);
    const __m512i c3 = _mm512_set1_epi64((long long)0x94D049BB133111EBULL);
    for (long i = 0; i < count; i += 8) {
        const long n = count - i < 8 ? count - i : 8;
        const __mmask8 mask = (__mmask8)((1u << n) - 1u);
        long long idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int32_t cur[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (long e = 0; e < n; e++) {
            idx[e] = base + offsets[i + e];
            cur[e] = w[idx[e]];
        }
        __m512d gv = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, g + i));
        __m512d scaled = _mm512_div_pd(_mm512_mul_pd(sv, gv), ssv);
        __m512d v = _mm512_sub_pd(_mm512_cvtepi32_pd(_mm256_loadu_si256((const __m256i *)(const void *)cur)), _mm512_mul_pd(lrv, scaled));
        __m512d r;
        if (stochastic) {
            __m512d f = _mm512_roundscale_pd(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
            __m512i z = _mm512_xor_si512(tv, _mm512_loadu_si512((const void *)idx));
            z = _mm512_add_epi64(seedv, _mm512_mullo_epi64(z, c1));
            z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), c2);
            z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), c3);
            z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
            __m512d u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(z, 11)), unit);
            __mmask8 up = _mm512_cmp_pd_mask(u, _mm512_sub_pd(v, f), _CMP_LT_OQ);
            r = _mm512_mask_add_pd(f, up, f, one);
        } else {
            r = _mm512_setzero_pd();  // not reached: round-to-nearest runs the scalar loop
        }
        __m512d t = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(r, hi, _CMP_LT_OQ), hi, r);
        t = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(t, lo, _CMP_GE_OQ), lo, t);
        int32_t out[8];
        _mm256_storeu_si256((__m256i *)(void *)out, _mm512_cvttpd_epi32(t));
        for (long e = 0; e < n; e++) w[idx[e]] = (int8_t)out[e];
    }
}
#endif

void sf_qas_update_weights(int8_t *w, const float *scales, long perRow, const long *rows, long rowCount, const long *offsets, long offsetCount,
                           const float *g, float lr, int stochastic, uint64_t seed, long tensor, int vectorised) {
    const double lrD = (double)lr;
    const uint64_t tensorBits = (uint64_t)tensor << 40;
    long i = 0;
    for (long r = 0; r < rowCount; r++) {
        const long row = rows ? rows[r] : r, base = row * perRow;
        const double s = (double)scales[row], ss = s * s;
#ifdef SF_X86
        if (vectorised && stochastic) {
            update_row(w, base, offsets, offsetCount, g + i, s, ss, lrD, stochastic, seed, tensorBits);
            i += offsetCount;
            continue;
        }
#endif
        for (long e = 0; e < offsetCount; e++, i++) {
            const long j = base + offsets[e];
            w[j] = update_one(w[j], s, ss, g[i], lrD, stochastic, seed, tensorBits ^ (uint64_t)j);
        }
    }
}
