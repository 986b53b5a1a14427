#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
// Whole-buffer decoders over libjpeg, libpng and giflib that never exit, abort or print.
// libjpeg and libpng report errors by longjmp, which Swift cannot catch; these functions
// catch it in C and return a status with a one-line message instead.
//
// Each decoder returns the pixels in the layout the file stores ("raw mode", as PIL's
// decoders do before `convert("RGB")`); the Swift side applies PIL's conversion to RGB.

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CIC_OK = 0,
    CIC_TRUNCATED = 1,    // the data ends before the image does
    CIC_CORRUPT = 2,      // the library rejected the data
    CIC_UNSUPPORTED = 3,  // a valid file of a variant PIL does not decode either (12-bit JPEG, ...)
    CIC_TOO_LARGE = 4,    // width * height above the caller's limit (width/height are set)
    CIC_NO_MEMORY = 5,
} cic_status;

typedef enum {
    CIC_MODE_L = 1,      // 1 byte per pixel
    CIC_MODE_LA = 2,     // 2 bytes: gray, alpha
    CIC_MODE_RGB = 3,    // 3 bytes
    CIC_MODE_RGBA = 4,   // 4 bytes
    CIC_MODE_CMYK = 5,   // 4 bytes as libjpeg outputs them (not inverted)
    CIC_MODE_I16B = 6,   // 2 bytes, big-endian 16-bit gray (PNG)
    CIC_MODE_P = 7,      // 1 byte palette index; see palette / palette_count
} cic_mode;

typedef struct {
    int status;             // cic_status
    char message[256];      // library message when status != CIC_OK
    int width;
    int height;
    int mode;               // cic_mode
    int bytes_per_pixel;
    unsigned char *pixels;  // width * height * bytes_per_pixel, row-major; malloc'ed
    int has_palette;        // CIC_MODE_P only: 0 when the file has no colour table (GIF)
    int palette_count;      // entries in palette (<= 256)
    unsigned char palette[768];
    int gif_transparency;   // GIF: transparency index of the first frame, -1 if none
    unsigned char *exif;    // EXIF payload as PIL's info["exif"] holds it, or NULL
    size_t exif_size;
    unsigned char *xmp;     // XMP packet, or NULL
    size_t xmp_size;
} cic_image;

// max_pixels: refuse images with more pixels than this before allocating (0: no limit).
// want_metadata: collect EXIF / XMP (for EXIF orientation).
// min_side (JPEG only): when > 0, decode at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, as
// PIL's Image.draft), the smallest that keeps both sides >= min_side; 0 decodes full size.
int cic_decode_jpeg(const unsigned char *data, size_t size, int64_t max_pixels,
                    int want_metadata, int min_side, cic_image *out);
int cic_decode_png(const unsigned char *data, size_t size, int64_t max_pixels,
                   int want_metadata, cic_image *out);
int cic_decode_gif(const unsigned char *data, size_t size, int64_t max_pixels, cic_image *out);

// Frees pixels, exif and xmp; safe on a zeroed or partially filled struct.
void cic_image_free(cic_image *image);

#endif
