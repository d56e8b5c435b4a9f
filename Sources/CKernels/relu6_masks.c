// ReLU6's 1-bit backward masks on AVX-512: value i is bit (i % 8) of byte i / 8, which is the
// order of an AVX-512 mask register stored little-endian, so a compare writes the bits directly.
// Pure compares and selects: bitwise equal to ReLU6's and QuantizedTrainer's Swift loops (the
// bits past the last value are 0, as those loops leave them).
#include "CKernels.h"
#include "simd_target.h"
#include <string.h>

#ifdef SF_X86
SF_AVX512 static void store_bits(uint8_t *bits, uint64_t mask, long values) {
    const long bytes = (values + 7) / 8;
    if (values < 64) mask &= (1ULL << values) - 1ULL;
    memcpy(bits, &mask, (size_t)bytes);
}

SF_AVX512 void sf_int8_relu6_mask(const int8_t *y, long count, int32_t low, int32_t high, uint8_t *bits) {
    const int16_t lo = low < -32768 ? -32768 : low > 32767 ? 32767 : (int16_t)low;
    const int16_t hi = high < -32768 ? -32768 : high > 32767 ? 32767 : (int16_t)high;
    const __m512i lov = _mm512_set1_epi16(lo), hiv = _mm512_set1_epi16(hi);
    for (long i = 0; i < count; i += 64) {
        const long n = count - i < 64 ? count - i : 64;
        uint64_t mask = 0;
        for (long h = 0; h < n; h += 32) {
            const long left = n - h;
            const __mmask32 load = left >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << left) - 1u);
            const __m512i v = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(load, y + i + h));
            const __mmask32 inside = _mm512_cmpgt_epi16_mask(v, lov) & _mm512_cmplt_epi16_mask(v, hiv) & load;
            mask |= (uint64_t)inside << h;
        }
        store_bits(bits + i / 8, mask, n);
    }
}

SF_AVX512 void sf_f32_relu6_mask(const float *y, long count, uint8_t *bits) {
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    for (long i = 0; i < count; i += 64) {
        const long n = count - i < 64 ? count - i : 64;
        uint64_t mask = 0;
        for (long h = 0; h < n; h += 16) {
            const long left = n - h;
            const __mmask16 load = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            const __m512 v = _mm512_maskz_loadu_ps(load, y + i + h);
            const __mmask16 inside = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ) & _mm512_cmp_ps_mask(v, six, _CMP_LT_OQ) & load;
            mask |= (uint64_t)inside << h;
        }
        store_bits(bits + i / 8, mask, n);
    }
}

SF_AVX512 void sf_relu6_backward_bits(float *dx, const float *dy, const uint8_t *bits, long count) {
    for (long i = 0; i < count; i += 16) {
        const long left = count - i;
        const __mmask16 live = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        uint16_t word = 0;
        memcpy(&word, bits + i / 8, left > 8 ? 2 : 1);
        const __mmask16 pass = (__mmask16)word & live;
        _mm512_mask_storeu_ps(dx + i, live, _mm512_maskz_mov_ps(pass, _mm512_maskz_loadu_ps(live, dy + i)));
    }
}
#else
void sf_int8_relu6_mask(const int8_t *y, long count, int32_t low, int32_t high, uint8_t *bits) {
    (void)y; (void)count; (void)low; (void)high; (void)bits;
}
void sf_f32_relu6_mask(const float *y, long count, uint8_t *bits) { (void)y; (void)count; (void)bits; }
void sf_relu6_backward_bits(float *dx, const float *dy, const uint8_t *bits, long count) { (void)dx; (void)dy; (void)bits; (void)count; }
#endif

#ifdef SF_X86
/// dbias[c] += Σ_i dy[c·plane + i] for 16 channels at a time, each lane summing its own plane in
/// increasing order (the Swift loop's order, so the same bits), read by strided gathers.
SF_AVX512 static long bias_vector(float *dbias, const float *dy, long channels, long plane) {
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i stride = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)plane));
    long c = 0;
    for (; c + 16 <= channels; c += 16) {
        __m512 s = _mm512_setzero_ps();
        const float *base = dy + c * plane;
        for (long i = 0; i < plane; i++) s = _mm512_add_ps(s, _mm512_i32gather_ps(stride, base + i, 4));
        _mm512_storeu_ps(dbias + c, _mm512_add_ps(_mm512_loadu_ps(dbias + c), s));
    }
    return c;
}
#endif

void sf_bias_gradient(float *dbias, const float *dy, long channels, long plane) {
    long c = 0;
#ifdef SF_X86
    if (sf_avx512_available() && plane <= 8 && channels * plane < (1L << 29)) c = bias_vector(dbias, dy, channels, plane);
#endif
    for (; c < channels; c++) {
        float s = 0;
        for (long i = 0; i < plane; i++) s += dy[c * plane + i];
        dbias[c] += s;
    }
}
