// The int8 GEMM of the int8 device on AVX-512 VNNI (vpdpbusd), where the CPU has it; the Swift
// loop in Int8Kernels.gemm is the portable path and the reference. Exact: int32 accumulation.
#ifndef SPARSEFLEET_CINT8GEMM_H
#define SPARSEFLEET_CINT8GEMM_H
#include <stdint.h>

/// 1 when this CPU and OS run the AVX-512 VNNI kernel, else 0.
int sf_int8_gemm_vnni_available(void);

/// Bytes of scratch `sf_int8_gemm_vnni` needs for an m×k by k×n product.
long sf_int8_gemm_scratch_bytes(long m, long n, long k);

/// c[i·n + j] = Σ_l a[i·k + l] · b[l·n + j], exact in int32 (|k| < 2^16). `scratch` holds
/// `sf_int8_gemm_scratch_bytes(m, n, k)` bytes. Call only when `sf_int8_gemm_vnni_available()`.
void sf_int8_gemm_vnni(long m, long n, long k, const int8_t *a, const int8_t *b, int32_t *c, uint8_t *scratch);

#endif
