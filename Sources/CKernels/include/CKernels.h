#ifndef CKERNELS_H
#define CKERNELS_H
// Hot loops that want AVX2 + FMA. The Swift targets are compiled for baseline x86-64 (SSE2: a
// SIMD8<Float> is two instructions, no fused multiply-add), and compiling the whole package for
// Haswell would make the binary die with SIGILL on older CPUs. So each kernel here has an
// AVX2/FMA body behind `__attribute__((target("avx2,fma")))`, chosen at run time by
// `__builtin_cpu_supports`, and a portable body beside it.

#include <stdbool.h>
#include <stddef.h>

/// True when this CPU runs the AVX2 + FMA bodies.
bool ck_has_avx2_fma(void);

/// True when this CPU also has AVX-512F (the packed GEMM's wider tile).
bool ck_has_avx512f(void);

/// A kernel's SIMD body: tests force each one; everything else asks for CK_BODY_AVX512 and
/// gets the widest this CPU has.
typedef enum { CK_BODY_PORTABLE = 0, CK_BODY_AVX2 = 1, CK_BODY_AVX512 = 2 } ck_body;

/// The widest body this CPU runs, at most `asked`.
ck_body ck_available_body(ck_body asked);

/// Activations the C kernels apply as they store (relu/relu6 everywhere; sigmoid/swish in
/// `ck_gemm_packed` and `ck_depthwise_conv2d`, with `ck_apply_activation`'s bits); the others
/// are applied by the Swift caller.
typedef enum { CK_LINEAR = 0, CK_RELU = 1, CK_RELU6 = 2, CK_SIGMOID = 3, CK_SWISH = 4 } ck_activation;

/// x (n) := sigmoid(x) = 1 / (1 + e^-x), or swish(x) = x * sigmoid(x), in place; `kind` is
/// CK_SIGMOID or CK_SWISH. e^x by a polynomial within 2 ulp (libm's expf: 1 ulp).
void ck_apply_activation(ck_activation kind, float *x, size_t n, ck_body body);

/// Winograd F(m×m, 3×3) data transform, m = 2 or 4, a = m + 2, stride 1, one image:
/// in (H,W,C) NHWC -> V (a*a, count, C); tile t of the (tilesHigh, tilesWide) grid covers
/// output rows t/tilesWide*m ..+m and columns t%tilesWide*m ..+m, reading input from
/// (row*m - padTop, col*m - padLeft); taps outside the input are zeros. Tiles
/// firstTile ..< firstTile+count. C % 8 == 0. `portable` forces the non-AVX2 body (tests).
void ck_winograd_input(
    int m, const float *in, int H, int W, int C, int padTop, int padLeft, int tilesWide,
    int firstTile, int count, float *V, bool portable);

/// Winograd output transform, the inverse of `ck_winograd_input`'s tiling:
/// M (a*a, count, K) -> out (OH,OW,K) NHWC, + bias (K, may be NULL), then the activation;
/// pixels past OH/OW (the last tiles' overhang) are not written. K % 8 == 0.
void ck_winograd_output(
    int m, const float *M, int K, const float *bias, ck_activation activation, float *out, int OH,
    int OW, int tilesWide, int firstTile, int count, bool portable);

/// Winograd kernel transform U[ξ] = (G g G^T)[ξ], m = 2 or 4, in double, rounded once:
/// kernel (3,3,C,K) HWIO -> U (a*a, C, K).
void ck_winograd_kernel(int m, const float *kernel, int C, int K, float *U);

/// A sliding window over one NHWC image (Swift's Window2D for a single image). Only the top
/// and left padding are needed: the output size already says how much bottom/right there is.
typedef struct {
    int height, width, channels;
    int kernel_height, kernel_width;
    int stride_height, stride_width;
    int dilation_height, dilation_width;
    int pad_top, pad_left;
    int out_height, out_width;
} ck_window;

/// Keras DepthwiseConv2D, depth multiplier 1, on ONE image, then the activation (any
/// ck_activation; sigmoid/swish as `ck_apply_activation` on each output row):
/// in (H,W,C) * kernel (KH,KW,C) + bias (C or NULL) -> out (OH,OW,C)
/// `out[oh,ow,c] = act(bias[c] + sum_{kh,kw in bounds} in[oh*sh-top+kh*dh, ow*sw-left+kw*dw, c]
///                                                    * kernel[kh,kw,c])`
void ck_depthwise_conv2d(
    const float *input, ck_window window, const float *kernel, const float *bias,
    ck_activation activation, float *output);

/// `ck_depthwise_conv2d` with the body chosen (for tests; the widest available up to `body`).
void ck_depthwise_conv2d_body(
    const float *input, ck_window window, const float *kernel, const float *bias,
    ck_activation activation, float *output, ck_body body);

/// Keras MaxPooling2D (average false) or AveragePooling2D (true) on ONE image, the window's
/// dilation 1 and every window holding at least one input cell:
/// in (H,W,C), window (KH,KW) -> out (OH,OW,C), over the window's taps inside the input, in
/// (kh, kw) order, from -inf by `acc = v > acc ? v : acc` or from 0 by `acc + v` then divided
/// by the number of taps inside (TF "same" excludes the padding). Every body gives the same bits.
void ck_pool2d(const float *input, ck_window window, bool average, float *output, ck_body body);

/// Keras GlobalAveragePooling2D on ONE image: in (pixels, C) -> out (C),
/// `out[c] = (float)(sum_p (double)in[p,c] / pixels)`, the sum in Double in pixel order (the
/// same bits in every body). `sums` is scratch for C doubles.
void ck_global_average_pool(
    const float *input, int pixels, int channels, double *sums, float *output, ck_body body);

/// Whether `ck_gemm_packed` runs on this CPU (it needs AVX2 + FMA; there is no portable body:
/// callers use cblas_sgemm instead).
bool ck_gemm_packed_available(void);

/// Floats `ck_gemm_pack` writes for a (K, N) matrix: ceil(N / 16) panels of K × 16.
size_t ck_gemm_packed_count(int K, int N);

/// Packs B (K, N), rows at stride ldb, for `ck_gemm_packed`: panel q holds columns
/// 16q ..< 16q+16 (zeros past N), row k at packed + (q*K + k)*16.
void ck_gemm_pack(const float *b, size_t ldb, int K, int N, float *packed);

/// C (M, N) = act(A (M, K) · B (K, N) + bias (N)), B packed by `ck_gemm_pack`, A and C rows at
/// strides lda and ldc, K >= 1; bias may be NULL; `activation` is any ck_activation (sigmoid and
/// swish give `ck_apply_activation`'s bits). Each output is the bias plus the products in k order,
/// the same bits whatever M or the row's place. Needs `ck_gemm_packed_available()`.
void ck_gemm_packed(
    int M, int N, int K, const float *A, size_t lda, const float *packed, const float *bias,
    ck_activation activation, float *C, size_t ldc);

/// `ck_gemm_packed` with the body chosen: `avx512` picks the AVX-512 one (8×16 tiles in zmm
/// registers; needs `ck_has_avx512f()`), else the AVX2 one (6×16 in two ymm per row). Both
/// give the same bits; tests compare them.
void ck_gemm_packed_body(
    int M, int N, int K, const float *A, size_t lda, const float *packed, const float *bias,
    ck_activation activation, float *C, size_t ldc, bool avx512);

/// C (M, D) += Bᵀ A: A (R, D) and B (R, M) row-major at strides lda and ldb, C at ldc; a
/// linear head's gradient Gᵀ X without packing X (linear.c). Each output adds its R products
/// to C's value as fused multiply-adds in row order: every body gives the portable one's bits.
/// The AVX-512 body where asked and available, else the portable one.
void ck_gemm_tn(
    int R, int D, int M, const float *A, size_t lda, const float *B, size_t ldb, float *C, size_t ldc,
    ck_body body);

/// X (m, n) := X T⁻¹ in double, T (n, n) a float triangular matrix (row-major at stride ldt;
/// `upper`: T is upper triangular, else lower; the other triangle is not read), X's rows at
/// stride ldx. Every body gives the portable one's bits (linear.c).
void ck_solve_rows(int n, const float *T, size_t ldt, bool upper, int m, double *X, size_t ldx, ck_body body);

#endif
