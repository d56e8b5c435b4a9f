// The int8 depthwise accumulation on AVX-512 with the channels in the vector lanes: 16 channels
// of one sample are laid out as a padded [Hp][Wp][16] block of int32 (padding holds the input's
// zero point), and every tap is one 16-lane multiply-add (vpmaddwd on values that fit int16, or
// vpdpwssd where the CPU has AVX-512 VNNI)
// against the weights in lane order ([C/16][taps][16], built once per weight array by
// sf_int8_depthwise_lanes). Exact in int32, so bitwise equal to Int8Kernels.depthwisePortable, at
// any plane size.
#include "CKernels.h"
#include "simd_target.h"

long sf_int8_depthwise_scratch_bytes(long kh, long kw, long sh, long sw, long oh, long ow) {
    const long hp = (oh - 1) * sh + kh, wp = (ow - 1) * sw + kw;
    return hp * wp * 16 * (long)sizeof(int32_t) + 64;
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
#define DEPTHWISE_NAME depthwise_avx512
#define DEPTHWISE_TARGET SF_AVX512
#define DEPTHWISE_MAC(s, x, w) _mm512_add_epi32((s), _mm512_madd_epi16((x), (w)))
#include "int8_depthwise_body.h"
#undef DEPTHWISE_NAME
#undef DEPTHWISE_TARGET
#undef DEPTHWISE_MAC

// The same with AVX-512 VNNI's vpdpwssd: the multiply-add and the sum in one instruction.
#define DEPTHWISE_NAME depthwise_vnni
#define DEPTHWISE_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define DEPTHWISE_MAC(s, x, w) _mm512_dpwssd_epi32((s), (x), (w))
#include "int8_depthwise_body.h"
#undef DEPTHWISE_NAME
#undef DEPTHWISE_TARGET
#undef DEPTHWISE_MAC

void sf_int8_depthwise(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                       long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch) {
    sf_int8_depthwise_variant(acc, x, lanes, channels, batch, h, w, kh, kw, sh, sw, pt, pl, oh, ow, pad, scratch, sf_int8_gemm_vnni_available());
}

void sf_int8_depthwise_variant(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                               long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch, int vnni) {
    if (vnni) {
        depthwise_vnni(acc, x, lanes, channels, batch, h, w, kh, kw, sh, sw, pt, pl, oh, ow, pad, scratch);
    } else {
        depthwise_avx512(acc, x, lanes, channels, batch, h, w, kh, kw, sh, sw, pt, pl, oh, ow, pad, scratch);
    }
}
#else
void sf_int8_depthwise(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                       long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch) {
    (void)acc; (void)x; (void)lanes; (void)channels; (void)batch; (void)h; (void)w; (void)kh; (void)kw; (void)sh; (void)sw;
    (void)pt; (void)pl; (void)oh; (void)ow; (void)pad; (void)scratch;
}
void sf_int8_depthwise_variant(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                               long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch, int vnni) {
    (void)acc; (void)x; (void)lanes; (void)channels; (void)batch; (void)h; (void)w; (void)kh; (void)kw; (void)sh; (void)sw;
    (void)pt; (void)pl; (void)oh; (void)ow; (void)pad; (void)scratch; (void)vnni;
}
#endif
