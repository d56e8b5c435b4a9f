// The engine's AVX-512 kernels, chosen at run time where the CPU has the instructions; the Swift
// loops (and OpenBLAS) stay the portable path and the reference each kernel is tested against.
#ifndef SPARSEFLEET_CKERNELS_H
#define SPARSEFLEET_CKERNELS_H
#include <stdint.h>

// ---- the int8 GEMM on AVX-512 VNNI (int8_gemm.c) ------------------------------------------------

/// 1 when this CPU and OS run the AVX-512 VNNI kernel, else 0.
int sf_int8_gemm_vnni_available(void);

/// Bytes of scratch `sf_int8_gemm_vnni` needs for an m×k by k×n product.
long sf_int8_gemm_scratch_bytes(long m, long n, long k);

/// c[i·n + j] = Σ_l a[i·k + l] · b[l·n + j], exact in int32 (|k| < 2^16). `scratch` holds
/// `sf_int8_gemm_scratch_bytes(m, n, k)` bytes. Call only when `sf_int8_gemm_vnni_available()`.
void sf_int8_gemm_vnni(long m, long n, long k, const int8_t *a, const int8_t *b, int32_t *c, uint8_t *scratch);

// ---- AVX-512 (F, BW, DQ, VL) kernels -----------------------------------------------------------

/// 1 when this CPU and OS run the AVX-512 F/BW/DQ/VL kernels below, else 0.
int sf_avx512_available(void);

/// y[c][i] = clamp(apply(acc[c][i] + offset[c]) + zero, low, high) with channel c's fixed-point
/// multiplier (FixedPointMultiplier.apply): an int32 mantissa and an int64 shift at the given byte
/// offsets of the c-th `stride`-byte record of `multipliers`; `offset` may be NULL. `vectorised` 0
/// runs the scalar formula only (any CPU).
void sf_int8_requantise(int8_t *y, const int32_t *acc, const int32_t *offset, const void *multipliers, long stride, long mantissaOffset,
                        long shiftOffset, int32_t zero, int32_t low, int32_t high, long channels, long plane, int vectorised);

/// The int8 residual add of Int8Kernels.add: y = clamp(round((a − za)·Ma + (b − zb)·Mb) + zy) with
/// the fixed-point multipliers (ma, sa) and (mb, sb) at 16 fractional bits. `vectorised` 0 runs the
/// scalar formula only.
void sf_int8_add(int8_t *y, const int8_t *a, const int8_t *b, int32_t ma, long sa, int32_t mb, long sb, int32_t za, int32_t zb, int32_t zy,
                 long count, int vectorised);

/// offset[o] = bias[o] − zero·Σ_i weight[o·per + i] in wrapping int32 (the accumulator offset of
/// an int8 conv whose input has zero point `zero`). `vectorised` 0 runs the scalar loop.
void sf_int8_offsets(const int8_t *weight, const int32_t *bias, long rows, long per, int32_t zero, int32_t *offset, int vectorised);

/// Bytes of scratch `sf_int8_depthwise` needs.
long sf_int8_depthwise_scratch_bytes(long kh, long kw, long sh, long sw, long oh, long ow);

/// Depthwise weights [C][taps] in the lane order of sf_int8_depthwise: [ceil(C/16)][taps][16] int32,
/// each the int16 weight in the low half and 0 in the high half (channels past C: 0).
void sf_int8_depthwise_lanes(const int8_t *weight, long channels, long taps, int32_t *lanes);

/// Depthwise int32 accumulators acc[c][b][oh][ow] = Σ_taps weight[c][tap] · x_padded, x [C][N][H][W],
/// padding (top pt, left pl, and whatever the output size needs below and right) holding `pad`;
/// the weights as sf_int8_depthwise_lanes lays them out.
void sf_int8_depthwise(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                       long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch);

/// sf_int8_depthwise with the instruction set chosen: `vnni` 1 (AVX-512 VNNI's vpdpwssd; only where
/// sf_int8_gemm_vnni_available()) or 0 (vpmaddwd and an add). Both exact.
void sf_int8_depthwise_variant(int32_t *acc, const int8_t *x, const int32_t *lanes, long channels, long batch, long h, long w,
                               long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, int8_t pad, int32_t *scratch, int vnni);

/// fp32 depthwise weights in lane order [ceil(C/16)][taps][16]: scales[c]·q[c][t] when `q` is
/// given (the int8 device's real weights, rounded as QuantizedNetwork.dequantise), else w[c][t].
void sf_f32_depthwise_lanes(const int8_t *q, const float *scales, const float *w, long channels, long taps, float *lanes);

/// Bytes of scratch `sf_f32_depthwise_forward` and `sf_f32_depthwise_backward_input` need.
long sf_f32_depthwise_scratch_bytes(long h, long w, long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow);

/// y [C][N][OH][OW] = bias + depthwise(x) with lane-order weights (bias may be NULL), bitwise as
/// Depthwise's narrow-plane path computes it.
void sf_f32_depthwise_forward(float *y, const float *x, const float *lanes, const float *bias, long channels, long batch, long h,
                              long w, long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, float *scratch);

/// dx [C][N][H][W] of a depthwise conv from dy [C][N][OH][OW] and lane-order weights (overwrites
/// dx), bitwise as Depthwise's narrow-plane path accumulates it.
void sf_f32_depthwise_backward_input(float *dx, const float *dy, const float *lanes, long channels, long batch, long h, long w,
                                     long kh, long kw, long sh, long sw, long pt, long pl, long oh, long ow, float *scratch);

/// QASUpdate.weights without master weights: w[row·perRow + offsets[e]] for each row (rows NULL:
/// 0..<rowCount) and offset, the gradient `g` in that order. `vectorised` 0 runs the scalar loop.
void sf_qas_update_weights(int8_t *w, const float *scales, long perRow, const long *rows, long rowCount, const long *offsets, long offsetCount,
                           const float *g, float lr, int stochastic, uint64_t seed, long tensor, int vectorised);

/// ReLU6 masks, value i as bit (i % 8) of byte i / 8, bits past `count` 0: low < y[i] < high for an
/// int8 output at its zero point `low` (sf_int8_relu6_mask); 0 < y[i] < 6 (sf_f32_relu6_mask).
void sf_int8_relu6_mask(const int8_t *y, long count, int32_t low, int32_t high, uint8_t *bits);
void sf_f32_relu6_mask(const float *y, long count, uint8_t *bits);

/// dbias[c] += Σ_i dy[c·plane + i], each channel's sum in increasing i from 0 (Conv2D.backwardBias's
/// order; planes of up to 8 values run 16 channels per vector on AVX-512, where gathers beat the
/// scalar sums).
void sf_bias_gradient(float *dbias, const float *dy, long channels, long plane);

/// dx[i] = dy[i] where bit i of `bits` is set, else 0 (in place allowed).
void sf_relu6_backward_bits(float *dx, const float *dy, const uint8_t *bits, long count);

/// dx[i·n + j] = Σ_o w[o·k + i] · dy[o·n + j] (o < m, i < k, j < n).
void sf_sgemm_tn(long m, long k, long n, const float *w, const float *dy, float *dx);

/// sf_sgemm_tn with w[o·k + i] = scales[o] · q[o·k + i].
void sf_sgemm_tn_i8(long m, long k, long n, const int8_t *q, const float *scales, const float *dy, float *dx);

/// y[o·n + j] = Σ_i w[o·k + i] · x[i·n + j] (o < m, i < k, j < n).
void sf_sgemm_nn(long m, long k, long n, const float *w, const float *x, float *y);

/// SGD on chosen columns: w[o·perRow + offsets[e]] −= lr·g[o·k + e] for every row o (multiply, then
/// subtract; offsets distinct), 16 columns per gather and scatter on AVX-512.
void sf_sgd_columns(float *w, long rows, long perRow, const int32_t *offsets, long k, const float *g, float lr);

/// Bytes of scratch `sf_sgemm_nt_acc` needs.
long sf_sgemm_nt_scratch_bytes(long n, long p);

/// c[o·n + j] += Σ_l a[o·p + l] · b[j·p + l] (o < m, j < n, l < p), one FMA chain per element
/// starting from c's value.
void sf_sgemm_nt_acc(long m, long n, long p, const float *a, const float *b, float *c, float *scratch);

// ---- process --------------------------------------------------------------------------------

/// Bytes the allocator has handed out and not had back (glibc's mallinfo2: heap chunks in use plus
/// mmapped blocks); 0 where mallinfo2 does not exist.
long sf_heap_in_use_bytes(void);

/// Hands the allocator's free memory back to the system (glibc's malloc_trim; nothing elsewhere).
void sf_heap_trim(void);

/// Serves every allocation of at least `mmap_threshold` bytes with its own mapping, returned to the
/// system when freed (glibc's M_MMAP_THRESHOLD, which also stops glibc raising the threshold as it
/// goes), and lets threads share at most `arena_max` heaps (M_ARENA_MAX; threads created later).
void sf_heap_configure(long mmap_threshold, int arena_max);

#endif
