// The SIMD body of ck_depthwise_conv2d, included by depthwise.c once per vector width: L
// channels ride in one register (DW_VEC: 8 in a ymm for AVX2, 16 in a zmm for AVX-512), a
// masked register for the last C % L. Every lane gets the same FMAs in the same order at
// either width, so both bodies give the same bits (DepthwiseTests checks it).
//
// Before including, define: DW_SUFFIX (function-name suffix), DW_TARGET (target attribute
// string), DW_BODY (the ck_body for the row activation), DW_L (lanes), DW_VEC, DW_MASK, and
// DW_LOAD(p, tail, mask), DW_STORE(p, v, tail, mask), DW_FMA(a, b, c), DW_ZERO(),
// DW_RELU(v), DW_RELU6(v), DW_TAIL_MASK(tail). They are undefined at the end, so the next
// width defines its own.

#define DW_CAT_(a, b) a##_##b
#define DW_CAT(a, b) DW_CAT_(a, b)
#define DW_FN(name) DW_CAT(name, DW_SUFFIX)
#define DW_INLINE static inline __attribute__((always_inline, target(DW_TARGET)))

DW_INLINE void DW_FN(store)(float *p, DW_VEC v, ck_activation act, int tail, DW_MASK mask) {
    if (act == CK_RELU || act == CK_RELU6) v = DW_RELU(v);
    if (act == CK_RELU6) v = DW_RELU6(v);
    DW_STORE(p, v, tail, mask);
}

/// PIX pixels of one output row for the L channels at c; stride S, dilation 1 along the row.
/// `x` is the input at (first valid kernel row, the block's first tap column, c) (may point into
/// the padding), `k` the kernel at (that kernel row, 0, c), `o` the output at (oh, ow, c).
/// Per kernel row the KW kernel vectors are loaded once and the input columns streamed left to
/// right, each added into every pixel that reads it (3x3 stride 1, 8 pixels: 3 + 10 loads for
/// 24 FMAs). Only columns in [col_lo, col_hi) are inside the input; `clip` is 0 in the interior,
/// where that test is compiled out. KW, S, PIX, clip and tail are literals at the call sites, so
/// everything unrolls and the PIX + KW + 1 <= 16 vectors stay in registers.
DW_INLINE void DW_FN(block)(
    const float *x, const float *k, const float *b, float *o, int rows, int C, int x_row,
    int col_lo, int col_hi, ck_activation act, DW_MASK mask, int KW, int S, int PIX, int clip,
    int tail) {
    DW_VEC acc[8], kv[7];
    DW_VEC init = b ? DW_LOAD(b, tail, mask) : DW_ZERO();
    for (int j = 0; j < PIX; j++) acc[j] = init;
    for (int r = 0; r < rows; r++, x += x_row, k += KW * C) {
        const float *kp = k;
        for (int kw = 0; kw < KW; kw++, kp += C) kv[kw] = DW_LOAD(kp, tail, mask);
        const float *xp = x;
#pragma GCC unroll 32
        for (int col = 0; col < (PIX - 1) * S + KW; col++, xp += C) {
            if (clip && (col < col_lo || col >= col_hi)) continue;
            DW_VEC xv = DW_LOAD(xp, tail, mask);
            // Column col is tap kw of pixel j when col = j*S + kw. Each pixel sees its taps in
            // (kh, kw) order, the naive kernel's.
#pragma GCC unroll 8
            for (int kw = KW - 1; kw >= 0; kw--) {
                int d = col - kw;
                if (d >= 0 && d % S == 0 && d / S < PIX)
                    acc[d / S] = DW_FMA(xv, kv[kw], acc[d / S]);
            }
        }
    }
    for (int j = 0; j < PIX; j++) DW_FN(store)(o + j * C, acc[j], act, tail, mask);
}

/// PIX output pixels (oh, ow..<ow+PIX), all channels: full L-channel blocks, then the masked tail.
DW_INLINE void DW_FN(pixels)(
    const float *in, const ck_window *w, const float *kernel, const float *bias,
    ck_activation act, float *orow, int ih0, int kh_lo, int kh_hi, int ow, DW_MASK mask, int KW,
    int S, int PIX) {
    const int C = w->channels, c_end = C - C % DW_L;
    const int iw0 = ow * S - w->pad_left;
    const int col_lo = iw0 < 0 ? -iw0 : 0, col_hi = w->width - iw0;
    const int clip = col_lo > 0 || col_hi < (PIX - 1) * S + KW;
    const int rows = kh_hi - kh_lo, x_row = w->dilation_height * w->width * C;
    const float *x = in + ((ptrdiff_t)(ih0 + kh_lo * w->dilation_height) * w->width + iw0) * C;
    const float *k = kernel + (size_t)kh_lo * KW * C;
    float *o = orow + (size_t)ow * C;
#define DW_BLOCK(CLIP, TAIL)                                                                   \
    DW_FN(block)(x + c, k + c, bias ? bias + c : 0, o + c, rows, C, x_row, col_lo, col_hi, act, \
                 mask, KW, S, PIX, CLIP, TAIL)
    int c = 0;
    if (clip) {
        for (; c < c_end; c += DW_L) DW_BLOCK(1, 0);
        if (c < C) DW_BLOCK(1, 1);
    } else {
        for (; c < c_end; c += DW_L) DW_BLOCK(0, 0);
        if (c < C) DW_BLOCK(0, 1);
    }
#undef DW_BLOCK
}

/// One output row in blocks of 8, 4, 2, 1 pixels, for the kernel width KW and stride S.
#define DW_ROW(KW, S)                                                                          \
    static __attribute__((target(DW_TARGET))) void DW_FN(row_##KW##_##S)(                      \
        const float *in, const ck_window *w, const float *kernel, const float *bias,           \
        ck_activation act, float *out, int oh, DW_MASK mask) {                                 \
        int ih0 = oh * w->stride_height - w->pad_top, kh_lo, kh_hi;                            \
        valid_taps(ih0, w->kernel_height, w->dilation_height, w->height, &kh_lo, &kh_hi);      \
        float *orow = out + (size_t)oh * w->out_width * w->channels;                           \
        int ow = 0, OW = w->out_width;                                                         \
        for (; ow + 8 <= OW; ow += 8)                                                          \
            DW_FN(pixels)(in, w, kernel, bias, act, orow, ih0, kh_lo, kh_hi, ow, mask, KW, S, 8); \
        if (ow + 4 <= OW) {                                                                    \
            DW_FN(pixels)(in, w, kernel, bias, act, orow, ih0, kh_lo, kh_hi, ow, mask, KW, S, 4); \
            ow += 4;                                                                           \
        }                                                                                      \
        if (ow + 2 <= OW) {                                                                    \
            DW_FN(pixels)(in, w, kernel, bias, act, orow, ih0, kh_lo, kh_hi, ow, mask, KW, S, 2); \
            ow += 2;                                                                           \
        }                                                                                      \
        if (ow < OW)                                                                           \
            DW_FN(pixels)(in, w, kernel, bias, act, orow, ih0, kh_lo, kh_hi, ow, mask, KW, S, 1); \
    }
DW_ROW(3, 1)
DW_ROW(3, 2)
DW_ROW(5, 1)
DW_ROW(5, 2)
DW_ROW(7, 1)
DW_ROW(7, 2)
#undef DW_ROW

/// Any other window (dilated columns, stride > 2, other widths): one pixel at a time over its
/// valid taps.
static __attribute__((target(DW_TARGET))) void DW_FN(row_general)(
    const float *in, const ck_window *w, const float *kernel, const float *bias,
    ck_activation act, float *out, int oh, DW_MASK mask) {
    const int C = w->channels, W = w->width, KW = w->kernel_width, c_end = C - C % DW_L;
    const int dh = w->dilation_height, dw = w->dilation_width;
    int ih0 = oh * w->stride_height - w->pad_top, kh_lo, kh_hi;
    valid_taps(ih0, w->kernel_height, dh, w->height, &kh_lo, &kh_hi);
    for (int ow = 0; ow < w->out_width; ow++) {
        int iw0 = ow * w->stride_width - w->pad_left, kw_lo, kw_hi;
        valid_taps(iw0, KW, dw, W, &kw_lo, &kw_hi);
        float *o = out + ((size_t)oh * w->out_width + ow) * C;
        for (int c = 0; c < C; c += DW_L) {
            int tail = c >= c_end;
            DW_VEC acc = bias ? DW_LOAD(bias + c, tail, mask) : DW_ZERO();
            for (int kh = kh_lo; kh < kh_hi; kh++) {
                const float *x = in + ((ptrdiff_t)(ih0 + kh * dh) * W + iw0) * C + c;
                const float *k = kernel + (size_t)kh * KW * C + c;
                for (int kw = kw_lo; kw < kw_hi; kw++)
                    acc = DW_FMA(
                        DW_LOAD(x + (ptrdiff_t)kw * dw * C, tail, mask),
                        DW_LOAD(k + kw * C, tail, mask), acc);
            }
            DW_FN(store)(o + c, acc, act, tail, mask);
        }
    }
}

static __attribute__((target(DW_TARGET))) void DW_FN(depthwise)(
    const float *in, const ck_window *w, const float *kernel, const float *bias,
    ck_activation act, float *out) {
    void (*row)(
        const float *, const ck_window *, const float *, const float *, ck_activation, float *,
        int, DW_MASK) = DW_FN(row_general);
    if (w->dilation_width == 1 && w->stride_width <= 2) {
        int s1 = w->stride_width == 1;
        switch (w->kernel_width) {
        case 3: row = s1 ? DW_FN(row_3_1) : DW_FN(row_3_2); break;
        case 5: row = s1 ? DW_FN(row_5_1) : DW_FN(row_5_2); break;
        case 7: row = s1 ? DW_FN(row_7_1) : DW_FN(row_7_2); break;
        }
    }
    const DW_MASK mask = DW_TAIL_MASK(w->channels % DW_L);
    const size_t row_floats = (size_t)w->out_width * w->channels;
    for (int oh = 0; oh < w->out_height; oh++) {
        row(in, w, kernel, bias, act, out, oh, mask);
        // Sigmoid/swish on the row just written, while it is in L1 (a pass over the whole
        // image afterwards read EfficientNet's maps back from memory).
        if (act == CK_SIGMOID || act == CK_SWISH)
            ck_apply_activation(act, out + oh * row_floats, row_floats, DW_BODY);
    }
}

#undef DW_CAT_
#undef DW_CAT
#undef DW_FN
#undef DW_INLINE
#undef DW_SUFFIX
#undef DW_TARGET
#undef DW_BODY
#undef DW_L
#undef DW_VEC
#undef DW_MASK
#undef DW_LOAD
#undef DW_STORE
#undef DW_FMA
#undef DW_ZERO
#undef DW_RELU
#undef DW_RELU6
#undef DW_TAIL_MASK
