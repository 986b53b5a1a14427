#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
// OpenBLAS's CBLAS interface. pkg-config `openblas` (Debian: libopenblas-dev) puts the
// openblas-pthread include directory first, so this is OpenBLAS's own cblas.h, which also
// declares openblas_set_num_threads.
#include <cblas.h>
#include <stddef.h>

// LAPACK's symmetric eigensolver, which libopenblas exports (its Debian headers ship no
// lapack.h). Fortran calling convention: every argument by pointer, then the hidden lengths of
// the three character arguments.
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
             double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
             const int *liwork, int *info, size_t jobz_len, size_t range_len, size_t uplo_len);

// LAPACK's Cholesky factorisation (libopenblas exports it too), same convention.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);

#endif
