// Sigmoid and swish over 8 floats at a time. The scalar libm expf they replace was most of
// EfficientNet's time (a 1×1 conv of 16 -> 96 channels at 112×112: 27 ms, 1.2 M expf, for a
// GEMM of under 1 ms).
#include "CKernels.h"
#include <string.h>

#include "sigmoid8.h"

// BODY: the suffix of the ck_sigmoid_or_swish8 to inline (the enclosing function's target).
#define ACTIVATION_BODY(BODY)                                                                   \
    size_t i = 0;                                                                               \
    for (; i + 8 <= n; i += 8) {                                                                \
        ck_v8 v;                                                                                \
        memcpy(&v, x + i, sizeof v);                                                            \
        v = ck_sigmoid_or_swish8_##BODY(kind, v);                                               \
        memcpy(x + i, &v, sizeof v);                                                            \
    }                                                                                           \
    if (i < n) {                                                                                \
        /* The tail through the same vector code, so a value's bits do not depend on its index. */ \
        float tail[8] = {0};                                                                    \
        memcpy(tail, x + i, (n - i) * sizeof(float));                                           \
        ck_v8 v;                                                                                \
        memcpy(&v, tail, sizeof v);                                                             \
        v = ck_sigmoid_or_swish8_##BODY(kind, v);                                               \
        memcpy(tail, &v, sizeof v);                                                             \
        memcpy(x + i, tail, (n - i) * sizeof(float));                                           \
    }

__attribute__((target("avx2,fma"))) static void activation_avx2(ck_activation kind, float *x, size_t n) {
    ACTIVATION_BODY(avx2)
}
static void activation_portable(ck_activation kind, float *x, size_t n) { ACTIVATION_BODY(portable) }

void ck_apply_activation(ck_activation kind, float *x, size_t n, bool portable) {
    if (!portable && ck_has_avx2_fma())
        activation_avx2(kind, x, n);
    else
        activation_portable(kind, x, n);
}
