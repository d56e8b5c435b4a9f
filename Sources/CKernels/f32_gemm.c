// Small-column fp32 GEMMs on AVX-512 for the trainable tail, where a product has few columns
// (pixels × batch: 4 at batch 1, 32 at batch 8 in the 2×2 layers) and OpenBLAS spends as long
// packing its operands as multiplying them. No packing: registers hold a block of the output,
// every output element is one FMA chain over the reduction index in increasing order, so a
// column's values do not depend on how many columns there are or where the blocks fall.
//
//   sf_sgemm_tn:     dx[i][j] = Σ_o w[o][i] · dy[o][j]          (a conv's input gradient)
//   sf_sgemm_tn_i8:  the same with w[o][i] = scale[o] · q[o][i]  (the int8 device's weights,
//                    widened in registers: the fp32 product rounds as QuantizedNetwork.dequantise)
//   sf_sgemm_nn:     y[o][j] = Σ_i w[o][i] · x[i][j]            (a 1×1 conv's forward)
//   sf_sgemm_nt_acc: dw[o][j] += Σ_l dy[o][l] · x[j][l]         (a 1×1 conv's weight gradient at its
//                    chosen input channels; l runs over pixels × batch, often only 4)
#include "CKernels.h"
#include "simd_target.h"

#ifdef SF_X86
#define SF_INLINE static inline __attribute__((always_inline))

/// 16 weights w[o][i0 … i0+15] (masked past k) as fp32.
SF_AVX512 SF_INLINE __m512 load_w(const float *w, const int8_t *q, float scale, long offset, __mmask16 mask) {
    if (q) return _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mask, q + offset))));
    return _mm512_maskz_loadu_ps(mask, w + offset);
}

/// One block of the transposed product: IB×16 rows i from i0 (masked past k), JB columns from j0.
SF_AVX512 SF_INLINE void tn_block(long IB, long JB, long m, long k, long n, const float *w, const int8_t *q, const float *scales,
                                  const float *dy, float *dx, long i0, long j0) {
    __m512 acc[4][8];
    __mmask16 masks[4];
    for (long b = 0; b < IB; b++) {
        const long left = k - (i0 + 16 * b);
        masks[b] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
        for (long j = 0; j < JB; j++) acc[b][j] = _mm512_setzero_ps();
    }
    for (long o = 0; o < m; o++) {
        const float s = scales ? scales[o] : 1.0f;
        __m512 wv[4];
        for (long b = 0; b < IB; b++) wv[b] = load_w(w, q, s, o * k + i0 + 16 * b, masks[b]);
        const float *row = dy + o * n + j0;
        for (long j = 0; j < JB; j++) {
            const __m512 d = _mm512_set1_ps(row[j]);
            for (long b = 0; b < IB; b++) acc[b][j] = _mm512_fmadd_ps(wv[b], d, acc[b][j]);
        }
    }
    float lanes[8][64] __attribute__((aligned(64)));
    for (long j = 0; j < JB; j++)
        for (long b = 0; b < IB; b++) _mm512_store_ps(&lanes[j][16 * b], acc[b][j]);
    for (long b = 0; b < IB; b++) {
        for (long t = 0; t < 16; t++) {
            const long i = i0 + 16 * b + t;
            if (i >= k) break;
            for (long j = 0; j < JB; j++) dx[i * n + j0 + j] = lanes[j][16 * b + t];
        }
    }
}

#define TN_CASE(IB, JB) tn_block(IB, JB, m, k, n, w, q, scales, dy, dx, i0, j0)

SF_AVX512 static void tn(long m, long k, long n, const float *w, const int8_t *q, const float *scales, const float *dy, float *dx) {
    // Four columns or fewer (batch 1): 4 vectors of rows per block; otherwise 2 vectors × 8 columns.
    const long IB = n <= 4 ? 4 : 2;
    for (long i0 = 0; i0 < k; i0 += 16 * IB) {
        for (long j0 = 0; j0 < n; j0 += 8) {
            const long jb = n - j0 < 8 ? n - j0 : 8;
            if (IB == 4) {
                switch (jb) {
                case 1: TN_CASE(4, 1); break;
                case 2: TN_CASE(4, 2); break;
                case 3: TN_CASE(4, 3); break;
                default: TN_CASE(4, 4); break;
                }
            } else {
                switch (jb) {
                case 1: TN_CASE(2, 1); break;
                case 2: TN_CASE(2, 2); break;
                case 3: TN_CASE(2, 3); break;
                case 4: TN_CASE(2, 4); break;
                case 5: TN_CASE(2, 5); break;
                case 6: TN_CASE(2, 6); break;
                case 7: TN_CASE(2, 7); break;
                default: TN_CASE(2, 8); break;
                }
            }
        }
    }
}

SF_AVX512 void sf_sgemm_tn(long m, long k, long n, const float *w, const float *dy, float *dx) {
    tn(m, k, n, w, 0, 0, dy, dx);
}

SF_AVX512 void sf_sgemm_tn_i8(long m, long k, long n, const int8_t *q, const float *scales, const float *dy, float *dx) {
    tn(m, k, n, 0, q, scales, dy, dx);
}

/// One block of y = w·x: RB rows o from o0, CB×16 columns from j0 (masked past n).
SF_AVX512 SF_INLINE void nn_block(long RB, long CB, long m, long k, long n, const float *w, const float *x, float *y, long o0, long j0) {
    __m512 acc[8][2];
    __mmask16 masks[2];
    for (long c = 0; c < CB; c++) {
        const long left = n - (j0 + 16 * c);
        masks[c] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
    }
    for (long r = 0; r < RB; r++)
        for (long c = 0; c < CB; c++) acc[r][c] = _mm512_setzero_ps();
    const float *rows[8];
    for (long r = 0; r < RB; r++) rows[r] = w + (o0 + r) * k;
    for (long i = 0; i < k; i++) {
        __m512 xv[2];
        for (long c = 0; c < CB; c++) xv[c] = _mm512_maskz_loadu_ps(masks[c], x + i * n + j0 + 16 * c);
        for (long r = 0; r < RB; r++) {
            const __m512 a = _mm512_set1_ps(rows[r][i]);
            for (long c = 0; c < CB; c++) acc[r][c] = _mm512_fmadd_ps(a, xv[c], acc[r][c]);
        }
    }
    for (long r = 0; r < RB; r++)
        for (long c = 0; c < CB; c++) _mm512_mask_storeu_ps(y + (o0 + r) * n + j0 + 16 * c, masks[c], acc[r][c]);
}

#define NN_CASE(RB, CB) nn_block(RB, CB, m, k, n, w, x, y, o0, j0)

SF_AVX512 void sf_sgemm_nn(long m, long k, long n, const float *w, const float *x, float *y) {
    for (long j0 = 0; j0 < n; j0 += 32) {
        const long cb = n - j0 > 16 ? 2 : 1;
        for (long o0 = 0; o0 < m; o0 += 8) {
            const long rb = m - o0 < 8 ? m - o0 : 8;
            if (cb == 2) {
                switch (rb) {
                case 1: NN_CASE(1, 2); break;
                case 2: NN_CASE(2, 2); break;
                case 3: NN_CASE(3, 2); break;
                case 4: NN_CASE(4, 2); break;
                case 5: NN_CASE(5, 2); break;
                case 6: NN_CASE(6, 2); break;
                case 7: NN_CASE(7, 2); break;
                default: NN_CASE(8, 2); break;
                }
            } else {
                switch (rb) {
                case 1: NN_CASE(1, 1); break;
                case 2: NN_CASE(2, 1); break;
                case 3: NN_CASE(3, 1); break;
                case 4: NN_CASE(4, 1); break;
                case 5: NN_CASE(5, 1); break;
                case 6: NN_CASE(6, 1); break;
                case 7: NN_CASE(7, 1); break;
                default: NN_CASE(8, 1); break;
                }
            }
        }
    }
}
/// One block of c += a·bᵀ: RB rows o from o0, CB×16 columns j from j0 (masked past n), bT [p][n16].
SF_AVX512 SF_INLINE void nt_block(long RB, long CB, long n, long n16, long p, const float *a, const float *bT, float *c, long o0, long j0) {
    __m512 acc[4][2];
    __mmask16 masks[2];
    for (long v = 0; v < CB; v++) {
        const long left = n - (j0 + 16 * v);
        masks[v] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
    }
    for (long r = 0; r < RB; r++)
        for (long v = 0; v < CB; v++) acc[r][v] = _mm512_maskz_loadu_ps(masks[v], c + (o0 + r) * n + j0 + 16 * v);
    for (long l = 0; l < p; l++) {
        __m512 bv[2];
        for (long v = 0; v < CB; v++) bv[v] = _mm512_load_ps(bT + l * n16 + j0 + 16 * v);
        for (long r = 0; r < RB; r++) {
            const __m512 av = _mm512_set1_ps(a[(o0 + r) * p + l]);
            for (long v = 0; v < CB; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (long r = 0; r < RB; r++)
        for (long v = 0; v < CB; v++) _mm512_mask_storeu_ps(c + (o0 + r) * n + j0 + 16 * v, masks[v], acc[r][v]);
}

#define NT_CASE(RB, CB) nt_block(RB, CB, n, n16, p, a, bT, c, o0, j0)

long sf_sgemm_nt_scratch_bytes(long n, long p) { return (((n + 15) & ~15L) * p) * (long)sizeof(float) + 64; }

SF_AVX512 void sf_sgemm_nt_acc(long m, long n, long p, const float *a, const float *b, float *c, float *scratch) {
    const long n16 = (n + 15) & ~15L;
    float *bT = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    for (long l = 0; l < p; l++) {
        for (long j = 0; j < n; j++) bT[l * n16 + j] = b[j * p + l];
        for (long j = n; j < n16; j++) bT[l * n16 + j] = 0.0f;
    }
    for (long j0 = 0; j0 < n; j0 += 32) {
        const long cb = n - j0 > 16 ? 2 : 1;
        for (long o0 = 0; o0 < m; o0 += 4) {
            const long rb = m - o0 < 4 ? m - o0 : 4;
            if (cb == 2) {
                switch (rb) {
                case 1: NT_CASE(1, 2); break;
                case 2: NT_CASE(2, 2); break;
                case 3: NT_CASE(3, 2); break;
                default: NT_CASE(4, 2); break;
                }
            } else {
                switch (rb) {
                case 1: NT_CASE(1, 1); break;
                case 2: NT_CASE(2, 1); break;
                case 3: NT_CASE(3, 1); break;
                default: NT_CASE(4, 1); break;
                }
            }
        }
    }
}
#else
long sf_sgemm_nt_scratch_bytes(long n, long p) { (void)n; (void)p; return 64; }
void sf_sgemm_nt_acc(long m, long n, long p, const float *a, const float *b, float *c, float *scratch) {
    (void)m; (void)n; (void)p; (void)a; (void)b; (void)c; (void)scratch;
}
void sf_sgemm_tn(long m, long k, long n, const float *w, const float *dy, float *dx) { (void)m; (void)k; (void)n; (void)w; (void)dy; (void)dx; }
void sf_sgemm_tn_i8(long m, long k, long n, const int8_t *q, const float *scales, const float *dy, float *dx) {
    (void)m; (void)k; (void)n; (void)q; (void)scales; (void)dy; (void)dx;
}
void sf_sgemm_nn(long m, long k, long n, const float *w, const float *x, float *y) { (void)m; (void)k; (void)n; (void)w; (void)x; (void)y; }
#endif

#ifdef SF_X86
/// One row's chosen elements, 16 at a time: gather, w − η·g (multiply then subtract, as Swift
/// computes it), scatter.
SF_AVX512 static long sgd_row(float *row, const int32_t *offsets, long k, const float *g, float lr) {
    const __m512 lrv = _mm512_set1_ps(lr);
    long e = 0;
    for (; e + 16 <= k; e += 16) {
        const __m512i idx = _mm512_loadu_si512((const void *)(offsets + e));
        const __m512 w = _mm512_i32gather_ps(idx, row, 4);
        _mm512_i32scatter_ps(row, idx, _mm512_sub_ps(w, _mm512_mul_ps(lrv, _mm512_loadu_ps(g + e))), 4);
    }
    return e;
}
#endif

void sf_sgd_columns(float *w, long rows, long perRow, const int32_t *offsets, long k, const float *g, float lr) {
    for (long o = 0; o < rows; o++) {
        float *row = w + o * perRow;
        const float *gr = g + o * k;
        long e = 0;
#ifdef SF_X86
        if (sf_avx512_available()) e = sgd_row(row, offsets, k, gr, lr);
#endif
        for (; e < k; e++) row[offsets[e]] -= lr * gr[e];
    }
}
