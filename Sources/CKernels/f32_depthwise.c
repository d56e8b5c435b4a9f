// fp32 depthwise input gradients on AVX-512 with the channels in the vector lanes: for 16
// channels of one sample, each output position's gradient is scattered into a zeroed padded
// [Hp][Wp][16] block with one FMA per tap, then the block's interior is the input gradient. The
// order of the FMAs per element (output rows, output columns, kernel rows, kernel columns) is that
// of Depthwise's narrow-plane path, so the results are bitwise equal to it.
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
    return (hp * wp + oh * ow) * 16 * (long)sizeof(float) + 64;
}

#ifdef SF_X86
SF_AVX512 void sf_f32_depthwise_backward_input(float *dx, const float *dy, const float *lanes, long channels, long batch, long h, long w,
                                               long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, float *scratch) {
    long hp = (oh - 1) * sh + kh, wp = (ow - 1) * sw + kw;
    if (pt + h > hp) hp = pt + h;
    if (pl + w > wp) wp = pl + w;
    const long taps = kh * kw, plane = h * w, outPlane = oh * ow;
    float *padded = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *grad = padded + hp * wp * 16;
    for (long c0 = 0; c0 < channels; c0 += 16) {
        const long cn = channels - c0 < 16 ? channels - c0 : 16;
        const float *weights = lanes + (c0 / 16) * taps * 16;
        for (long b = 0; b < batch; b++) {
            for (long i = 0; i < hp * wp; i++) _mm512_store_ps(padded + i * 16, _mm512_setzero_ps());
            for (long p = 0; p < outPlane; p++) _mm512_store_ps(grad + p * 16, _mm512_setzero_ps());
            for (long l = 0; l < cn; l++) {
                const float *src = dy + ((c0 + l) * batch + b) * outPlane;
                for (long p = 0; p < outPlane; p++) grad[p * 16 + l] = src[p];
            }
            for (long oy = 0; oy < oh; oy++) {
                for (long ox = 0; ox < ow; ox++) {
                    const __m512 g = _mm512_load_ps(grad + (oy * ow + ox) * 16);
                    float *corner = padded + ((oy * sh) * wp + ox * sw) * 16;
                    for (long ki = 0; ki < kh; ki++) {
                        for (long kj = 0; kj < kw; kj++) {
                            float *dst = corner + (ki * wp + kj) * 16;
                            _mm512_store_ps(dst, _mm512_fmadd_ps(_mm512_loadu_ps(weights + (ki * kw + kj) * 16), g, _mm512_load_ps(dst)));
                        }
                    }
                }
            }
            for (long l = 0; l < cn; l++) {
                float *out = dx + ((c0 + l) * batch + b) * plane;
                for (long r = 0; r < h; r++) {
                    const float *src = padded + ((r + pt) * wp + pl) * 16 + l;
                    for (long col = 0; col < w; col++) out[r * w + col] = src[col * 16];
                }
            }
        }
    }
}
#else
void sf_f32_depthwise_backward_input(float *dx, const float *dy, const float *lanes, long channels, long batch, long h, long w,
                                     long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, float *scratch) {
    (void)dx; (void)dy; (void)lanes; (void)channels; (void)batch; (void)h; (void)w; (void)kh; (void)kw; (void)sh; (void)sw;
    (void)pt; (void)pl; (void)oh; (void)ow; (void)scratch;
}
#endif
