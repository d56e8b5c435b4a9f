// The QAS update of int8 weights (QASUpdate.weights without fp32 masters) on AVX-512, eight
// elements at a time in double precision, bitwise equal to the Swift loop: the same IEEE
// operations in the same order (compiled without floating-point contraction), the same
// SplitMix64 counter hash for stochastic rounding, the same clamp (NaN goes to +127 as Swift's
// min/max send it). A row whose offsets are consecutive (the classifier, a depthwise channel's
// taps) loads and stores its bytes directly; scattered offsets (a 1×1 conv's chosen input
// channels) go through a small buffer.
#include "CKernels.h"
#include "simd_target.h"
#include <math.h>

static inline uint64_t mix(uint64_t seed, uint64_t counter) {
    uint64_t z = seed + counter * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// One element, as QASUpdate.weights computes it: v = w − g·(η/s), rounded and clamped.
static inline int8_t update_one(int8_t wq, double step, float g, int stochastic, uint64_t seed, uint64_t counter) {
    double v = (double)wq - (double)g * step;
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
/// Eight stochastic updates: `cur` the int8 weights (as int64), `j` their element indices.
SF_AVX512 static inline __m128i update8(__m512i cur, __m512i j, __m512d g, __m512d step, __m512i seedv, __m512i tv) {
    const __m512d hi = _mm512_set1_pd(127.0), lo = _mm512_set1_pd(-127.0), one = _mm512_set1_pd(1.0);
    const __m512d unit = _mm512_set1_pd(1.0 / 9007199254740992.0);
    const __m512i c1 = _mm512_set1_epi64((long long)0x9E3779B97F4A7C15ULL), c2 = _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ULL);
    const __m512i c3 = _mm512_set1_epi64((long long)0x94D049BB133111EBULL);
    __m512d v = _mm512_sub_pd(_mm512_cvtepi64_pd(cur), _mm512_mul_pd(g, step));
    __m512d f = _mm512_roundscale_pd(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512i z = _mm512_xor_si512(tv, j);
    z = _mm512_add_epi64(seedv, _mm512_mullo_epi64(z, c1));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), c2);
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), c3);
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
    __m512d u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(z, 11)), unit);
    __mmask8 up = _mm512_cmp_pd_mask(u, _mm512_sub_pd(v, f), _CMP_LT_OQ);
    __m512d r = _mm512_mask_add_pd(f, up, f, one);
    __m512d t = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(r, hi, _CMP_LT_OQ), hi, r);
    t = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(t, lo, _CMP_GE_OQ), lo, t);
    return _mm512_cvtepi64_epi8(_mm512_cvttpd_epi64(t));
}

SF_AVX512 static void update_row(int8_t *w, long base, const long *offsets, long count, const float *g, double step,
                                 uint64_t seed, uint64_t tensorBits) {
    const __m512d stepv = _mm512_set1_pd(step);
    const __m512i seedv = _mm512_set1_epi64((long long)seed), tv = _mm512_set1_epi64((long long)tensorBits);
    int contiguous = 1;
    for (long e = 1; e < count && contiguous; e++) contiguous = offsets[e] == offsets[0] + e;
    if (contiguous) {
        // 64 bytes per load and per store: a load overlapping the previous iteration's masked store
        // would wait for it to retire.
        int8_t *row = w + base + offsets[0];
        const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
        for (long i = 0; i < count; i += 64) {
            const long n = count - i < 64 ? count - i : 64;
            const __mmask64 mask = n == 64 ? ~0ULL : (1ULL << n) - 1ULL;
            int8_t buf[64] __attribute__((aligned(64)));
            _mm512_store_si512((void *)buf, _mm512_maskz_loadu_epi8(mask, row + i));
            __m128i out[8];
            for (long s8 = 0; s8 < 8; s8++) {
                const long at = i + 8 * s8;
                if (8 * s8 >= n) { out[s8] = _mm_setzero_si128(); continue; }
                const long m = n - 8 * s8 < 8 ? n - 8 * s8 : 8;
                const __mmask8 gm = (__mmask8)((1u << m) - 1u);
                const __m128i eight = _mm_loadl_epi64((const __m128i *)(const void *)(buf + 8 * s8));
                __m512i j = _mm512_add_epi64(_mm512_set1_epi64(base + offsets[0] + at), lane);
                __m512d gv = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(gm, g + at));
                out[s8] = update8(_mm512_cvtepi8_epi64(eight), j, gv, stepv, seedv, tv);
            }
            __m512i packed = _mm512_castsi128_si512(_mm_unpacklo_epi64(out[0], out[1]));
            packed = _mm512_inserti32x4(packed, _mm_unpacklo_epi64(out[2], out[3]), 1);
            packed = _mm512_inserti32x4(packed, _mm_unpacklo_epi64(out[4], out[5]), 2);
            packed = _mm512_inserti32x4(packed, _mm_unpacklo_epi64(out[6], out[7]), 3);
            _mm512_mask_storeu_epi8(row + i, mask, packed);
        }
        return;
    }
    const __m512i basev = _mm512_set1_epi64(base);
    for (long i = 0; i < count; i += 8) {
        const long n = count - i < 8 ? count - i : 8;
        const __mmask8 mask = (__mmask8)((1u << n) - 1u);
        const long *o = offsets + i;
        __m512i j = _mm512_add_epi64(basev, _mm512_maskz_loadu_epi64(mask, o));
        // The bytes straight into a register (byte stores then a vector load would stall).
        const int8_t *r = w + base;
        __m512i cur = n == 8 ? _mm512_set_epi64(r[o[7]], r[o[6]], r[o[5]], r[o[4]], r[o[3]], r[o[2]], r[o[1]], r[o[0]])
                             : _mm512_set_epi64(n > 7 ? r[o[7]] : 0, n > 6 ? r[o[6]] : 0, n > 5 ? r[o[5]] : 0, n > 4 ? r[o[4]] : 0,
                                                n > 3 ? r[o[3]] : 0, n > 2 ? r[o[2]] : 0, n > 1 ? r[o[1]] : 0, r[o[0]]);
        __m512d gv = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mask, g + i));
        const __m128i res = update8(cur, j, gv, stepv, seedv, tv);
        const uint64_t bytes = (uint64_t)_mm_cvtsi128_si64(res);
        for (long e = 0; e < n; e++) w[base + o[e]] = (int8_t)(bytes >> (8 * e));
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
        const double step = lrD / (double)scales[row];
#ifdef SF_X86
        if (vectorised && stochastic) {
            update_row(w, base, offsets, offsetCount, g + i, step, seed, tensorBits);
            i += offsetCount;
            continue;
        }
#endif
        for (long e = 0; e < offsetCount; e++, i++) {
            const long j = base + offsets[e];
            w[j] = update_one(w[j], step, g[i], stochastic, seed, tensorBits ^ (uint64_t)j);
        }
    }
}
