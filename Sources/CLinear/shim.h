#ifndef CLINEAR_SHIM_H
#define CLINEAR_SHIM_H
// LIBLINEAR (Debian: liblinear-dev), the library scikit-learn's LinearSVC wraps.
#include <linear.h>

#endif
