#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
// OpenBLAS's CBLAS interface. pkg-config `openblas` (Debian: libopenblas-dev) puts the
// openblas-pthread include directory first, so this is OpenBLAS's own cblas.h, which also
// declares openblas_set_num_threads.
#include <cblas.h>

#endif
