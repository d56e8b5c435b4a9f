// AVX-512 VNNI int8 GEMM. vpdpbusd multiplies unsigned by signed bytes, four at a time, into
// int32 lanes. B is transposed once into `scratch` as u = b + 128 (b XOR 0x80), each column padded
// with zeros to a multiple of 64 bytes, so Σ u·a = Σ b·a + 128·Σ a, and the row sum Σ a comes
// from the same instruction against a vector of ones. The products wrap modulo 2^32 like the Swift
// loop's &+, so the result is exact whenever the true sum fits in int32.
#include "CKernels.h"
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define SF_X86 1
#endif

/// Columns from which the packed kernel (16 columns per vector) beats the dot-product kernel: at 16
/// and 32 columns (batch 8 on 2×2 planes: 4 and 8 per sample) the dot products' horizontal sums
/// cost more than the packing (AMD EPYC Zen 5, 2026-12-07: 1152×32×192 at 420 against 215 GOP/s,
/// 1152×16×192 at 313 against 207); below 16 the dot products win (1152×4×192: 136 against 78).
#ifndef SF_WIDE
#define SF_WIDE 16
#endif

long sf_int8_gemm_scratch_bytes(long m, long n, long k) {
    long kp = (k + 63) & ~63L;
    long dots = n * kp;
    long k4 = (k + 3) / 4, n16 = (n + 15) & ~15L;
    long packed = k4 * 4 * n16 + m * k4 * 4;
    return (n >= SF_WIDE ? packed : dots) + 64;
}

#ifdef SF_X86
int sf_int8_gemm_vnni_available(void) {
    static int known = -1;  // a benign race: every thread computes the same answer
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
    }
    return known;
}

#define SF_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

/// Four bytes as one int32, from any address.
static inline int32_t load_u32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

SF_TARGET static inline __m512i load_tail(const int8_t *p, long left) {
    if (left >= 64) return _mm512_loadu_si512((const void *)p);
    __mmask64 mask = left <= 0 ? 0 : (~0ULL >> (64 - left));
    return _mm512_maskz_loadu_epi8(mask, p);
}

/// One block of the wide product: RB rows from i0 (RB ≤ 8) × CB·16 columns from j (CB ≤ 2), with
/// RB·CB independent accumulators (enough to cover vpdpbusd's latency), minus 128·Σ row.
SF_TARGET static inline __attribute__((always_inline)) void wide_block(long RB, long CB, long n, long n16, long k4, const uint8_t *pa,
                                                                      const uint8_t *pb, int32_t *c, const int32_t *correction, long i0, long j) {
    __m512i acc[8][2];
    for (long r = 0; r < RB; r++)
        for (long v = 0; v < CB; v++) acc[r][v] = _mm512_setzero_si512();
    const uint8_t *col = pb + j * 4;
    for (long g = 0; g < k4; g++) {
        __m512i bv[2];
        for (long v = 0; v < CB; v++) bv[v] = _mm512_loadu_si512((const void *)(col + g * n16 * 4 + v * 64));
        for (long r = 0; r < RB; r++) {
            const __m512i av = _mm512_set1_epi32(load_u32(pa + ((i0 + r) * k4 + g) * 4));
            for (long v = 0; v < CB; v++) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], bv[v], av);
        }
    }
    for (long v = 0; v < CB; v++) {
        const long left = n - (j + 16 * v);
        const __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
        for (long r = 0; r < RB; r++)
            _mm512_mask_storeu_epi32((void *)(c + (i0 + r) * n + j + 16 * v), mask, _mm512_sub_epi32(acc[r][v], _mm512_set1_epi32(correction[r])));
    }
}

/// `wide_block` for the last rows (fewer than 8, at run time).
SF_TARGET static void wide_block_rows(long rows, long CB, long n, long n16, long k4, const uint8_t *pa, const uint8_t *pb, int32_t *c,
                                      const int32_t *correction, long i0, long j) {
    switch (rows) {
    case 1: wide_block(1, CB, n, n16, k4, pa, pb, c, correction, i0, j); break;
    case 2: wide_block(2, CB, n, n16, k4, pa, pb, c, correction, i0, j); break;
    case 3: wide_block(3, CB, n, n16, k4, pa, pb, c, correction, i0, j); break;
    case 4: wide_block(4, CB, n, n16, k4, pa, pb, c, correction, i0, j); break;
    case 5: wide_block(5, CB, n, n16, k4, pa, pb, c, correction, i0, j); break;
    case 6: wide_block(6, CB, n, n16, k4, pa, pb, c, correction, i0, j); break;
    default: wide_block(7, CB, n, n16, k4, pa, pb, c, correction, i0, j); break;
    }
}

// Wide products (n ≥ SF_WIDE: the early layers' many pixels, and batch 8 in the late layers): B packed as [k/4][n16][4] bytes
// (u = b + 128), A's rows padded to whole 4-byte groups; each vpdpbusd multiplies 16 columns by one
// broadcast group of 4 of A's bytes. Eight rows × 32 columns of accumulators per block.
SF_TARGET static void gemm_wide(long m, long n, long k, const int8_t *a, const int8_t *b, int32_t *c, uint8_t *scratch) {
    const long k4 = (k + 3) / 4, n16 = (n + 15) & ~15L;
    uint8_t *pb = scratch;
    // A's rows as whole 4-byte groups: A itself when k is a multiple of 4 (read with unaligned
    // 32-bit loads), else a zero-padded copy.
    uint8_t *padded = scratch + ((k4 * 4 * n16 + 63) & ~63L);
    const uint8_t *pa = k % 4 == 0 ? (const uint8_t *)a : padded;
    for (long g = 0; g < k4; g++) {
        uint8_t *dst = pb + g * n16 * 4;
        for (long t = 0; t < 4; t++) {
            long l = 4 * g + t;
            if (l < k) {
                const int8_t *src = b + l * n;
                for (long j = 0; j < n; j++) dst[j * 4 + t] = (uint8_t)src[j] ^ 0x80u;
            } else {
                for (long j = 0; j < n; j++) dst[j * 4 + t] = 0;
            }
            for (long j = n; j < n16; j++) dst[j * 4 + t] = 0;
        }
    }
    if (k % 4 != 0) {
        for (long i = 0; i < m; i++) {
            for (long g = 0; g < k4; g++) {
                for (long t = 0; t < 4; t++) padded[(i * k4 + g) * 4 + t] = 4 * g + t < k ? (uint8_t)a[i * k + 4 * g + t] : 0;
            }
        }
    }
    const __m512i ones = _mm512_set1_epi8(1);
    int32_t correction[8];
    for (long i0 = 0; i0 < m; i0 += 8) {
        const long rows = m - i0 < 8 ? m - i0 : 8;
        for (long r = 0; r < rows; r++) {
            const int8_t *row = a + (i0 + r) * k;
            __m512i rs = _mm512_setzero_si512();
            for (long l = 0; l < k; l += 64) rs = _mm512_dpbusd_epi32(rs, ones, load_tail(row + l, k - l));
            correction[r] = 128 * _mm512_reduce_add_epi32(rs);
        }
        for (long j = 0; j < n16; j += 32) {
            const long vectors = n16 - j >= 32 ? 2 : 1;
            if (rows == 8 && vectors == 2) wide_block(8, 2, n, n16, k4, pa, pb, c, correction, i0, j);
            else if (rows == 8) wide_block(8, 1, n, n16, k4, pa, pb, c, correction, i0, j);
            else if (vectors == 2) wide_block_rows(rows, 2, n, n16, k4, pa, pb, c, correction, i0, j);
            else wide_block_rows(rows, 1, n, n16, k4, pa, pb, c, correction, i0, j);
        }
    }
}

SF_TARGET void sf_int8_gemm_vnni(long m, long n, long k, const int8_t *a, const int8_t *b, int32_t *c, uint8_t *scratch) {
    if (n >= SF_WIDE) { gemm_wide(m, n, k, a, b, c, scratch); return; }
    const long kp = (k + 63) & ~63L;
    uint8_t *bt = scratch;
    for (long j = 0; j < n; j++) {
        uint8_t *col = bt + j * kp;
        for (long l = 0; l < k; l++) col[l] = (uint8_t)b[l * n + j] ^ 0x80u;
        memset(col + k, 0, (size_t)(kp - k));
    }
    const __m512i ones = _mm512_set1_epi8(1);
    const long n4 = n & ~3L;
    for (long i = 0; i < m; i++) {
        const int8_t *row = a + i * k;
        __m512i rs = _mm512_setzero_si512();
        for (long l = 0; l < kp; l += 64) rs = _mm512_dpbusd_epi32(rs, ones, load_tail(row + l, k - l));
        const int32_t correction = 128 * _mm512_reduce_add_epi32(rs);
        int32_t *out = c + i * n;
        long j = 0;
        for (; j < n4; j += 4) {
            const uint8_t *c0 = bt + j * kp, *c1 = c0 + kp, *c2 = c1 + kp, *c3 = c2 + kp;
            __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
            for (long l = 0; l < kp; l += 64) {
                __m512i w = load_tail(row + l, k - l);
                s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512((const void *)(c0 + l)), w);
                s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512((const void *)(c1 + l)), w);
                s2 = _mm512_dpbusd_epi32(s2, _mm512_loadu_si512((const void *)(c2 + l)), w);
                s3 = _mm512_dpbusd_epi32(s3, _mm512_loadu_si512((const void *)(c3 + l)), w);
            }
            out[j] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(s0) - (uint32_t)correction);
            out[j + 1] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(s1) - (uint32_t)correction);
            out[j + 2] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(s2) - (uint32_t)correction);
            out[j + 3] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(s3) - (uint32_t)correction);
        }
        for (; j < n; j++) {
            const uint8_t *c0 = bt + j * kp;
            __m512i s0 = _mm512_setzero_si512();
            for (long l = 0; l < kp; l += 64) s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512((const void *)(c0 + l)), load_tail(row + l, k - l));
            out[j] = (int32_t)((uint32_t)_mm512_reduce_add_epi32(s0) - (uint32_t)correction);
        }
    }
}
#else
int sf_int8_gemm_vnni_available(void) { return 0; }
void sf_int8_gemm_vnni(long m, long n, long k, const int8_t *a, const int8_t *b, int32_t *c, uint8_t *scratch) {
    (void)m; (void)n; (void)k; (void)a; (void)b; (void)c; (void)scratch;
}
#endif
