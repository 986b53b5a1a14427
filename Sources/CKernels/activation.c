// Sigmoid and swish over 8 floats at a time. The scalar libm expf they replace was most of
// EfficientNet's time (a 1×1 conv of 16 -> 96 channels at 112×112: 27 ms, 1.2 M expf, for a
// GEMM of under 1 ms).
#include "CKernels.h"
#include <string.h>

#pragma clang diagnostic ignored "-Wpsabi"  // v8 never crosses a real call (always inline)

typedef float v8 __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) v8 splat(float f) { return (v8){f, f, f, f, f, f, f, f}; }

// e^x, Cephes' expf: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts so n ln2 is exact),
// e^r by a degree-5 minimax polynomial, 2^n put into the exponent bits. Within 2 ulp of
// e^x; inputs are clamped to ±88.38 (finite results, e^-88.38 is a normal float).
static inline __attribute__((always_inline)) v8 exp8(v8 x) {
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, splat(-88.3762626647949f)), splat(88.3762626647949f));
    v8 n = __builtin_elementwise_floor(x * splat(1.44269504088896341f) + splat(0.5f));
    v8 r = x - n * splat(0.693359375f);
    r = r - n * splat(-2.12194440e-4f);
    v8 p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    v8 y = p * (r * r) + r + splat(1.0f);
    // n in [-127, 128]: 2^n in two factors so n = 128 (and -127) stay in range.
    v8i ni = __builtin_convertvector(n, v8i);
    v8i half = ni >> 1;
    v8 s1 = (v8)((half + 127) << 23);
    v8 s2 = (v8)((ni - half + 127) << 23);
    return y * s1 * s2;
}

static inline __attribute__((always_inline)) v8 activate8(ck_activation kind, v8 x) {
    v8 sigmoid = splat(1.0f) / (splat(1.0f) + exp8(-x));
    return kind == CK_SWISH ? x * sigmoid : sigmoid;
}

static inline __attribute__((always_inline)) void activation_body(ck_activation kind, float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8 v;
        memcpy(&v, x + i, sizeof v);
        v = activate8(kind, v);
        memcpy(x + i, &v, sizeof v);
    }
    if (i < n) {
        // The tail through the same vector code, so a value's bits do not depend on its index.
        float tail[8] = {0};
        memcpy(tail, x + i, (n - i) * sizeof(float));
        v8 v;
        memcpy(&v, tail, sizeof v);
        v = activate8(kind, v);
        memcpy(tail, &v, sizeof v);
        memcpy(x + i, tail, (n - i) * sizeof(float));
    }
}

__attribute__((target("avx2,fma"))) static void activation_avx2(ck_activation kind, float *x, size_t n) {
    activation_body(kind, x, n);
}
static void activation_portable(ck_activation kind, float *x, size_t n) { activation_body(kind, x, n); }

void ck_apply_activation(ck_activation kind, float *x, size_t n, bool portable) {
    if (!portable && ck_has_avx2_fma())
        activation_avx2(kind, x, n);
    else
        activation_portable(kind, x, n);
}
