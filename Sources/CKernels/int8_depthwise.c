// The int8 depthwise accumulation on AVX-512 with the channels in the vector lanes: 16 channels
// of one sample are laid out as a padded [Hp][Wp][16] block of int32 (padding holds the input's
// zero point), and every tap is one 16-lane multiply-add (vpmaddwd on values that fit int16)
// against the weights in lane order ([C/16][taps][16], built once per weight array by
// sf_int8_depthwise_lanes). Exact in int32, so bitwise equal to Int8Kernels.depthwisePortable, at
// any plane size.
#include "CKernels.h"
#include "simd_target.h"

long sf_int8_depthwise_scratch_bytes(long kh, long kw, long sh, long sw, long oh, long ow) {
    const long hp = (oh - 1) * sh + kh, wp = (ow - 1) * sw + kw;
    return (hp * wp + oh * ow) * 16 * (long)sizeof(int32_t) + 64;
}

void sf_int8_depthwise_lanes(const int8_t *weight, long channels, long taps, int32_t *lanes) {
    for (long c0 = 0; c0 < channels; c0 += 16) {
        int32_t *block = lanes + (c0 / 16) * taps * 16;
        for (long t = 0; t < taps; t++) {
            for (long l = 0; l < 16; l++) block[t * 16 + l] = c0 + l < channels ? (int32_t)(uint16_t)(int16_t)weight[(c0 + l) * taps + t] : 0;
        }
    }
}

#ifdef SF_X86
SF_AVX512 void sf_int8_depthwise(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                                 long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch) {
    const long hp = (oh - 1) * sh + kh, wp = (ow - 1) * sw + kw, taps = kh * kw, plane = h * w, outPlane = oh * ow;
    int32_t *padded = (int32_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int32_t *out16 = padded + hp * wp * 16;
    const __m512i padv = _mm512_set1_epi32((int32_t)pad);
    for (long c0 = 0; c0 < channels; c0 += 16) {
        const long cn = channels - c0 < 16 ? channels - c0 : 16;
        const int32_t *weights = lanes + (c0 / 16) * taps * 16;
        for (long b = 0; b < batch; b++) {
            for (long i = 0; i < hp * wp; i++) _mm512_store_si512((void *)(padded + i * 16), padv);
            for (long l = 0; l < cn; l++) {
                const int8_t *src = x + ((c0 + l) * batch + b) * plane;
                for (long iy = 0; iy < h; iy++) {
                    const long py = iy + pt;
                    if (py >= hp) break;
                    for (long ix = 0; ix < w; ix++) {
                        const long px = ix + pl;
                        if (px >= wp) break;
                        padded[(py * wp + px) * 16 + l] = (int32_t)src[iy * w + ix];
                    }
                }
            }
            for (long y = 0; y < oh; y++) {
                for (long xo = 0; xo < ow; xo++) {
                    __m512i s = _mm512_setzero_si512();
                    for (long ki = 0; ki < kh; ki++) {
                        const int32_t *row = padded + ((y * sh + ki) * wp + xo * sw) * 16;
                        const int32_t *wt = weights + ki * kw * 16;
                        for (long kj = 0; kj < kw; kj++) {
                            s = _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_load_si512((const void *)(row + kj * 16)),
                                                                      _mm512_loadu_si512((const void *)(wt + kj * 16))));
                        }
                    }
                    _mm512_store_si512((void *)(out16 + (y * ow + xo) * 16), s);
                }
            }
            for (long l = 0; l < cn; l++) {
                int32_t *out = acc + ((c0 + l) * batch + b) * outPlane;
                for (long p = 0; p < outPlane; p++) out[p] = out16[p * 16 + l];
            }
        }
    }
}
#else
void sf_int8_depthwise(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                       long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch) {
    (void)acc; (void)x; (void)lanes; (void)channels; (void)batch; (void)h; (void)w; (void)kh; (void)kw; (void)sh; (void)sw;
    (void)pt; (void)pl; (void)oh; (void)ow; (void)pad; (void)scratch;
}
#endif
