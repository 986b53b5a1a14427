// Winograd F(m×m, 3×3) data and output transforms (Lavin & Gray 2015), m = 2 or 4, for
// stride-1 3×3 convolutions in NHWC. Vectorized over channels, 8 at a time: in NHWC a tile's
// channels are contiguous in the input, in V and M, and in the output.
#include "CKernels.h"
#include <string.h>

// v8 is only ever passed between always-inline functions, so the portable body's SSE calling
// convention for 32-byte vectors never reaches a real call.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) v8 ld8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void st8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

// B^T d for one 4- or 6-vector (points 0, 1, -1 for m = 2; 0, ±1, ±2 and ∞ for m = 4).
#define BT2(d, r)                                                                            \
    do {                                                                                     \
        r[0] = d[0] - d[2];                                                                  \
        r[1] = d[1] + d[2];                                                                  \
        r[2] = d[2] - d[1];                                                                  \
        r[3] = d[1] - d[3];                                                                  \
    } while (0)
#define BT4(d, r)                                                                            \
    do {                                                                                     \
        r[0] = 4 * d[0] - 5 * d[2] + d[4];                                                   \
        r[1] = -4 * (d[1] + d[2]) + (d[3] + d[4]);                                           \
        r[2] = 4 * (d[1] - d[2]) + (d[4] - d[3]);                                            \
        r[3] = 2 * (d[3] - d[1]) + (d[4] - d[2]);                                            \
        r[4] = 2 * (d[1] - d[3]) + (d[4] - d[2]);                                            \
        r[5] = 4 * d[1] - 5 * d[3] + d[5];                                                   \
    } while (0)
// A^T x for one 4- or 6-vector.
#define AT2(x, y)                                                                            \
    do {                                                                                     \
        y[0] = x[0] + x[1] + x[2];                                                           \
        y[1] = x[1] - x[2] - x[3];                                                           \
    } while (0)
#define AT4(x, y)                                                                            \
    do {                                                                                     \
        y[0] = x[0] + (x[1] + x[2]) + (x[3] + x[4]);                                         \
        y[1] = (x[1] - x[2]) + 2 * (x[3] - x[4]);                                            \
        y[2] = (x[1] + x[2]) + 4 * (x[3] + x[4]);                                            \
        y[3] = (x[1] - x[2]) + 8 * (x[3] - x[4]) + x[5];                                     \
    } while (0)

// One tile, 8 channels: V[ξ] = (B^T d B)[ξ], ξ = i*A + j, at v + ξ*ldv.
#define INPUT_TILE(A, BT)                                                                    \
    do {                                                                                     \
        v8 d[A][A], t[A][A], col[A], r[A];                                                   \
        for (int i = 0; i < A; i++)                                                          \
            for (int j = 0; j < A; j++)                                                      \
                d[i][j] = (rowOk[i] && colOk[j]) ? ld8(src + (i * W + j) * C + c) : zero;     \
        for (int j = 0; j < A; j++) {                                                        \
            for (int i = 0; i < A; i++) col[i] = d[i][j];                                    \
            BT(col, r);                                                                      \
            for (int i = 0; i < A; i++) t[i][j] = r[i];                                      \
        }                                                                                    \
        for (int i = 0; i < A; i++) {                                                        \
            BT(t[i], r);                                                                     \
            for (int j = 0; j < A; j++) st8(dst + (size_t)(i * A + j) * ldv, r[j]);          \
        }                                                                                    \
    } while (0)

static inline __attribute__((always_inline)) void input_body(
    int m, const float *in, int H, int W, int C, int padTop, int padLeft, int tilesWide,
    int firstTile, int count, float *V) {
    const v8 zero = {0};
    const int a = m + 2;
    const size_t ldv = (size_t)count * C;
    for (int t = 0; t < count; t++) {
        const int tile = firstTile + t;
        const int ih0 = (tile / tilesWide) * m - padTop, iw0 = (tile % tilesWide) * m - padLeft;
        bool rowOk[6], colOk[6];
        for (int i = 0; i < a; i++) {
            rowOk[i] = ih0 + i >= 0 && ih0 + i < H;
            colOk[i] = iw0 + i >= 0 && iw0 + i < W;
        }
        // The origin may lie in the padding; only in-bounds taps are read.
        const float *src = in + ((ptrdiff_t)ih0 * W + iw0) * C;
        for (int c = 0; c < C; c += 8) {
            float *dst = V + (size_t)t * C + c;
            if (m == 2)
                INPUT_TILE(4, BT2);
            else
                INPUT_TILE(6, BT4);
        }
    }
}

#define OUTPUT_TILE(A, M, AT)                                                                \
    do {                                                                                     \
        v8 x[A][A], t[M][A], col[A], r[M];                                                   \
        for (int i = 0; i < A; i++)                                                          \
            for (int j = 0; j < A; j++) x[i][j] = ld8(src + (size_t)(i * A + j) * ldm);      \
        for (int j = 0; j < A; j++) {                                                        \
            for (int i = 0; i < A; i++) col[i] = x[i][j];                                    \
            AT(col, r);                                                                      \
            for (int i = 0; i < M; i++) t[i][j] = r[i];                                      \
        }                                                                                    \
        for (int i = 0; i < M; i++) {                                                        \
            if (oh0 + i >= OH) break;                                                        \
            AT(t[i], r);                                                                     \
            for (int j = 0; j < M && ow0 + j < OW; j++) {                                    \
                v8 y = r[j] + b;                                                             \
                if (activation == CK_RELU || activation == CK_RELU6)                         \
                    y = __builtin_elementwise_max(y, zero);                                  \
                if (activation == CK_RELU6) y = __builtin_elementwise_min(y, six);           \
                st8(out + ((size_t)(oh0 + i) * OW + ow0 + j) * K + k, y);                    \
            }                                                                                \
        }                                                                                    \
    } while (0)

static inline __attribute__((always_inline)) void output_body(
    int m, const float *Mx, int K, const float *bias, ck_activation activation, float *out, int OH, int OW,
    int tilesWide, int firstTile, int count) {
    const v8 zero = {0};
    const v8 six = {6, 6, 6, 6, 6, 6, 6, 6};
    const size_t ldm = (size_t)count * K;
    for (int t = 0; t < count; t++) {
        const int tile = firstTile + t;
        const int oh0 = (tile / tilesWide) * m, ow0 = (tile % tilesWide) * m;
        for (int k = 0; k < K; k += 8) {
            const float *src = Mx + (size_t)t * K + k;
            const v8 b = bias ? ld8(bias + k) : zero;
            if (m == 2)
                OUTPUT_TILE(4, 2, AT2);
            else
                OUTPUT_TILE(6, 4, AT4);
        }
    }
}

__attribute__((target("avx2,fma"))) static void input_avx2(
    int m, const float *in, int H, int W, int C, int padTop, int padLeft, int tilesWide,
    int firstTile, int count, float *V) {
    input_body(m, in, H, W, C, padTop, padLeft, tilesWide, firstTile, count, V);
}
static void input_portable(
    int m, const float *in, int H, int W, int C, int padTop, int padLeft, int tilesWide,
    int firstTile, int count, float *V) {
    input_body(m, in, H, W, C, padTop, padLeft, tilesWide, firstTile, count, V);
}
__attribute__((target("avx2,fma"))) static void output_avx2(
    int m, const float *Mx, int K, const float *bias, ck_activation activation, float *out, int OH, int OW,
    int tilesWide, int firstTile, int count) {
    output_body(m, Mx, K, bias, activation, out, OH, OW, tilesWide, firstTile, count);
}
static void output_portable(
    int m, const float *Mx, int K, const float *bias, ck_activation activation, float *out, int OH, int OW,
    int tilesWide, int firstTile, int count) {
    output_body(m, Mx, K, bias, activation, out, OH, OW, tilesWide, firstTile, count);
}

void ck_winograd_input(
    int m, const float *in, int H, int W, int C, int padTop, int padLeft, int tilesWide,
    int firstTile, int count, float *V, bool portable) {
    if (!portable && ck_has_avx2_fma())
        input_avx2(m, in, H, W, C, padTop, padLeft, tilesWide, firstTile, count, V);
    else
        input_portable(m, in, H, W, C, padTop, padLeft, tilesWide, firstTile, count, V);
}

void ck_winograd_output(
    int m, const float *M, int K, const float *bias, ck_activation activation, float *out, int OH,
    int OW, int tilesWide, int firstTile, int count, bool portable) {
    if (!portable && ck_has_avx2_fma())
        output_avx2(m, M, K, bias, activation, out, OH, OW, tilesWide, firstTile, count);
    else
        output_portable(m, M, K, bias, activation, out, OH, OW, tilesWide, firstTile, count);
}

// The kernel transform, in C because Swift's debug builds (the tests) spent most of a backbone's
// load time here. Same operations in the same order as the Swift it replaced, in double, with
// no contraction into FMA, so U is the same bits.
void ck_winograd_kernel(int m, const float *kernel, int C, int K, float *U) {
#pragma clang fp contract(off)
    static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    static const double G4[6][3] = {
        {1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
        {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    const double(*G)[3] = m == 2 ? G2 : G4;
    const int a = m + 2;
    for (int c = 0; c < C; c++)
        for (int k = 0; k < K; k++) {
            double g[9];
            for (int t = 0; t < 9; t++) g[t] = kernel[((size_t)t * C + c) * K + k];
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++) {
                    double s = 0.0;
                    for (int p = 0; p < 3; p++)
                        for (int q = 0; q < 3; q++) s += G[i][p] * g[p * 3 + q] * G[j][q];
                    U[(((size_t)i * a + j) * C + c) * K + k] = (float)s;
                }
        }
}
