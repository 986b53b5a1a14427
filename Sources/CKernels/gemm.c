// Single-precision GEMM for convolutions whose weights are known at load time; see CKernels.h.
//
// Why not cblas_sgemm: OpenBLAS packs B (the weights) again on every call, and on the
// backbones' shapes (few rows for the deep layers, few columns for the early ones, 36 small
// GEMMs per Winograd block) its single-threaded sgemm reaches 45-70 GFLOP/s here, against
// about 80 for a 6×16 AVX2 tile in L1 (Benchmarks/ConvLibraries measures both). Packing B
// once at load time and reading A in place removes both packings.
//
// Trick: C is computed in 6×16 tiles held in 12 AVX registers; per k, two loads of the packed
// B row and six broadcasts of A feed 12 FMAs. K is cut in blocks of KC (a panel's block of B,
// KC×16 floats = 16 KiB, stays in L1 while MC rows of A stream past it from L2); partial sums
// pass through C between blocks, which is exact. So every output is
// bias + a[0]b[0] + a[1]b[1] + ... in k order, whatever M, the tile or the row's place in it:
// an image's features are the same bits in any batch. The activation (relu, relu6, sigmoid,
// swish) is applied as the last block is stored. CPUs with AVX-512F run 12×32 tiles in zmm
// registers instead (same order, same bits; see gemm_avx512).

#include "CKernels.h"
#include "sigmoid.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

enum { NR = 16, MR = 6, KC = 256, MC = 72, A_IN_L2 = 384 << 10 };

size_t ck_gemm_packed_count(int K, int N) { return (size_t)((N + NR - 1) / NR) * K * NR; }

void ck_gemm_pack(const float *b, size_t ldb, int K, int N, float *packed) {
    const int panels = (N + NR - 1) / NR;
    for (int q = 0; q < panels; q++) {
        float *dst = packed + (size_t)q * K * NR;
        const int n0 = q * NR, width = N - n0 < NR ? N - n0 : NR;
        for (int k = 0; k < K; k++, dst += NR) {
            memcpy(dst, b + (size_t)k * ldb + n0, (size_t)width * sizeof(float));
            for (int j = width; j < NR; j++) dst[j] = 0;
        }
    }
}

#ifdef CK_X86
#define INLINE_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))

// Sigmoid/swish in the store too: EfficientNet's expand convolutions wrote their outputs, then
// a second pass read them back from memory for the activation (half as long as the GEMM).
INLINE_AVX2 __m256 activate8(__m256 v, ck_activation act) {
    if (act == CK_RELU || act == CK_RELU6) v = _mm256_max_ps(v, _mm256_setzero_ps());
    if (act == CK_RELU6) v = _mm256_min_ps(v, _mm256_set1_ps(6));
    if (act == CK_SIGMOID || act == CK_SWISH) v = (__m256)ck_sigmoid_or_swish_avx2(act, (ck_v8)v);
    return v;
}

/// One ROWS×16 tile of C over k-block [k0, k0+kc): starts from the bias (first block) or C,
/// applies `act` (last block; CK_LINEAR otherwise) and stores. `full` is 0 for the last
/// panel when N % 16 != 0: then only the lanes in (m0, m1) are read or written. ROWS and
/// full are literals at the call sites, so the row loops unroll and the tile stays in registers.
INLINE_AVX2 void tile(
    int ROWS, int full, int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc,
    const float *bias, int first, ck_activation act, __m256i m0, __m256i m1) {
    __m256 acc[MR][2];
    if (first) {
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        if (bias) {
            b0 = full ? _mm256_loadu_ps(bias) : _mm256_maskload_ps(bias, m0);
            b1 = full ? _mm256_loadu_ps(bias + 8) : _mm256_maskload_ps(bias + 8, m1);
        }
        for (int r = 0; r < ROWS; r++) acc[r][0] = b0, acc[r][1] = b1;
    } else {
        for (int r = 0; r < ROWS; r++) {
            acc[r][0] = full ? _mm256_loadu_ps(c + r * ldc) : _mm256_maskload_ps(c + r * ldc, m0);
            acc[r][1] = full ? _mm256_loadu_ps(c + r * ldc + 8)
                             : _mm256_maskload_ps(c + r * ldc + 8, m1);
        }
    }
    const float *ar[MR];
    for (int r = 0; r < ROWS; r++) ar[r] = a + r * lda;
    for (int k = 0; k < kc; k++, b += NR) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int r = 0; r < ROWS; r++) {
            const __m256 x = _mm256_broadcast_ss(ar[r] + k);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        const __m256 y0 = activate8(acc[r][0], act), y1 = activate8(acc[r][1], act);
        if (full) {
            _mm256_storeu_ps(c + r * ldc, y0);
            _mm256_storeu_ps(c + r * ldc + 8, y1);
        } else {
            _mm256_maskstore_ps(c + r * ldc, m0, y0);
            _mm256_maskstore_ps(c + r * ldc + 8, m1, y1);
        }
    }
}

/// `tile` for 6 rows, the hot case, with the 12 accumulators as named variables: written as an
/// array loop, clang kept part of the tile in memory and ran no faster than OpenBLAS.
INLINE_AVX2 void tile6(
    int full, int PF, int kc, const float *a, size_t lda, const float *b, const float *pf,
    float *c, size_t ldc, const float *bias, int first, ck_activation act, __m256i m0,
    __m256i m1) {
#define LOAD0(p) (full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m0))
#define LOAD1(p) (full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m1))
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (first) {
        c00 = c01 = _mm256_setzero_ps();
        if (bias) c00 = LOAD0(bias), c01 = LOAD1(bias + 8);
        c10 = c20 = c30 = c40 = c50 = c00;
        c11 = c21 = c31 = c41 = c51 = c01;
    } else {
        c00 = LOAD0(c), c01 = LOAD1(c + 8);
        c10 = LOAD0(c + ldc), c11 = LOAD1(c + ldc + 8);
        c20 = LOAD0(c + 2 * ldc), c21 = LOAD1(c + 2 * ldc + 8);
        c30 = LOAD0(c + 3 * ldc), c31 = LOAD1(c + 3 * ldc + 8);
        c40 = LOAD0(c + 4 * ldc), c41 = LOAD1(c + 4 * ldc + 8);
        c50 = LOAD0(c + 5 * ldc), c51 = LOAD1(c + 5 * ldc + 8);
    }
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda,
                *a5 = a + 5 * lda;
    for (int k = 0; k < kc; k++, b += NR) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        if (PF) _mm_prefetch((const char *)(pf + (size_t)k * NR), _MM_HINT_T0);
        __m256 x;
#define ROW(i)                                       \
    x = _mm256_broadcast_ss(a##i + k);               \
    c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0);      \
    c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
    }
#define STORE(i)                                                                  \
    do {                                                                          \
        __m256 y0 = activate8(c##i##0, act), y1 = activate8(c##i##1, act);        \
        float *p = c + i * ldc;                                                   \
        if (full) {                                                               \
            _mm256_storeu_ps(p, y0);                                              \
            _mm256_storeu_ps(p + 8, y1);                                          \
        } else {                                                                  \
            _mm256_maskstore_ps(p, m0, y0);                                       \
            _mm256_maskstore_ps(p + 8, m1, y1);                                   \
        }                                                                         \
    } while (0)
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
#undef STORE
#undef LOAD0
#undef LOAD1
}

/// Rows [m, m+rows) of one panel, in tiles of 6 and one tile of the rest; `tail` is the last
/// panel's column count, used only when `full` is 0.
INLINE_AVX2 void panel_rows_w(
    int full, int rows, int kc, const float *a, size_t lda, const float *b, const float *pf,
    float *c, size_t ldc, const float *bias, int first, ck_activation act, int tail) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), lanes);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail - 8), lanes);
#define TILE(R) tile(R, full, kc, a, lda, b, c, ldc, bias, first, act, m0, m1)
    // The first tile fetches the next call's block of B, as the AVX-512 body's does.
    if (pf && rows >= MR) {
        tile6(full, 1, kc, a, lda, b, pf, c, ldc, bias, first, act, m0, m1);
        rows -= MR, a += MR * lda, c += MR * ldc;
    }
    for (; rows >= MR; rows -= MR, a += MR * lda, c += MR * ldc)
        tile6(full, 0, kc, a, lda, b, pf, c, ldc, bias, first, act, m0, m1);
    switch (rows) {
    case 5: TILE(5); break;
    case 4: TILE(4); break;
    case 3: TILE(3); break;
    case 2: TILE(2); break;
    case 1: TILE(1); break;
    }
#undef TILE
}

/// The AVX2 panel function: one panel of `cols` >= 1 remaining columns (full when >= 16).
INLINE_AVX2 int panel_rows(
    int cols, int rows, int kc, const float *a, size_t lda, const float *b, size_t b_next,
    const float *pf0, const float *pf1, float *c, size_t ldc, const float *bias, int first,
    ck_activation act) {
    (void)b_next, (void)pf1;
    if (cols >= NR) panel_rows_w(1, rows, kc, a, lda, b, pf0, c, ldc, bias, first, act, NR);
    else panel_rows_w(0, rows, kc, a, lda, b, pf0, c, ldc, bias, first, act, cols);
    return 1;
}

/// Computes rows [0, rows) of C's columns from the panel at `b` (the next panel's block is at
/// b + b_next) for `cols` >= 1 remaining columns; returns how many panels it covered. pf0 and
/// pf1 (or NULL) are the blocks of B the call after it reads, to prefetch.
typedef int panel_fn(
    int cols, int rows, int kc, const float *a, size_t lda, const float *b, size_t b_next,
    const float *pf0, const float *pf1, float *c, size_t ldc, const float *bias, int first,
    ck_activation act);

/// The blocking both bodies share; `panel` is a constant at each call site, so once this is
/// inlined the panel function is too and full/tail stay literals in the tiles.
static inline __attribute__((always_inline)) void gemm_blocked(
    panel_fn *panel, int span, int M, int N, int K, const float *A, size_t lda,
    const float *packed, const float *bias, ck_activation act, float *C, size_t ldc) {
    const int panels = (N + NR - 1) / NR;
#define BLOCK(q, k) (packed + ((size_t)(q) * K + (k)) * NR)
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int kc = K - k0 < KC ? K - k0 : KC;
        const int first = k0 == 0;
        const ck_activation a_now = k0 + kc == K ? act : CK_LINEAR;
        // When the whole (M, kc) block of A fits in L2 each panel's 16 KiB of B sweeps all of
        // it from L1; otherwise MC rows at a time, B's block coming from L2/L3 for each.
        const int block = (size_t)M * kc * sizeof(float) <= A_IN_L2 ? M : MC;
        for (int i0 = 0; i0 < M; i0 += block) {
            const int mc = M - i0 < block ? M - i0 : block;
            const float *a = A + (size_t)i0 * lda + k0;
            for (int q = 0; q < panels;) {
                const float *b = BLOCK(q, k0);
                float *c = C + (size_t)i0 * ldc + (size_t)q * NR;
                const float *bq = bias ? bias + q * NR : NULL;
                // The next call's blocks: the next panels, else the first ones of the next
                // row block or k-block (kc rows of them are fetched, so not a shorter last one).
                int nq = q + span, nk = k0;
                if (nq >= panels) nq = 0, nk = i0 + block < M ? k0 : k0 + KC;
                const float *pf0 = nk + kc <= K ? BLOCK(nq, nk) : NULL;
                const float *pf1 = pf0 && nq + 1 < panels ? BLOCK(nq + 1, nk) : pf0;
                q += panel(N - q * NR, mc, kc, a, lda, b, (size_t)K * NR, pf0, pf1, c, ldc, bq,
                           first, a_now);
            }
        }
    }
#undef BLOCK
}

static __attribute__((target("avx2,fma"))) void gemm_avx2(
    int M, int N, int K, const float *A, size_t lda, const float *packed, const float *bias,
    ck_activation act, float *C, size_t ldc) {
    gemm_blocked(panel_rows, 1, M, N, K, A, lda, packed, bias, act, C, ldc);
}

// MARK: AVX-512

// The same panels and blocking, but a row of a panel is one zmm register, and tiles span two
// panels: 12 rows × 32 columns hold 24 accumulators (of 32 registers) and need two loads of B
// and 12 broadcasts per 24 FMAs, against 2 + 6 per 12 for the AVX2 tile. The last odd panel
// runs 8×16 tiles. Each output still gets bias + a[0]b[0] + a[1]b[1] + ... in k order with one
// FMA per product, so the bits are the AVX2 body's. On a Zen 5 (two 512-bit FMA units) the
// 8×16 tile alone reached about 110 GFLOP/s per core, load-bound at 9 loads per 8 FMAs; the
// 12×32 tile runs ResNet50's 7×7 1×1 convolutions at 145 (0.90 -> 0.70 ms each).
enum { MR16 = 8, MR32 = 12 };
#define INLINE_AVX512 static inline __attribute__((always_inline, target("avx512f,avx2,fma")))

INLINE_AVX512 __m512 activate16(__m512 v, ck_activation act) {
    if (act == CK_RELU || act == CK_RELU6) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == CK_RELU6) v = _mm512_min_ps(v, _mm512_set1_ps(6));
    if (act == CK_SIGMOID || act == CK_SWISH)
        v = (__m512)ck_sigmoid_or_swish_avx512(act, (ck_v16)v);
    return v;
}

/// One ROWS × 16·NV tile over NV (1 or 2) adjacent panels b0, b1 (b1 unused when NV is 1) and
/// k-block [k0, k0+kc), as `tile`: from the bias (first block) or C, `act` on the last block.
/// Every panel but the last of the tile is full; `mask` holds the last one's columns, used
/// only when `full` is 0. ROWS, NV and full are literals at the call sites.
INLINE_AVX512 void tile_zmm(
    int ROWS, int NV, int full, int PF, int kc, const float *a, size_t lda, const float *b0,
    const float *b1, const float *pf0, const float *pf1, float *c, size_t ldc,
    const float *bias, int first, ck_activation act, __mmask16 mask) {
    // Masked loads and stores only in the last panel: on Zen 4 a masked store costs more.
#define WHOLE(v) (full || (v) < NV - 1)
#define LOADV(p, v) (WHOLE(v) ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask, p))
    __m512 acc[MR32][2];
    if (first) {
        __m512 z[2];
        for (int v = 0; v < NV; v++) z[v] = bias ? LOADV(bias + v * NR, v) : _mm512_setzero_ps();
        for (int r = 0; r < ROWS; r++)
            for (int v = 0; v < NV; v++) acc[r][v] = z[v];
    } else {
        for (int r = 0; r < ROWS; r++)
            for (int v = 0; v < NV; v++) acc[r][v] = LOADV(c + r * ldc + v * NR, v);
    }
#undef LOADV
    const float *ar[MR32];
    for (int r = 0; r < ROWS; r++) ar[r] = a + r * lda;
    const float *bp[2] = {b0, b1};
    for (int k = 0; k < kc; k++) {
        __m512 bv[2];
        for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(bp[v] + (size_t)k * NR);
        if (PF) {
            _mm_prefetch((const char *)(pf0 + (size_t)k * NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf1 + (size_t)k * NR), _MM_HINT_T0);
        }
        for (int r = 0; r < ROWS; r++) {
            const __m512 x = _mm512_set1_ps(ar[r][k]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < ROWS; r++) {
        for (int v = 0; v < NV; v++) {
            const __m512 y = activate16(acc[r][v], act);
            if (WHOLE(v)) _mm512_storeu_ps(c + r * ldc + v * NR, y);
            else _mm512_mask_storeu_ps(c + r * ldc + v * NR, mask, y);
        }
    }
#undef WHOLE
}

/// Rows [m, m+rows) of NV panels in tiles of 8 rows (one panel) or 12 (two), then one tile of
/// the rest; `tail` is the last panel's column count, used only when `full` is 0.
INLINE_AVX512 void zmm_rows(
    int NV, int full, int rows, int kc, const float *a, size_t lda, const float *b0,
    const float *b1, const float *pf0, const float *pf1, float *c, size_t ldc,
    const float *bias, int first, ck_activation act, int tail) {
    const __mmask16 mask = (__mmask16)((1u << tail) - 1);
    const int MRZ = NV == 2 ? MR32 : MR16;
#define TILE_PF(R, PF) \
    tile_zmm(R, NV, full, PF, kc, a, lda, b0, b1, pf0, pf1, c, ldc, bias, first, act, mask)
#define TILE(R) TILE_PF(R, 0)
    // The first full tile also fetches the next call's blocks of B, one cache line of each per
    // k: streamed from memory by the first tile alone (the deep layers' weights are read once
    // per image), they held ResNet50's 7×7 1×1 convolutions to about 120 GFLOP/s.
    if (pf0 && rows >= MRZ) {
        TILE_PF(MRZ, 1);
        rows -= MRZ, a += MRZ * lda, c += MRZ * ldc;
    }
    for (; rows >= MRZ; rows -= MRZ, a += MRZ * lda, c += MRZ * ldc) TILE(MRZ);
    switch (rows) {
    case 11: TILE(11); break;
    case 10: TILE(10); break;
    case 9: TILE(9); break;
    case 8: TILE(8); break;
    case 7: TILE(7); break;
    case 6: TILE(6); break;
    case 5: TILE(5); break;
    case 4: TILE(4); break;
    case 3: TILE(3); break;
    case 2: TILE(2); break;
    case 1: TILE(1); break;
    }
#undef TILE
#undef TILE_PF
}

/// The AVX-512 panel function: two panels at a time while more than 16 columns remain, then
/// the last one alone.
INLINE_AVX512 int panel_rows16(
    int cols, int rows, int kc, const float *a, size_t lda, const float *b, size_t b_next,
    const float *pf0, const float *pf1, float *c, size_t ldc, const float *bias, int first,
    ck_activation act) {
#define ROWS(NV, FULL, B1, TAIL) \
    zmm_rows(NV, FULL, rows, kc, a, lda, b, B1, pf0, pf1, c, ldc, bias, first, act, TAIL)
    if (cols > NR) {
        const float *b1 = b + b_next;
        if (cols >= 2 * NR) ROWS(2, 1, b1, NR);
        else ROWS(2, 0, b1, cols - NR);
        return 2;
    }
    if (cols == NR) ROWS(1, 1, b, NR);
    else ROWS(1, 0, b, cols);
    return 1;
#undef ROWS
}

static __attribute__((target("avx512f,avx2,fma"))) void gemm_avx512(
    int M, int N, int K, const float *A, size_t lda, const float *packed, const float *bias,
    ck_activation act, float *C, size_t ldc) {
    gemm_blocked(panel_rows16, 2, M, N, K, A, lda, packed, bias, act, C, ldc);
}
#endif

bool ck_gemm_packed_available(void) {
#ifdef CK_X86
    return ck_has_avx2_fma();
#else
    return false;
#endif
}

void ck_gemm_packed(
    int M, int N, int K, const float *A, size_t lda, const float *packed, const float *bias,
    ck_activation activation, float *C, size_t ldc) {
    ck_gemm_packed_body(M, N, K, A, lda, packed, bias, activation, C, ldc, ck_has_avx512f());
}

void ck_gemm_packed_body(
    int M, int N, int K, const float *A, size_t lda, const float *packed, const float *bias,
    ck_activation activation, float *C, size_t ldc, bool avx512) {
    if (M <= 0 || N <= 0 || K <= 0) return;
#ifdef CK_X86
    if (avx512 && ck_has_avx512f())
        gemm_avx512(M, N, K, A, lda, packed, bias, activation, C, ldc);
    else
        gemm_avx2(M, N, K, A, lda, packed, bias, activation, C, ldc);
#else
    (void)avx512;
#endif
}
