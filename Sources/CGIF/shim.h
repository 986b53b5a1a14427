#ifndef CGIF_SHIM_H
#define CGIF_SHIM_H
// giflib has no pkg-config file on Debian; the header is /usr/include/gif_lib.h.
#include <gif_lib.h>
#endif
