// What the AVX-512 kernels are compiled for, chosen per function so that the rest of the target
// stays portable; callers check sf_avx512_available() (or sf_int8_gemm_vnni_available()) first.
#ifndef SPARSEFLEET_SIMD_TARGET_H
#define SPARSEFLEET_SIMD_TARGET_H
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define SF_X86 1
/// AVX-512 foundation, byte/word and doubleword/quadword instructions (Skylake-SP, Cooperlake,
/// Ice Lake and later; AMD Zen 4 and later).
#define SF_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#endif
#endif
