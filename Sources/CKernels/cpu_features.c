// Which AVX-512 kernels this CPU and OS can run (checked once by the Swift side).
#include "CKernels.h"
#include "simd_target.h"

#ifdef SF_X86
int sf_avx512_available(void) {
    static int known = -1;  // a benign race: every thread computes the same answer
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("avx512vl");
    }
    return known;
}
#else
int sf_avx512_available(void) { return 0; }
#endif
