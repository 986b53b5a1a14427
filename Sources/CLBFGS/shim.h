#ifndef CLBFGS_SHIM_H
#define CLBFGS_SHIM_H
// liblbfgs (Naoaki Okazaki's L-BFGS, Debian: liblbfgs-dev), built with double precision
// (lbfgsfloatval_t is double).
#include <lbfgs.h>

#endif
