// sigmoid and swish on 8 floats, shared by the activation pass and the kernels that apply them
// as they store (GEMM tiles), so a fused activation gives the bits of the pass.
// CK_DEFINE_SIGMOID8(suffix, attributes) defines ck_exp8_<suffix> and
// ck_sigmoid_or_swish8_<suffix> with those target attributes: the avx2 and the portable
// versions are the same text, so the avx2 one gives the same bits wherever it is inlined.
#ifndef CK_SIGMOID8_H
#define CK_SIGMOID8_H

#include "CKernels.h"

// ck_v8 never crosses a real call (always inline), so the AVX ABI note does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float ck_v8 __attribute__((vector_size(32)));
typedef int ck_v8i __attribute__((vector_size(32)));

#define CK_SPLAT8(f) ((ck_v8){f, f, f, f, f, f, f, f})

// e^x, Cephes' expf: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts so n ln2 is exact),
// e^r by a degree-5 minimax polynomial, 2^n put into the exponent bits. Within 2 ulp of
// e^x; inputs are clamped to ±88.38 (finite results, e^-88.38 is a normal float).
// sigmoid: 1 / (1 + e^-x); swish: x times that.
#define CK_DEFINE_SIGMOID8(SUFFIX, ATTRIBUTES)                                                   \
    static inline __attribute__((always_inline)) ATTRIBUTES ck_v8 ck_exp8_##SUFFIX(ck_v8 x) {   \
        x = __builtin_elementwise_min(                                                           \
            __builtin_elementwise_max(x, CK_SPLAT8(-88.3762626647949f)),                         \
            CK_SPLAT8(88.3762626647949f));                                                       \
        ck_v8 n = __builtin_elementwise_floor(x * CK_SPLAT8(1.44269504088896341f) + CK_SPLAT8(0.5f)); \
        ck_v8 r = x - n * CK_SPLAT8(0.693359375f);                                               \
        r = r - n * CK_SPLAT8(-2.12194440e-4f);                                                  \
        ck_v8 p = CK_SPLAT8(1.9875691500e-4f);                                                   \
        p = p * r + CK_SPLAT8(1.3981999507e-3f);                                                 \
        p = p * r + CK_SPLAT8(8.3334519073e-3f);                                                 \
        p = p * r + CK_SPLAT8(4.1665795894e-2f);                                                 \
        p = p * r + CK_SPLAT8(1.6666665459e-1f);                                                 \
        p = p * r + CK_SPLAT8(5.0000001201e-1f);                                                 \
        ck_v8 y = p * (r * r) + r + CK_SPLAT8(1.0f);                                             \
        /* n in [-127, 128]: 2^n in two factors so n = 128 (and -127) stay in range. */          \
        ck_v8i ni = __builtin_convertvector(n, ck_v8i);                                          \
        ck_v8i half = ni >> 1;                                                                   \
        ck_v8 s1 = (ck_v8)((half + 127) << 23);                                                  \
        ck_v8 s2 = (ck_v8)((ni - half + 127) << 23);                                             \
        return y * s1 * s2;                                                                      \
    }                                                                                            \
    static inline __attribute__((always_inline)) ATTRIBUTES ck_v8 ck_sigmoid_or_swish8_##SUFFIX( \
        ck_activation kind, ck_v8 x) {                                                           \
        ck_v8 sigmoid = CK_SPLAT8(1.0f) / (CK_SPLAT8(1.0f) + ck_exp8_##SUFFIX(-x));              \
        return kind == CK_SWISH ? x * sigmoid : sigmoid;                                         \
    }

CK_DEFINE_SIGMOID8(avx2, __attribute__((target("avx2,fma"))))
CK_DEFINE_SIGMOID8(portable, )

#endif
