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

ck_body ck_available_body(ck_body asked) {
    if (asked >= CK_BODY_AVX512 && ck_has_avx512f()) return CK_BODY_AVX512;
    if (asked >= CK_BODY_AVX2 && ck_has_avx2_fma()) return CK_BODY_AVX2;
    return CK_BODY_PORTABLE;
}
