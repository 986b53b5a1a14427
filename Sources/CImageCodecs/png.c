// PNG through libpng, returning the samples in the mode PIL's PngImagePlugin opens them in:
//   gray 1/2/4/8 -> L (low depths scaled to 0..255 like PIL's L;2 / L;4 unpackers and "1")
//   gray 16      -> I16B (PIL mode I;16; the Swift side clips to 255 as PIL's convert does)
//   gray+alpha 8 -> LA; gray+alpha 16 -> LA from the high bytes (PIL: RGBA via "LA;16B")
//   RGB / RGBA 16 -> high byte of each sample (PIL's "RGB;16B" / "RGBA;16B" unpackers)
//   palette      -> P indices (1/2/4-bit unpacked) plus the PLTE entries
// tRNS, gAMA, sBIT and colour profiles are not applied, as PIL's convert("RGB") ignores them.
//
// CRC checking follows PIL: it verifies the CRC of every chunk before the first IDAT (and
// refuses the file on a mismatch) but never looks at the CRCs of IDAT or later chunks.
// A file whose image data is complete but whose end (IEND, trailing chunks) is missing or
// damaged is accepted, as PIL's load_end stops quietly there.
#include "internal.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t position;
    int hit_end;     // a read went past the end of the buffer
    char message[200];
} png_context;

static void on_read(png_structp png, png_bytep destination, size_t length) {
    png_context *context = png_get_io_ptr(png);
    if (length > context->size - context->position) {
        context->hit_end = 1;
        png_error(png, "unexpected end of file");
    }
    memcpy(destination, context->data + context->position, length);
    context->position += length;
}

static void on_error(png_structp png, png_const_charp message) {
    png_context *context = png_get_error_ptr(png);
    snprintf(context->message, sizeof context->message, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void collect_metadata(png_structp png, png_infop info, cic_image *out) {
    png_bytep exif = NULL;
    png_uint_32 exif_size = 0;
    if (!out->exif && png_get_eXIf_1(png, info, &exif_size, &exif) && exif && exif_size) {
        // PIL stores eXIf as info["exif"] = b"Exif\0\0" + payload.
        out->exif = malloc(exif_size + 6);
        if (out->exif) {
            memcpy(out->exif, "Exif\0\0", 6);
            memcpy(out->exif + 6, exif, exif_size);
            out->exif_size = exif_size + 6;
        }
    }
    png_textp texts = NULL;
    int count = 0;
    if (png_get_text(png, info, &texts, &count) > 0) {
        for (int i = 0; i < count; i++) {
            const char *text = texts[i].text;
            size_t length = texts[i].compression > 0 ? texts[i].itxt_length : texts[i].text_length;
            if (!text) continue;
            if (!out->xmp && strcmp(texts[i].key, "XML:com.adobe.xmp") == 0) {
                out->xmp = cic_copy((const unsigned char *)text, length);
                out->xmp_size = out->xmp ? length : 0;
            } else if (!out->exif && strcmp(texts[i].key, "Raw profile type exif") == 0) {
                // ImageMagick's hex dump; the Swift side decodes it as PIL's getexif does.
                static const char tag[] = "RAWPROFILE:";
                out->exif = malloc(length + sizeof tag);
                if (out->exif) {
                    memcpy(out->exif, tag, sizeof tag - 1);
                    memcpy(out->exif + sizeof tag - 1, text, length);
                    out->exif_size = length + sizeof tag - 1;
                }
            }
        }
    }
}

int cic_decode_png(const unsigned char *data, size_t size, int64_t max_pixels,
                   int want_metadata, cic_image *out) {
    png_context context = {data, size, 0, 0, {0}};
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    volatile int rows_done = 0;

    cic_init(out);
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context, on_error, on_warning);
    if (!png) return cic_fail(out, CIC_NO_MEMORY, "libpng: out of memory");
    info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return cic_fail(out, CIC_NO_MEMORY, "libpng: out of memory");
    }

    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        if (rows_done && out->status == CIC_OK) {
            // The image is complete; only the trailing chunks are missing or damaged.
            out->pixels = pixels;
            if (want_metadata) collect_metadata(png, info, out);
            png_destroy_read_struct(&png, &info, NULL);
            return CIC_OK;
        }
        free(pixels);
        out->pixels = NULL;
        png_destroy_read_struct(&png, &info, NULL);
        if (out->status == CIC_OK) {
            // libpng says "Not enough image data" when the IDAT stream ends before the last
            // row, which PIL reports as "image file is truncated".
            int short_data = strstr(context.message, "Not enough image data") != NULL;
            cic_fail(out, context.hit_end || short_data ? CIC_TRUNCATED : CIC_CORRUPT, "%s",
                     context.message);
        }
        return out->status;
    }

    png_set_read_fn(png, &context, on_read);
    // PIL refuses a CRC mismatch on any chunk before IDAT, critical or not.
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    png_set_benign_errors(png, 1);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color_type, &interlace, NULL, NULL);
    if (cic_too_large(out, width, height, max_pixels)) png_longjmp(png, 1);
    // PIL never checks the CRCs from here on.
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);

    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
        if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        out->mode = depth == 16 ? CIC_MODE_I16B : CIC_MODE_L;
        out->bytes_per_pixel = depth == 16 ? 2 : 1;
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        out->mode = CIC_MODE_LA;
        out->bytes_per_pixel = 2;
        break;
    case PNG_COLOR_TYPE_RGB:
        out->mode = CIC_MODE_RGB;
        out->bytes_per_pixel = 3;
        break;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        out->mode = CIC_MODE_RGBA;
        out->bytes_per_pixel = 4;
        break;
    case PNG_COLOR_TYPE_PALETTE: {
        png_colorp palette = NULL;
        int count = 0;
        if (depth < 8) png_set_packing(png);
        if (!png_get_PLTE(png, info, &palette, &count) || count <= 0) {
            cic_fail(out, CIC_CORRUPT, "palette image without a PLTE chunk");
            png_longjmp(png, 1);
        }
        if (count > 256) count = 256;
        for (int i = 0; i < count; i++) {
            out->palette[3 * i + 0] = palette[i].red;
            out->palette[3 * i + 1] = palette[i].green;
            out->palette[3 * i + 2] = palette[i].blue;
        }
        out->palette_count = count;
        out->has_palette = 1;
        out->mode = CIC_MODE_P;
        out->bytes_per_pixel = 1;
        break;
    }
    default:
        cic_fail(out, CIC_UNSUPPORTED, "PNG colour type %d", color_type);
        png_longjmp(png, 1);
    }
    if (depth == 16 && out->mode != CIC_MODE_I16B) png_set_strip_16(png);  // keeps high bytes
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)width * out->bytes_per_pixel) {
        cic_fail(out, CIC_UNSUPPORTED, "unexpected PNG row size %zu for width %u", stride, width);
        png_longjmp(png, 1);
    }
    pixels = malloc(stride * height ? stride * height : 1);
    rows = malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!pixels || !rows) {
        cic_fail(out, CIC_NO_MEMORY, "out of memory for %u x %u pixels", width, height);
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + stride * y;
    png_read_image(png, rows);
    rows_done = 1;
    out->width = (int)width;
    out->height = (int)height;
    png_read_end(png, info);

    free(rows);
    out->pixels = pixels;
    if (want_metadata) collect_metadata(png, info, out);
    png_destroy_read_struct(&png, &info, NULL);
    return CIC_OK;
}
