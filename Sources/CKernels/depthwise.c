// Keras DepthwiseConv2D with depth multiplier 1 on one NHWC image; see CKernels.h.
//
// Trick: a pixel's channels are contiguous in the input, the kernel and the output, so 8
// channels (16 with AVX-512) ride in one register, a masked one for the last few. The SIMD
// bodies compute a row in blocks of 8 (then 4, 2, 1) pixels: per kernel row they load the KW
// kernel vectors once and stream the input columns under the block, adding each into every
// pixel that reads it, so for 3x3 stride 1 the 24 FMAs of a row cost 13 loads and 8
// independent chains keep the FMA units busy. Blocks touching the padding skip the columns outside the input; rows touching
// it skip kernel rows. Every output is bias + taps in (kh, kw) order, the naive Swift
// reference's order, so results differ from it only by float (and FMA) rounding.

#include "CKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

/// Taps k in [*lo, *hi) land inside the input: 0 <= first + k*d < n (as Window2D.validRows).
static inline void valid_taps(int first, int k, int d, int n, int *lo, int *hi) {
    int l = first >= 0 ? 0 : (-first + d - 1) / d;
    int last = n - 1 - first;
    int h = last < 0 ? 0 : (last / d + 1 < k ? last / d + 1 : k);
    *lo = l;
    *hi = h > l ? h : l;
}

// MARK: portable body

static inline float activate(float v, ck_activation act) {
    if ((act == CK_RELU || act == CK_RELU6) && v < 0) v = 0;
    if (act == CK_RELU6 && v > 6) v = 6;
    return v;
}

// One pixel at a time, over its valid taps; the 8-float accumulator is left to the
// auto-vectorizer (two SSE registers on baseline x86-64).
static void depthwise_portable(
    const float *restrict in, const ck_window *w, const float *restrict kernel,
    const float *restrict bias, ck_activation act, float *restrict out) {
    const int C = w->channels, W = w->width, KW = w->kernel_width;
    const int dh = w->dilation_height, dw = w->dilation_width;
    for (int oh = 0; oh < w->out_height; oh++) {
        int ih0 = oh * w->stride_height - w->pad_top, kh_lo, kh_hi;
        valid_taps(ih0, w->kernel_height, dh, w->height, &kh_lo, &kh_hi);
        for (int ow = 0; ow < w->out_width; ow++) {
            int iw0 = ow * w->stride_width - w->pad_left, kw_lo, kw_hi;
            valid_taps(iw0, KW, dw, W, &kw_lo, &kw_hi);
            float *o = out + ((size_t)oh * w->out_width + ow) * C;
            int c = 0;
            for (; c + 8 <= C; c += 8) {
                float acc[8];
                for (int i = 0; i < 8; i++) acc[i] = bias ? bias[c + i] : 0;
                for (int kh = kh_lo; kh < kh_hi; kh++) {
                    for (int kw = kw_lo; kw < kw_hi; kw++) {
                        const float *x =
                            in + ((ptrdiff_t)(ih0 + kh * dh) * W + iw0 + kw * dw) * C + c;
                        const float *k = kernel + ((size_t)kh * KW + kw) * C + c;
                        for (int i = 0; i < 8; i++) acc[i] += x[i] * k[i];
                    }
                }
                for (int i = 0; i < 8; i++) o[c + i] = activate(acc[i], act);
            }
            for (; c < C; c++) {
                float acc = bias ? bias[c] : 0;
                for (int kh = kh_lo; kh < kh_hi; kh++) {
                    for (int kw = kw_lo; kw < kw_hi; kw++) {
                        acc += in[((ptrdiff_t)(ih0 + kh * dh) * W + iw0 + kw * dw) * C + c] *
                               kernel[((size_t)kh * KW + kw) * C + c];
                    }
                }
                o[c] = activate(acc, act);
            }
        }
        if (act == CK_SIGMOID || act == CK_SWISH) {
            const size_t n = (size_t)w->out_width * C;
            ck_apply_activation(act, out + oh * n, n, CK_BODY_PORTABLE);
        }
    }
}

// MARK: AVX2 + FMA and AVX-512 bodies (depthwise_body.h, once per width)

#ifdef CK_X86
#define DW_SUFFIX avx2
#define DW_TARGET "avx2,fma"
#define DW_BODY CK_BODY_AVX2
#define DW_L 8
#define DW_VEC __m256
#define DW_MASK __m256i
#define DW_LOAD(p, tail, mask) ((tail) ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p))
#define DW_STORE(p, v, tail, mask) \
    ((tail) ? _mm256_maskstore_ps(p, mask, v) : _mm256_storeu_ps(p, v))
#define DW_FMA _mm256_fmadd_ps
#define DW_ZERO _mm256_setzero_ps
#define DW_RELU(v) _mm256_max_ps(v, _mm256_setzero_ps())
#define DW_RELU6(v) _mm256_min_ps(v, _mm256_set1_ps(6))
#define DW_TAIL_MASK(tail) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#include "depthwise_body.h"

// Twice the channels per instruction: on a CPU with 512-bit FMA units (Zen 5) a 3x3 row runs
// in about half the time; elsewhere a zmm op is two ymm ops and nothing is lost.
#define DW_SUFFIX avx512
#define DW_TARGET "avx512f,avx2,fma"
#define DW_BODY CK_BODY_AVX512
#define DW_L 16
#define DW_VEC __m512
#define DW_MASK __mmask16
#define DW_LOAD(p, tail, mask) ((tail) ? _mm512_maskz_loadu_ps(mask, p) : _mm512_loadu_ps(p))
#define DW_STORE(p, v, tail, mask) \
    ((tail) ? _mm512_mask_storeu_ps(p, mask, v) : _mm512_storeu_ps(p, v))
#define DW_FMA _mm512_fmadd_ps
#define DW_ZERO _mm512_setzero_ps
#define DW_RELU(v) _mm512_max_ps(v, _mm512_setzero_ps())
#define DW_RELU6(v) _mm512_min_ps(v, _mm512_set1_ps(6))
#define DW_TAIL_MASK(tail) ((__mmask16)((1u << (tail)) - 1))
#include "depthwise_body.h"
#endif

// MARK: dispatch

void ck_depthwise_conv2d_body(
    const float *input, ck_window window, const float *kernel, const float *bias,
    ck_activation activation, float *output, ck_body body) {
#ifdef CK_X86
    switch (ck_available_body(body)) {
    case CK_BODY_AVX512: depthwise_avx512(input, &window, kernel, bias, activation, output); return;
    case CK_BODY_AVX2: depthwise_avx2(input, &window, kernel, bias, activation, output); return;
    case CK_BODY_PORTABLE: break;
    }
#endif
    depthwise_portable(input, &window, kernel, bias, activation, output);
}

void ck_depthwise_conv2d(
    const float *input, ck_window window, const float *kernel, const float *bias,
    ck_activation activation, float *output) {
    ck_depthwise_conv2d_body(input, window, kernel, bias, activation, output, CK_BODY_AVX512);
}
