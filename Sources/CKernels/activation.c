// Sigmoid and swish over 8 floats at a time. The scalar libm expf they replace was most of
// EfficientNet's time (a 1×1 conv of 16 -> 96 channels at 112×112: 27 ms, 1.2 M expf, for a
// GEMM of under 1 ms).
#include "CKernels.h"
#include <string.h>

#include "sigmoid.h"

// BODY: the suffix of the ck_sigmoid_or_swish to inline (the enclosing function's target), V
// its vector type, L the lanes.
#define ACTIVATION_BODY(BODY, V, L)                                                            \
    size_t i = 0;                                                                               \
    for (; i + L <= n; i += L) {                                                                \
        V v;                                                                                    \
        memcpy(&v, x + i, sizeof v);                                                            \
        v = ck_sigmoid_or_swish_##BODY(kind, v);                                                \
        memcpy(x + i, &v, sizeof v);                                                            \
    }                                                                                           \
    if (i < n) {                                                                                \
        /* The tail through the same vector code, so a value's bits do not depend on its index. */ \
        float tail[L] = {0};                                                                    \
        memcpy(tail, x + i, (n - i) * sizeof(float));                                           \
        V v;                                                                                    \
        memcpy(&v, tail, sizeof v);                                                             \
        v = ck_sigmoid_or_swish_##BODY(kind, v);                                                \
        memcpy(tail, &v, sizeof v);                                                             \
        memcpy(x + i, tail, (n - i) * sizeof(float));                                           \
    }

__attribute__((target("avx512f,avx2,fma"))) static void activation_avx512(
    ck_activation kind, float *x, size_t n) {
    ACTIVATION_BODY(avx512, ck_v16, 16)
}
__attribute__((target("avx2,fma"))) static void activation_avx2(ck_activation kind, float *x, size_t n) {
    ACTIVATION_BODY(avx2, ck_v8, 8)
}
static void activation_portable(ck_activation kind, float *x, size_t n) {
    ACTIVATION_BODY(portable, ck_v8, 8)
}

void ck_apply_activation(ck_activation kind, float *x, size_t n, ck_body body) {
    switch (ck_available_body(body)) {
    case CK_BODY_AVX512: activation_avx512(kind, x, n); break;
    case CK_BODY_AVX2: activation_avx2(kind, x, n); break;
    case CK_BODY_PORTABLE: activation_portable(kind, x, n); break;
    }
}
