// The second product of a linear head's gradient: ∇W (M, D) += Gᵀ X over a block of rows.
//
// Why not cblas_sgemm: with M (the classes) about 10, OpenBLAS packs the whole block of X for
// the few output rows, and the packing took as long as the products (perf on a 10,000 × 2048
// fit: sgemm_oncopy 15 %, the kernel 30 %). Here X is read in place, once per 12 classes:
// a tile of 32 features × 12 classes stays in 24 zmm registers while the rows stream past.
//
// Every output is C's value plus B[0]·A[0] + B[1]·A[1] + ... as fused multiply-adds in row
// order, whatever D's split or the body: the portable body (fmaf) is the naive twin, bit for bit.

#include "CKernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CK_X86 1
#endif

enum { CB = 12, RB = 128 };

static void gemm_tn_portable(
    int R, int D, int M, const float *A, size_t lda, const float *B, size_t ldb, float *C, size_t ldc) {
    for (int c = 0; c < M; c++)
        for (int d = 0; d < D; d++) {
            float acc = C[(size_t)c * ldc + d];
            for (int r = 0; r < R; r++) acc = fmaf(B[(size_t)r * ldb + c], A[(size_t)r * lda + d], acc);
            C[(size_t)c * ldc + d] = acc;
        }
}

#ifdef CK_X86
/// Rows [0, rows) of A against bp (rows × CB, padded with zeros), into C's classes [0, cb).
static __attribute__((target("avx512f,avx2,fma"))) void tile_rows_avx512(
    int rows, int D, int cb, const float *A, size_t lda, const float *bp, float *C, size_t ldc) {
    for (int d0 = 0; d0 < D; d0 += 32) {
        const int left = D - d0;
        const __mmask16 k0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        const __mmask16 k1 = left >= 32 ? 0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
        __m512 acc[CB][2];
        for (int c = 0; c < CB; c++) {
            if (c < cb) {
                acc[c][0] = _mm512_maskz_loadu_ps(k0, C + (size_t)c * ldc + d0);
                acc[c][1] = _mm512_maskz_loadu_ps(k1, C + (size_t)c * ldc + d0 + 16);
            } else {
                acc[c][0] = acc[c][1] = _mm512_setzero_ps();
            }
        }
        const float *a = A + d0;
        for (int r = 0; r < rows; r++, a += lda) {
            const __m512 x0 = _mm512_maskz_loadu_ps(k0, a), x1 = _mm512_maskz_loadu_ps(k1, a + 16);
            const float *g = bp + r * CB;
            for (int c = 0; c < CB; c++) {
                const __m512 b = _mm512_set1_ps(g[c]);
                acc[c][0] = _mm512_fmadd_ps(b, x0, acc[c][0]);
                acc[c][1] = _mm512_fmadd_ps(b, x1, acc[c][1]);
            }
        }
        for (int c = 0; c < cb; c++) {
            _mm512_mask_storeu_ps(C + (size_t)c * ldc + d0, k0, acc[c][0]);
            _mm512_mask_storeu_ps(C + (size_t)c * ldc + d0 + 16, k1, acc[c][1]);
        }
    }
}
#endif

void ck_gemm_tn(
    int R, int D, int M, const float *A, size_t lda, const float *B, size_t ldb, float *C, size_t ldc,
    ck_body body) {
    if (R <= 0 || D <= 0 || M <= 0) return;
#ifdef CK_X86
    if (ck_available_body(body) == CK_BODY_AVX512) {
        // B's columns for one class chunk and block of rows, zero-padded to CB, so the tile's
        // class loop has a fixed length (and unrolls into registers).
        float bp[RB * CB];
        for (int c0 = 0; c0 < M; c0 += CB) {
            const int cb = M - c0 < CB ? M - c0 : CB;
            for (int r0 = 0; r0 < R; r0 += RB) {
                const int rows = R - r0 < RB ? R - r0 : RB;
                memset(bp, 0, sizeof bp);
                for (int r = 0; r < rows; r++)
                    memcpy(bp + r * CB, B + (size_t)(r0 + r) * ldb + c0, (size_t)cb * sizeof(float));
                tile_rows_avx512(rows, D, cb, A + (size_t)r0 * lda, lda, bp, C + (size_t)c0 * ldc, ldc);
            }
        }
        return;
    }
#endif
    gemm_tn_portable(R, D, M, A, lda, B, ldb, C, ldc);
}

// Triangular solves with a float factor, in double: X (m, n) := X T⁻¹.
//
// Why: a preconditioned fit solves with its Cholesky factor twice per evaluation, and the
// factor (n = 2049: 33 MB in double) streamed from memory as long as X's products took. Stored
// as float it is half that; the solve itself stays double, so the change of variables it
// defines (with the float-rounded factor) is exactly linear.
//
// Both directions read T by rows: lower T is solved from the last row up, upper T from the
// first row down, each row times its solved value subtracted from the rest as fused
// multiply-adds. Every element of X sees the same operations in the same order in every body:
// the portable one is the twin.

static void solve_rows_portable(int n, const float *T, size_t ldt, bool upper, int m, double *X, size_t ldx) {
    for (int s = 0; s < n; s++) {
        const int i = upper ? s : n - 1 - s;
        const float *row = T + (size_t)i * ldt;
        const int j0 = upper ? i + 1 : 0, j1 = upper ? n : i;
        for (int c = 0; c < m; c++) {
            double *x = X + (size_t)c * ldx;
            const double y = x[i] / (double)row[i];
            x[i] = y;
            for (int j = j0; j < j1; j++) x[j] = fma(-y, (double)row[j], x[j]);
        }
    }
}

#ifdef CK_X86
enum { SB = 64, SC = 8 };

/// Blocks of SB rows of T in solving order: each block is solved within itself as the
/// portable body does, then its rows update the rest of X at once, SC classes' 8-element
/// chunks held in registers across the block's rows, so X is read and written once per block
/// instead of once per row. Each element still sees its updates in solving order.
static __attribute__((target("avx512f,avx2,fma"))) void solve_rows_avx512(
    int n, const float *T, size_t ldt, bool upper, int m, double *X, size_t ldx) {
    for (int b0 = 0; b0 < n; b0 += SB) {
        const int len = n - b0 < SB ? n - b0 : SB;
        const int lo = upper ? b0 : n - b0 - len, hi = lo + len;
        const float *rows[SB];
        int at[SB];
        for (int s = 0; s < len; s++) {
            at[s] = upper ? lo + s : hi - 1 - s;
            rows[s] = T + (size_t)at[s] * ldt;
        }
        for (int s = 0; s < len; s++) {
            const int i = at[s];
            const int j0 = upper ? i + 1 : lo, j1 = upper ? hi : i;
            for (int c = 0; c < m; c++) {
                double *x = X + (size_t)c * ldx;
                const double y = x[i] / (double)rows[s][i];
                x[i] = y;
                for (int j = j0; j < j1; j++) x[j] = fma(-y, (double)rows[s][j], x[j]);
            }
        }
        const int r0 = upper ? hi : 0, r1 = upper ? n : lo;
        for (int c0 = 0; c0 < m; c0 += SC) {
            const int cm = m - c0 < SC ? m - c0 : SC;
            double ny[SB][SC];
            for (int s = 0; s < len; s++)
                for (int c = 0; c < SC; c++) ny[s][c] = c < cm ? -X[(size_t)(c0 + c) * ldx + at[s]] : 0;
            int j = r0;
            for (; j + 8 <= r1; j += 8) {
                __m512d acc[SC];
                for (int c = 0; c < SC; c++)
                    acc[c] = c < cm ? _mm512_loadu_pd(X + (size_t)(c0 + c) * ldx + j) : _mm512_setzero_pd();
                for (int s = 0; s < len; s++) {
                    const __m512d t = _mm512_cvtps_pd(_mm256_loadu_ps(rows[s] + j));
                    for (int c = 0; c < SC; c++) acc[c] = _mm512_fmadd_pd(_mm512_set1_pd(ny[s][c]), t, acc[c]);
                }
                for (int c = 0; c < cm; c++) _mm512_storeu_pd(X + (size_t)(c0 + c) * ldx + j, acc[c]);
            }
            for (; j < r1; j++)
                for (int c = 0; c < cm; c++) {
                    double acc = X[(size_t)(c0 + c) * ldx + j];
                    for (int s = 0; s < len; s++) acc = fma(ny[s][c], (double)rows[s][j], acc);
                    X[(size_t)(c0 + c) * ldx + j] = acc;
                }
        }
    }
}
#endif

void ck_solve_rows(int n, const float *T, size_t ldt, bool upper, int m, double *X, size_t ldx, ck_body body) {
    if (n <= 0 || m <= 0) return;
#ifdef CK_X86
    if (ck_available_body(body) == CK_BODY_AVX512) {
        solve_rows_avx512(n, T, ldt, upper, m, X, ldx);
        return;
    }
#endif
    solve_rows_portable(n, T, ldt, upper, m, X, ldx);
}
