// Keras DepthwiseConv2D with depth multiplier 1 on one NHWC image; see CKernels.h.
//
// Trick: a pixel's channels are contiguous in the input, the kernel and the output, so 8
// channels ride in one register (a masked register for the last C % 8). The AVX2 body computes
// a row in blocks of 8 (then 4, 2, 1) pixels: per kernel row it loads the KW kernel vectors
// once and streams the input columns under the block, adding each into every pixel that reads
// it, so for 3x3 stride 1 the 24 FMAs of a row cost 13 loads and 8 independent chains keep the
// FMA units busy. Blocks touching the padding skip the columns outside the input; rows touching
// it skip kernel rows. Every output is bias + taps in (kh, kw) order, the naive Swift
// reference's order, so results differ from it only by float (and FMA) rounding.

#include "CKernels.h"

#include <stdatomic.h>

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
            ck_apply_activation(act, out + oh * n, n, true);
        }
    }
}

// MARK: AVX2 + FMA body

#ifdef CK_X86
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))

/// Lanes c..c+7 of the channels; with `tail`, lanes past the mask are neither read nor written.
INLINE_AVX2 __m256 load8(const float *p, int tail, __m256i mask) {
    return tail ? _mm256_maskload_ps(p, mask) : _mm256_loadu_ps(p);
}

INLINE_AVX2 void store8(float *p, __m256 v, ck_activation act, int tail, __m256i mask) {
    if (act == CK_RELU || act == CK_RELU6) v = _mm256_max_ps(v, _mm256_setzero_ps());
    if (act == CK_RELU6) v = _mm256_min_ps(v, _mm256_set1_ps(6));
    if (tail) _mm256_maskstore_ps(p, mask, v);
    else _mm256_storeu_ps(p, v);
}

/// PIX pixels of one output row for the 8 channels at c; stride S, dilation 1 along the row.
/// `x` is the input at (first valid kernel row, the block's first tap column, c) (may point into
/// the padding), `k` the kernel at (that kernel row, 0, c), `o` the output at (oh, ow, c).
/// Per kernel row the KW kernel vectors are loaded once and the input columns streamed left to
/// right, each added into every pixel that reads it (3x3 stride 1, 8 pixels: 3 + 10 loads for
/// 24 FMAs). Only columns in [col_lo, col_hi) are inside the input; `clip` is 0 in the interior,
/// where that test is compiled out. KW, S, PIX, clip and tail are literals at the call sites, so
/// everything unrolls and the PIX + KW + 1 <= 16 vectors stay in registers.
INLINE_AVX2 void block8(
    const float *x, const float *k, const float *b, float *o, int rows, int C, int x_row,
    int col_lo, int col_hi, ck_activation act, __m256i mask, int KW, int S, int PIX, int clip,
    int tail) {
    __m256 acc[8], kv[7];
    __m256 init = b ? load8(b, tail, mask) : _mm256_setzero_ps();
    for (int j = 0; j < PIX; j++) acc[j] = init;
    for (int r = 0; r < rows; r++, x += x_row, k += KW * C) {
        const float *kp = k;
        for (int kw = 0; kw < KW; kw++, kp += C) kv[kw] = load8(kp, tail, mask);
        const float *xp = x;
#pragma GCC unroll 32
        for (int col = 0; col < (PIX - 1) * S + KW; col++, xp += C) {
            if (clip && (col < col_lo || col >= col_hi)) continue;
            __m256 xv = load8(xp, tail, mask);
            // Column col is tap kw of pixel j when col = j*S + kw. Each pixel sees its taps in
            // (kh, kw) order, the naive kernel's.
#pragma GCC unroll 8
            for (int kw = KW - 1; kw >= 0; kw--) {
                int d = col - kw;
                if (d >= 0 && d % S == 0 && d / S < PIX)
                    acc[d / S] = _mm256_fmadd_ps(xv, kv[kw], acc[d / S]);
            }
        }
    }
    for (int j = 0; j < PIX; j++) store8(o + j * C, acc[j], act, tail, mask);
}

/// PIX output pixels (oh, ow..<ow+PIX), all channels: full 8-channel blocks, then the masked tail.
INLINE_AVX2 void pixels8(
    const float *in, const ck_window *w, const float *kernel, const float *bias,
    ck_activation act, float *orow, int ih0, int kh_lo, int kh_hi, int ow, __m256i mask, int KW,
    int S, int PIX) {
    const int C = w->channels, c_end = C & ~7;
    const int iw0 = ow * S - w->pad_left;
    const int col_lo = iw0 < 0 ? -iw0 : 0, col_hi = w->width - iw0;
    const int clip = col_lo > 0 || col_hi < (PIX - 1) * S + KW;
    const int rows = kh_hi - kh_lo, x_row = w->dilation_height * w->width * C;
    const float *x = in + ((ptrdiff_t)(ih0 + kh_lo * w->dilation_height) * w->width + iw0) * C;
    const float *k = kernel + (size_t)kh_lo * KW * C;
    float *o = orow + (size_t)ow * C;
#define BLOCK(CLIP, TAIL)                                                                     \
    block8(x + c, k + c, bias ? bias + c : 0, o + c, rows, C, x_row, col_lo, col_hi, act, mask, \
           KW, S, PIX, CLIP, TAIL)
    int c = 0;
    if (clip) {
        for (; c < c_end; c += 8) BLOCK(1, 0);
        if (c < C) BLOCK(1, 1);
    } else {
        for (; c < c_end; c += 8) BLOCK(0, 0);
        if (c < C) BLOCK(0, 1);
    }
#undef BLOCK
}

/// One output row in blocks of 8, 4, 2, 1 pixels, for the kernel width KW and stride S.
#define ROW(KW, S)                                                                             \
    static AVX2 void row_##KW##_##S(                                                           \
        const float *in, const ck_window *w, const float *kernel, const float *bias,           \
        ck_activation act, float *out, int oh, __m256i mask) {                                 \
        int ih0 = oh * w->stride_height - w->pad_top, kh_lo, kh_hi;                            \
        valid_taps(ih0, w->kernel_height, w->dilation_height, w->height, &kh_lo, &kh_hi);      \
        float *orow = out + (size_t)oh * w->out_width * w->channels;                           \
        int ow = 0, OW = w->out_width;                                                         \
        for (; ow + 8 <= OW; ow += 8)                                                          \
            pixels8(in, w, kernel, bias, act, orow, ih0, kh_lo, kh_hi, ow, mask, KW, S, 8);    \
        if (ow + 4 <= OW) {                                                                    \
            pixels8(in, w, kernel, bias, act, orow, ih0, kh_lo, kh_hi, ow, mask, KW, S, 4);    \
            ow += 4;                                                                           \
        }                                                                                      \
        if (ow + 2 <= OW) {                                                                    \
            pixels8(in, w, kernel, bias, act, orow, ih0, kh_lo, kh_hi, ow, mask, KW, S, 2);    \
            ow += 2;                                                                           \
        }                                                                                      \
        if (ow < OW)                                                                           \
            pixels8(in, w, kernel, bias, act, orow, ih0, kh_lo, kh_hi, ow, mask, KW, S, 1);    \
    }
ROW(3, 1)
ROW(3, 2)
ROW(5, 1)
ROW(5, 2)
ROW(7, 1)
ROW(7, 2)
#undef ROW

/// Any other window (dilated columns, stride > 2, other widths): one pixel at a time over its
/// valid taps.
static AVX2 void row_general(
    const float *in, const ck_window *w, const float *kernel, const float *bias,
    ck_activation act, float *out, int oh, __m256i mask) {
    const int C = w->channels, W = w->width, KW = w->kernel_width, c_end = C & ~7;
    const int dh = w->dilation_height, dw = w->dilation_width;
    int ih0 = oh * w->stride_height - w->pad_top, kh_lo, kh_hi;
    valid_taps(ih0, w->kernel_height, dh, w->height, &kh_lo, &kh_hi);
    for (int ow = 0; ow < w->out_width; ow++) {
        int iw0 = ow * w->stride_width - w->pad_left, kw_lo, kw_hi;
        valid_taps(iw0, KW, dw, W, &kw_lo, &kw_hi);
        float *o = out + ((size_t)oh * w->out_width + ow) * C;
        for (int c = 0; c < C; c += 8) {
            int tail = c >= c_end;
            __m256 acc = bias ? load8(bias + c, tail, mask) : _mm256_setzero_ps();
            for (int kh = kh_lo; kh < kh_hi; kh++) {
                const float *x = in + ((ptrdiff_t)(ih0 + kh * dh) * W + iw0) * C + c;
                const float *k = kernel + (size_t)kh * KW * C + c;
                for (int kw = kw_lo; kw < kw_hi; kw++)
                    acc = _mm256_fmadd_ps(
                        load8(x + (ptrdiff_t)kw * dw * C, tail, mask), load8(k + kw * C, tail, mask),
                        acc);
            }
            store8(o + c, acc, act, tail, mask);
        }
    }
}

static AVX2 void depthwise_avx2(
    const float *in, const ck_window *w, const float *kernel, const float *bias,
    ck_activation act, float *out) {
    void (*row)(
        const float *, const ck_window *, const float *, const float *, ck_activation, float *,
        int, __m256i) = row_general;
    if (w->dilation_width == 1 && w->stride_width <= 2) {
        int s1 = w->stride_width == 1;
        switch (w->kernel_width) {
        case 3: row = s1 ? row_3_1 : row_3_2; break;
        case 5: row = s1 ? row_5_1 : row_5_2; break;
        case 7: row = s1 ? row_7_1 : row_7_2; break;
        }
    }
    int tail = w->channels & 7;
    __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const size_t row_floats = (size_t)w->out_width * w->channels;
    for (int oh = 0; oh < w->out_height; oh++) {
        row(in, w, kernel, bias, act, out, oh, mask);
        // Sigmoid/swish on the row just written, while it is in L1 (a pass over the whole
        // image afterwards read EfficientNet's maps back from memory).
        if (act == CK_SIGMOID || act == CK_SWISH)
            ck_apply_activation(act, out + oh * row_floats, row_floats, false);
    }
}
#endif

// MARK: dispatch

void ck_depthwise_conv2d_body(
    const float *input, ck_window window, const float *kernel, const float *bias,
    ck_activation activation, float *output, bool portable) {
#ifdef CK_X86
    // -1: not asked yet. Threads racing here all store the same answer.
    static _Atomic int avx2 = -1;
    int has = atomic_load_explicit(&avx2, memory_order_relaxed);
    if (has < 0) {
        has = ck_has_avx2_fma();
        atomic_store_explicit(&avx2, has, memory_order_relaxed);
    }
    if (has && !portable) {
        depthwise_avx2(input, &window, kernel, bias, activation, output);
        return;
    }
#endif
    (void)portable;
    depthwise_portable(input, &window, kernel, bias, activation, output);
}

void ck_depthwise_conv2d(
    const float *input, ck_window window, const float *kernel, const float *bias,
    ck_activation activation, float *output) {
    ck_depthwise_conv2d_body(input, window, kernel, bias, activation, output, false);
}
