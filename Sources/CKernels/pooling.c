// MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D on one NHWC image; see CKernels.h.
//
// Windowed pools: a window's valid taps are the product of a row range and a column range, and
// each output's channels are summed (or maxed) over them in (kh, kw) order, one accumulator per
// lane, whatever the body: the same bits as the portable loop. The SIMD bodies keep four
// vectors of channels in flight so the 9 dependent adds of a 3×3 window overlap; the Swift
// SIMD8 loop they replace ran at a quarter of ONNX Runtime's pools (InceptionV3: 3.2 ms of 57
// per image, Xception 3.8 of 98).
//
// Each channel's sum is a Double running sum over the pixels in order, whatever the body: a
// double add of floats converted exactly has one rounding per add, so every body (and the
// Swift reference) gives the same bits. The SIMD bodies keep a block of channels' sums in
// registers across all pixels (one strided read of the map per block), 4 doubles per ymm or 8
// per zmm; the Swift loop it replaces ran scalar (EfficientNetB0's 16 squeeze pools: 0.45 ms
// of 10.8 per image on one thread).

#include "CKernels.h"

#include <math.h>

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

/// The taps [lo, hi) of a window of `k` starting at input index `first` that lie inside [0, n).
typedef struct { int lo, hi; } ck_taps;
static inline ck_taps taps(int first, int k, int n) {
    ck_taps t = {first < 0 ? -first : 0, n - first < k ? n - first : k};
    return t;
}

/// Defines `void NAME(input, window, average, output)`, the pool over every output pixel:
/// WINDOW(x, rows, cols, row_stride, C, count, average, out) gets the input at the window's
/// first valid tap, rows × cols valid taps (row stride W*C, column stride C) and their count;
/// `average` is a literal at each call, so an inlined WINDOW has one loop per pool kind.
#define CK_POOL2D(NAME, TARGET, WINDOW)                                                        \
    static TARGET void NAME(const float *input, ck_window w, int average, float *output) {     \
        const size_t rs = (size_t)w.width * w.channels;                                        \
        for (int oh = 0; oh < w.out_height; oh++) {                                            \
            const int fh = oh * w.stride_height - w.pad_top;                                   \
            const ck_taps r = taps(fh, w.kernel_height, w.height);                             \
            for (int ow = 0; ow < w.out_width; ow++) {                                         \
                const int fw = ow * w.stride_width - w.pad_left;                               \
                const ck_taps q = taps(fw, w.kernel_width, w.width);                           \
                const float *x = input + ((size_t)(fh + r.lo) * w.width + (fw + q.lo)) *      \
                                             w.channels;                                       \
                float *o = output + ((size_t)oh * w.out_width + ow) * w.channels;              \
                const int rows = r.hi - r.lo, cols = q.hi - q.lo;                              \
                const float count = (float)(rows * cols);                                      \
                if (average) WINDOW(x, rows, cols, rs, w.channels, count, 1, o);               \
                else WINDOW(x, rows, cols, rs, w.channels, count, 0, o);                       \
            }                                                                                  \
        }                                                                                      \
    }

/// Channels [c0, C) of one window, one lane at a time.
static inline void window_portable(
    const float *x, int rows, int cols, size_t row_stride, int C, int c0, float count, int average,
    float *out) {
    for (int c = c0; c < C; c++) {
        float acc = average ? 0 : -INFINITY;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) {
                const float v = x[i * row_stride + (size_t)j * C + c];
                acc = average ? acc + v : (v > acc ? v : acc);
            }
        out[c] = average ? acc / count : acc;
    }
}

#define WINDOW_PORTABLE(x, rows, cols, rs, C, count, average, o) \
    window_portable(x, rows, cols, rs, C, 0, count, average, o)
CK_POOL2D(pool2d_portable, , WINDOW_PORTABLE)
#undef WINDOW_PORTABLE

#ifdef CK_X86
/// One window's channels [c, c + LANES·NV) (NV vectors, independent chains), as
/// `window_portable`: max is `v > acc ? v : acc` (the max instructions' operand order), the
/// average one division by the valid count. LOAD/STORE may be masked (the AVX-512 tail).
#define CK_WINDOW_VECTORS(VEC, NV, LOAD, STORE, ADD, MAX, DIV, SET1)                           \
    do {                                                                                       \
        VEC acc[NV];                                                                           \
        for (int v = 0; v < NV; v++) acc[v] = SET1(average ? 0.0f : -INFINITY);                \
        for (int i = 0; i < rows; i++)                                                         \
            for (int j = 0; j < cols; j++) {                                                   \
                const float *p = x + i * rs + (size_t)j * C + c;                               \
                for (int v = 0; v < NV; v++) {                                                 \
                    const VEC t = LOAD(p + v * (int)(sizeof(VEC) / 4));                        \
                    acc[v] = average ? ADD(acc[v], t) : MAX(t, acc[v]);                        \
                }                                                                              \
            }                                                                                  \
        for (int v = 0; v < NV; v++)                                                           \
            STORE(o + c + v * (int)(sizeof(VEC) / 4), average ? DIV(acc[v], SET1(count)) : acc[v]); \
    } while (0)

static inline __attribute__((always_inline, target("avx2,fma"))) void window_avx2(
    const float *x, int rows, int cols, size_t rs, int C, float count, int average, float *o) {
    int c = 0;
    for (; c + 32 <= C; c += 32)
        CK_WINDOW_VECTORS(__m256, 4, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps,
                          _mm256_max_ps, _mm256_div_ps, _mm256_set1_ps);
    for (; c + 8 <= C; c += 8)
        CK_WINDOW_VECTORS(__m256, 1, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps,
                          _mm256_max_ps, _mm256_div_ps, _mm256_set1_ps);
    window_portable(x, rows, cols, rs, C, c, count, average, o);
}

CK_POOL2D(pool2d_avx2, __attribute__((target("avx2,fma"))), window_avx2)

static inline __attribute__((always_inline, target("avx512f,avx2,fma"))) void window_avx512(
    const float *x, int rows, int cols, size_t rs, int C, float count, int average, float *o) {
    int c = 0;
    for (; c + 64 <= C; c += 64)
        CK_WINDOW_VECTORS(__m512, 4, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps,
                          _mm512_max_ps, _mm512_div_ps, _mm512_set1_ps);
    for (; c + 16 <= C; c += 16)
        CK_WINDOW_VECTORS(__m512, 1, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_add_ps,
                          _mm512_max_ps, _mm512_div_ps, _mm512_set1_ps);
    if (c < C) {
        const __mmask16 m = (__mmask16)((1u << (C - c)) - 1);
#define LOADM(p) _mm512_maskz_loadu_ps(m, p)
#define STOREM(p, v) _mm512_mask_storeu_ps(p, m, v)
        CK_WINDOW_VECTORS(__m512, 1, LOADM, STOREM, _mm512_add_ps, _mm512_max_ps, _mm512_div_ps,
                          _mm512_set1_ps);
#undef LOADM
#undef STOREM
    }
}

CK_POOL2D(pool2d_avx512, __attribute__((target("avx512f,avx2,fma"))), window_avx512)
#undef CK_WINDOW_VECTORS

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

void ck_pool2d(const float *input, ck_window window, bool average, float *output, ck_body body) {
    switch (ck_available_body(body)) {
#ifdef CK_X86
    case CK_BODY_AVX512: pool2d_avx512(input, window, average, output); break;
    case CK_BODY_AVX2: pool2d_avx2(input, window, average, output); break;
#endif
    default: pool2d_portable(input, window, average, output); break;
    }
}
