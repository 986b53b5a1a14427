#include "CImageCodecs.h"
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cic_image_free(cic_image *image) {
    if (!image) return;
    free(image->pixels);
    free(image->exif);
    free(image->xmp);
    image->pixels = NULL;
    image->exif = NULL;
    image->xmp = NULL;
}

void cic_init(cic_image *out) {
    memset(out, 0, sizeof *out);
    out->gif_transparency = -1;
}

int cic_fail(cic_image *out, int status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(out->message, sizeof out->message, format, args);
    va_end(args);
    out->status = status;
    return status;
}

int cic_too_large(cic_image *out, int64_t width, int64_t height, int64_t max_pixels) {
    if (max_pixels > 0 && width * height > max_pixels) {
        out->width = (int)width;
        out->height = (int)height;
        cic_fail(out, CIC_TOO_LARGE, "%lld x %lld = %lld pixels, limit %lld",
                 (long long)width, (long long)height, (long long)(width * height),
                 (long long)max_pixels);
        return 1;
    }
    return 0;
}

unsigned char *cic_copy(const unsigned char *data, size_t size) {
    unsigned char *copy = malloc(size ? size : 1);
    if (copy) memcpy(copy, data, size);
    return copy;
}
