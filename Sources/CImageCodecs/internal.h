#ifndef CIMAGECODECS_INTERNAL_H
#define CIMAGECODECS_INTERNAL_H
#include "CImageCodecs.h"

void cic_init(cic_image *out);
int cic_fail(cic_image *out, int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
// Sets CIC_TOO_LARGE and returns 1 when width * height exceeds max_pixels (> 0).
int cic_too_large(cic_image *out, int64_t width, int64_t height, int64_t max_pixels);
unsigned char *cic_copy(const unsigned char *data, size_t size);

#endif
