#include "CKernels.h"

bool ck_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    // Idempotent, so a race between threads on the first call is harmless.
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return false;
#endif
}

bool ck_has_avx512f(void) {
#if defined(__x86_64__) || defined(__i386__)
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = ck_has_avx2_fma() && __builtin_cpu_supports("avx512f");
    }
    return cached;
#else
    return false;
#endif
}
