// fp32 depthwise convolutions on AVX-512 with the channels in the vector lanes, for the narrow
// planes of the late layers (2×2, 4×4), where the batch alone fills few lanes:
//   - forward: 16 channels of one sample in a zero-bordered [Hp][Wp][16] block, each output the
//     bias then one FMA per tap in kernel order;
//   - input gradient: each output position's gradient scattered into a zeroed padded block with
//     one FMA per tap (output rows, output columns, kernel rows, kernel columns), the interior
//     then being the input gradient.
// Both keep the order of Depthwise's narrow-plane path, so the results are bitwise equal to it.
#include "CKernels.h"
#include "simd_target.h"

void sf_f32_depthwise_lanes(const int8_t *q, const float *scales, const float *w, long channels, long taps, float *lanes) {
    for (long c0 = 0; c0 < channels; c0 += 16) {
        float *block = lanes + (c0 / 16) * taps * 16;
        for (long t = 0; t < taps; t++) {
            for (long l = 0; l < 16; l++) {
                const long c = c0 + l;
                block[t * 16 + l] = c >= channels ? 0.0f : q ? scales[c] * (float)q[c * taps + t] : w[c * taps + t];
            }
        }
    }
}

long sf_f32_depthwise_scratch_bytes(long h, long w, long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow) {
    long hp = (oh - 1) * sh + kh, wp = (ow - 1) * sw + kw;
    if (pt + h > hp) hp = pt + h;
    if (pl + w > wp) wp = pl + w;
    return hp * wp * 16 * (long)sizeof(float) + 64;
}

#ifdef SF_X86
SF_AVX512 void sf_f32_depthwise_forward(float *y, const float *x, const float *lanes, const float *bias, long channels, long batch, long h,
                                        long w, long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, float *scratch) {
    long hp = (oh - 1) * sh + kh, wp = (ow - 1) * sw + kw;
    if (pt + h > hp) hp = pt + h;
    if (pl + w > wp) wp = pl + w;
    const long taps = kh * kw, plane = h * w, outPlane = oh * ow;
    float *padded = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    for (long i = 0; i < hp * wp; i++) _mm512_store_ps(padded + i * 16, _mm512_setzero_ps());  // borders stay 0
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i inStride = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)(batch * plane)));
    const __m512i outStride = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)(batch * outPlane)));
    for (long c0 = 0; c0 < channels; c0 += 16) {
        const long cn = channels - c0 < 16 ? channels - c0 : 16;
        const __mmask16 live = cn == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cn) - 1u);
        const float *weights = lanes + (c0 / 16) * taps * 16;
        const __m512 b0 = bias ? _mm512_maskz_loadu_ps(live, bias + c0) : _mm512_setzero_ps();
        for (long b = 0; b < batch; b++) {
            const float *src = x + (c0 * batch + b) * plane;
            for (long iy = 0; iy < h; iy++)
                for (long ix = 0; ix < w; ix++)
                    _mm512_store_ps(padded + ((iy + pt) * wp + ix + pl) * 16,
                                    _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, inStride, src + iy * w + ix, 4));
            // Four output positions at a time (four independent FMA chains, each in kernel order).
            long p0 = 0;
            for (; p0 + 4 <= outPlane; p0 += 4) {
                const float *corner[4];
                for (long q = 0; q < 4; q++) corner[q] = padded + (((p0 + q) / ow * sh) * wp + (p0 + q) % ow * sw) * 16;
                __m512 v0 = b0, v1 = b0, v2 = b0, v3 = b0;
                for (long ki = 0; ki < kh; ki++) {
                    for (long kj = 0; kj < kw; kj++) {
                        const __m512 wv = _mm512_loadu_ps(weights + (ki * kw + kj) * 16);
                        const long off = (ki * wp + kj) * 16;
                        v0 = _mm512_fmadd_ps(wv, _mm512_load_ps(corner[0] + off), v0);
                        v1 = _mm512_fmadd_ps(wv, _mm512_load_ps(corner[1] + off), v1);
                        v2 = _mm512_fmadd_ps(wv, _mm512_load_ps(corner[2] + off), v2);
                        v3 = _mm512_fmadd_ps(wv, _mm512_load_ps(corner[3] + off), v3);
                    }
                }
                float *out = y + (c0 * batch + b) * outPlane + p0;
                _mm512_mask_i32scatter_ps(out, live, outStride, v0, 4);
                _mm512_mask_i32scatter_ps(out + 1, live, outStride, v1, 4);
                _mm512_mask_i32scatter_ps(out + 2, live, outStride, v2, 4);
                _mm512_mask_i32scatter_ps(out + 3, live, outStride, v3, 4);
            }
            for (; p0 < outPlane; p0++) {
                __m512 v = b0;
                const float *corner = padded + ((p0 / ow * sh) * wp + p0 % ow * sw) * 16;
                for (long ki = 0; ki < kh; ki++)
                    for (long kj = 0; kj < kw; kj++)
                        v = _mm512_fmadd_ps(_mm512_loadu_ps(weights + (ki * kw + kj) * 16), _mm512_load_ps(corner + (ki * wp + kj) * 16), v);
                _mm512_mask_i32scatter_ps(y + (c0 * batch + b) * outPlane + p0, live, outStride, v, 4);
            }
        }
    }
}

SF_AVX512 void sf_f32_depthwise_backward_input(float *dx, const float *dy, const float *lanes, long channels, long batch, long h, long w,
                                               long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, float *scratch) {
    long hp = (oh - 1) * sh + kh, wp = (ow - 1) * sw + kw;
    if (pt + h > hp) hp = pt + h;
    if (pl + w > wp) wp = pl + w;
    const long taps = kh * kw, plane = h * w, outPlane = oh * ow;
    float *padded = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i inStride = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)(batch * plane)));
    const __m512i outStride = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)(batch * outPlane)));
    for (long c0 = 0; c0 < channels; c0 += 16) {
        const long cn = channels - c0 < 16 ? channels - c0 : 16;
        const __mmask16 live = cn == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cn) - 1u);
        const float *weights = lanes + (c0 / 16) * taps * 16;
        for (long b = 0; b < batch; b++) {
            for (long i = 0; i < hp * wp; i++) _mm512_store_ps(padded + i * 16, _mm512_setzero_ps());
            const float *grad = dy + (c0 * batch + b) * outPlane;
            for (long oy = 0; oy < oh; oy++) {
                for (long ox = 0; ox < ow; ox++) {
                    const __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, outStride, grad + oy * ow + ox, 4);
                    float *corner = padded + ((oy * sh) * wp + ox * sw) * 16;
                    for (long ki = 0; ki < kh; ki++) {
                        for (long kj = 0; kj < kw; kj++) {
                            float *dst = corner + (ki * wp + kj) * 16;
                            _mm512_store_ps(dst, _mm512_fmadd_ps(_mm512_loadu_ps(weights + (ki * kw + kj) * 16), g, _mm512_load_ps(dst)));
                        }
                    }
                }
            }
            float *out = dx + (c0 * batch + b) * plane;
            for (long r = 0; r < h; r++)
                for (long col = 0; col < w; col++)
                    _mm512_mask_i32scatter_ps(out + r * w + col, live, inStride, _mm512_load_ps(padded + ((r + pt) * wp + pl + col) * 16), 4);
        }
    }
}
#else
void sf_f32_depthwise_forward(float *y, const float *x, const float *lanes, const float *bias, long channels, long batch, long h,
                              long w, long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, float *scratch) {
    (void)y; (void)x; (void)lanes; (void)bias; (void)channels; (void)batch; (void)h; (void)w; (void)kh; (void)kw; (void)sh; (void)sw;
    (void)pt; (void)pl; (void)oh; (void)ow; (void)scratch;
}
void sf_f32_depthwise_backward_input(float *dx, const float *dy, const float *lanes, long channels, long batch, long h, long w,
                                     long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, float *scratch) {
    (void)dx; (void)dy; (void)lanes; (void)channels; (void)batch; (void)h; (void)w; (void)kh; (void)kw; (void)sh; (void)sw;
    (void)pt; (void)pl; (void)oh; (void)ow; (void)scratch;
}
#endif
