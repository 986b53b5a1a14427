// GlobalAveragePooling2D on one NHWC image; see CKernels.h.
//
// Each channel's sum is a Double running sum over the pixels in order, whatever the body: a
// double add of floats converted exactly has one rounding per add, so every body (and the
// Swift reference) gives the same bits. The SIMD bodies keep a block of channels' sums in
// registers across all pixels (one strided read of the map per block), 4 doubles per ymm or 8
// per zmm; the Swift loop it replaces ran scalar (EfficientNetB0's 16 squeeze pools: 0.45 ms
// of 10.8 per image on one thread).

#include "CKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

static void pool_channels_portable(const float *in, int pixels, int C, int c0, int c1, double *sum) {
    for (int c = c0; c < c1; c++) sum[c] = 0;
    for (int p = 0; p < pixels; p++) {
        const float *x = in + (size_t)p * C;
        for (int c = c0; c < c1; c++) sum[c] += (double)x[c];
    }
}

#ifdef CK_X86
// Sums of channels [c, c + 8*BLOCKS) over all pixels, 8 channels (two ymm of doubles) a step.
#define POOL_AVX2(BLOCKS)                                                                      \
    static inline __attribute__((always_inline, target("avx2,fma"))) void pool_avx2_##BLOCKS( \
        const float *in, int pixels, int C, int c, double *sum) {                             \
        __m256d lo[BLOCKS], hi[BLOCKS];                                                        \
        for (int b = 0; b < BLOCKS; b++) lo[b] = hi[b] = _mm256_setzero_pd();                  \
        for (int p = 0; p < pixels; p++) {                                                     \
            const float *x = in + (size_t)p * C + c;                                           \
            for (int b = 0; b < BLOCKS; b++) {                                                 \
                __m256 v = _mm256_loadu_ps(x + 8 * b);                                         \
                lo[b] = _mm256_add_pd(lo[b], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));      \
                hi[b] = _mm256_add_pd(hi[b], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));    \
            }                                                                                  \
        }                                                                                      \
        for (int b = 0; b < BLOCKS; b++) {                                                     \
            _mm256_storeu_pd(sum + c + 8 * b, lo[b]);                                          \
            _mm256_storeu_pd(sum + c + 8 * b + 4, hi[b]);                                      \
        }                                                                                      \
    }
POOL_AVX2(6)
POOL_AVX2(1)
#undef POOL_AVX2

static __attribute__((target("avx2,fma"))) void pool_avx2(const float *in, int pixels, int C, double *sum) {
    int c = 0;
    for (; c + 48 <= C; c += 48) pool_avx2_6(in, pixels, C, c, sum);
    for (; c + 8 <= C; c += 8) pool_avx2_1(in, pixels, C, c, sum);
    pool_channels_portable(in, pixels, C, c, C, sum);
}

// 16 channels (two zmm of doubles) a step.
#define POOL_AVX512(BLOCKS)                                                                    \
    static inline __attribute__((always_inline, target("avx512f,avx2,fma"))) void             \
        pool_avx512_##BLOCKS(const float *in, int pixels, int C, int c, double *sum) {        \
        __m512d lo[BLOCKS], hi[BLOCKS];                                                        \
        for (int b = 0; b < BLOCKS; b++) lo[b] = hi[b] = _mm512_setzero_pd();                  \
        for (int p = 0; p < pixels; p++) {                                                     \
            const float *x = in + (size_t)p * C + c;                                           \
            for (int b = 0; b < BLOCKS; b++) {                                                 \
                __m512 v = _mm512_loadu_ps(x + 16 * b);                                        \
                lo[b] = _mm512_add_pd(lo[b], _mm512_cvtps_pd(_mm512_castps512_ps256(v)));      \
                hi[b] = _mm512_add_pd(                                                         \
                    hi[b], _mm512_cvtps_pd(_mm256_castpd_ps(                                   \
                               _mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));              \
            }                                                                                  \
        }                                                                                      \
        for (int b = 0; b < BLOCKS; b++) {                                                     \
            _mm512_storeu_pd(sum + c + 16 * b, lo[b]);                                         \
            _mm512_storeu_pd(sum + c + 16 * b + 8, hi[b]);                                     \
        }                                                                                      \
    }
POOL_AVX512(6)
POOL_AVX512(1)
#undef POOL_AVX512

static __attribute__((target("avx512f,avx2,fma"))) void pool_avx512(
    const float *in, int pixels, int C, double *sum) {
    int c = 0;
    for (; c + 96 <= C; c += 96) pool_avx512_6(in, pixels, C, c, sum);
    for (; c + 16 <= C; c += 16) pool_avx512_1(in, pixels, C, c, sum);
    pool_channels_portable(in, pixels, C, c, C, sum);
}
#endif

void ck_global_average_pool(
    const float *input, int pixels, int channels, double *sums, float *output, ck_body body) {
    switch (ck_available_body(body)) {
#ifdef CK_X86
    case CK_BODY_AVX512: pool_avx512(input, pixels, channels, sums); break;
    case CK_BODY_AVX2: pool_avx2(input, pixels, channels, sums); break;
#endif
    default: pool_channels_portable(input, pixels, channels, 0, channels, sums); break;
    }
    for (int c = 0; c < channels; c++) output[c] = (float)(sums[c] / (double)pixels);
}
