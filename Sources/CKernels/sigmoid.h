// sigmoid and swish on a vector of floats, shared by the activation pass and the kernels that
// apply them as they store (GEMM tiles, depthwise rows), so a fused activation gives the bits
// of the pass. CK_DEFINE_SIGMOID(suffix, attributes, V, VI) defines ck_exp_<suffix> and
// ck_sigmoid_or_swish_<suffix> on the float vector V (VI: the int vector of its size) with
// those target attributes. Every version is the same text, so each lane gets the same
// operations (and the same FMA contractions) at any width: the 16-lane avx512 version gives
// the 8-lane avx2 one's bits (GemmTests and ActivationTests check it).
#ifndef CK_SIGMOID_H
#define CK_SIGMOID_H

#include "CKernels.h"

// The vectors never cross a real call (always inline), so the AVX ABI note does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float ck_v8 __attribute__((vector_size(32)));
typedef int ck_v8i __attribute__((vector_size(32)));
typedef float ck_v16 __attribute__((vector_size(64)));
typedef int ck_v16i __attribute__((vector_size(64)));

// e^x, Cephes' expf: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts so n ln2 is exact),
// e^r by a degree-5 minimax polynomial, 2^n put into the exponent bits. Within 2 ulp of
// e^x; inputs are clamped to ±88.38 (finite results, e^-88.38 is a normal float).
// sigmoid: 1 / (1 + e^-x); swish: x times that.
#define CK_DEFINE_SIGMOID(SUFFIX, ATTRIBUTES, V, VI)                                            \
    static inline __attribute__((always_inline)) ATTRIBUTES V ck_exp_##SUFFIX(V x) {            \
        const V zero = {0};                                                                     \
        x = __builtin_elementwise_min(                                                          \
            __builtin_elementwise_max(x, zero - 88.3762626647949f), zero + 88.3762626647949f);  \
        V n = __builtin_elementwise_floor(x * 1.44269504088896341f + 0.5f);                     \
        V r = x - n * 0.693359375f;                                                             \
        r = r - n * -2.12194440e-4f;                                                            \
        V p = zero + 1.9875691500e-4f;                                                          \
        p = p * r + 1.3981999507e-3f;                                                           \
        p = p * r + 8.3334519073e-3f;                                                           \
        p = p * r + 4.1665795894e-2f;                                                           \
        p = p * r + 1.6666665459e-1f;                                                           \
        p = p * r + 5.0000001201e-1f;                                                           \
        V y = p * (r * r) + r + 1.0f;                                                           \
        /* n in [-127, 128]: 2^n in two factors so n = 128 (and -127) stay in range. */         \
        VI ni = __builtin_convertvector(n, VI);                                                 \
        VI half = ni >> 1;                                                                      \
        V s1 = (V)((half + 127) << 23);                                                         \
        V s2 = (V)((ni - half + 127) << 23);                                                    \
        return y * s1 * s2;                                                                     \
    }                                                                                           \
    static inline __attribute__((always_inline)) ATTRIBUTES V ck_sigmoid_or_swish_##SUFFIX(     \
        ck_activation kind, V x) {                                                              \
        V sigmoid = 1.0f / (1.0f + ck_exp_##SUFFIX(-x));                                        \
        return kind == CK_SWISH ? x * sigmoid : sigmoid;                                        \
    }

CK_DEFINE_SIGMOID(avx2, __attribute__((target("avx2,fma"))), ck_v8, ck_v8i)
CK_DEFINE_SIGMOID(avx512, __attribute__((target("avx512f,avx2,fma"))), ck_v16, ck_v16i)
CK_DEFINE_SIGMOID(portable, , ck_v8, ck_v8i)

#endif
