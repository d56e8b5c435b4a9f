// The body of the int8 depthwise kernel (int8_depthwise.c), included once per instruction set:
// DEPTHWISE_NAME, DEPTHWISE_TARGET (the function's target attribute) and DEPTHWISE_MAC(s, x, w),
// s + x·w per 32-bit lane, are defined by the includer.
DEPTHWISE_TARGET static void DEPTHWISE_NAME(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                           long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch) {
    const long hp = (oh - 1) * sh + kh, wp = (ow - 1) * sw + kw, taps = kh * kw, plane = h * w, outPlane = oh * ow;
    int32_t *padded = (int32_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    // The border holds the zero point for every block and sample; only the interior is rewritten.
    const __m512i padv = _mm512_set1_epi32((int32_t)pad);
    for (long i = 0; i < hp * wp; i++) _mm512_store_si512((void *)(padded + i * 16), padv);
    // Rows and columns of the input that land inside the padded block.
    const long rows = h < hp - pt ? h : hp - pt, cols = w < wp - pl ? w : wp - pl;
    const int gathered = plane % 4 == 0 && rows == h && cols == w;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i inStride = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)(batch * plane)));
    const __m512i outStride = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)(batch * outPlane)));
    for (long c0 = 0; c0 < channels; c0 += 16) {
        const long cn = channels - c0 < 16 ? channels - c0 : 16;
        const __mmask16 live = cn == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cn) - 1u);
        const int32_t *weights = lanes + (c0 / 16) * taps * 16;
        for (long b = 0; b < batch; b++) {
            const int8_t *src = x + (c0 * batch + b) * plane;
            if (gathered) {  // four pixels of 16 channels per gather, sign-extended byte by byte
                for (long p = 0; p < plane; p += 4) {
                    const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, inStride, src + p, 1);
                    for (long t = 0; t < 4; t++) {
                        const long iy = (p + t) / w, ix = (p + t) % w;
                        const __m512i px = _mm512_srai_epi32(_mm512_sllv_epi32(v, _mm512_set1_epi32((int32_t)(24 - 8 * t))), 24);
                        _mm512_store_si512((void *)(padded + ((iy + pt) * wp + ix + pl) * 16), px);
                    }
                }
            } else {
                for (long l = 0; l < cn; l++) {
                    const int8_t *plane_l = src + l * batch * plane;
                    for (long iy = 0; iy < rows; iy++)
                        for (long ix = 0; ix < cols; ix++) padded[((iy + pt) * wp + ix + pl) * 16 + l] = (int32_t)plane_l[iy * w + ix];
                }
            }
            // Four output positions at a time: four independent chains of multiply-adds (one chain
            // left the instruction's latency exposed).
            long p0 = 0;
            for (; p0 + 4 <= outPlane; p0 += 4) {
                const int32_t *corner[4];
                for (long q = 0; q < 4; q++) corner[q] = padded + (((p0 + q) / ow * sh) * wp + (p0 + q) % ow * sw) * 16;
                __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
                for (long ki = 0; ki < kh; ki++) {
                    const int32_t *wt = weights + ki * kw * 16;
                    const long off = ki * wp * 16;
                    for (long kj = 0; kj < kw; kj++) {
                        const __m512i wv = _mm512_loadu_si512((const void *)(wt + kj * 16));
                        s0 = DEPTHWISE_MAC(s0, _mm512_load_si512((const void *)(corner[0] + off + kj * 16)), wv);
                        s1 = DEPTHWISE_MAC(s1, _mm512_load_si512((const void *)(corner[1] + off + kj * 16)), wv);
                        s2 = DEPTHWISE_MAC(s2, _mm512_load_si512((const void *)(corner[2] + off + kj * 16)), wv);
                        s3 = DEPTHWISE_MAC(s3, _mm512_load_si512((const void *)(corner[3] + off + kj * 16)), wv);
                    }
                }
                int32_t *out = acc + (c0 * batch + b) * outPlane + p0;
                _mm512_mask_i32scatter_epi32(out, live, outStride, s0, 4);
                _mm512_mask_i32scatter_epi32(out + 1, live, outStride, s1, 4);
                _mm512_mask_i32scatter_epi32(out + 2, live, outStride, s2, 4);
                _mm512_mask_i32scatter_epi32(out + 3, live, outStride, s3, 4);
            }
            for (; p0 < outPlane; p0++) {
                const int32_t *corner = padded + ((p0 / ow * sh) * wp + p0 % ow * sw) * 16;
                __m512i s = _mm512_setzero_si512();
                for (long ki = 0; ki < kh; ki++) {
                    const int32_t *wt = weights + ki * kw * 16;
                    for (long kj = 0; kj < kw; kj++) {
                        s = DEPTHWISE_MAC(s, _mm512_load_si512((const void *)(corner + (ki * wp + kj) * 16)), _mm512_loadu_si512((const void *)(wt + kj * 16)));
                    }
                }
                _mm512_mask_i32scatter_epi32(acc + (c0 * batch + b) * outPlane + p0, live, outStride, s, 4);
            }
        }
    }
}
