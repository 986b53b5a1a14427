// JPEG through libjpeg(-turbo), set up the way Pillow's JpegDecode.c sets it up: library
// defaults (JDCT_ISLOW, fancy upsampling, block smoothing), the colour space libjpeg guesses
// from the JFIF/Adobe markers, and out_color_space chosen by the number of components
// (1 -> grayscale, 3 -> RGB, 4 -> CMYK; PIL refuses any other count and any precision but 8).
//
// Truncation is decided as PIL decides it. PIL feeds libjpeg through a suspending source and
// raises "image file is truncated" when libjpeg still wants data at end of file while
// scanlines are missing; running out while only jpeg_finish_decompress looks for EOI is fine.
// With a memory source libjpeg instead inserts a fake EOI and emits the warning
// JWRN_JPEG_EOF at exactly that point, so: that warning before the last scanline is read
// means truncated. Every other warning ("corrupt data", "extraneous bytes") is ignored, like
// PIL's silent output_message.
#include "internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int eof_warning;  // libjpeg ran out of data (JWRN_JPEG_EOF) at least once
} jpeg_error_context;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_error_context *context = (jpeg_error_context *)cinfo->err;
    longjmp(context->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level) {
    jpeg_error_context *context = (jpeg_error_context *)cinfo->err;
    if (level < 0) {
        context->pub.num_warnings++;
        if (context->pub.msg_code == JWRN_JPEG_EOF) context->eof_warning = 1;
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static int is_unsupported(int code) {
    return code == JERR_BAD_PRECISION || code == JERR_ARITH_NOTIMPL ||
           code == JERR_NOTIMPL || code == JERR_CONVERSION_NOTIMPL ||
           code == JERR_FRACT_SAMPLE_NOTIMPL || code == JERR_CCIR601_NOTIMPL;
}

static void collect_metadata(struct jpeg_decompress_struct *cinfo, cic_image *out) {
    static const char exif_id[] = "Exif\0\0";
    static const char xmp_id[] = "http://ns.adobe.com/xap/1.0/";  // followed by a NUL
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1) continue;
        // PIL keeps the first Exif segment whole (its Exif.load skips the "Exif\0\0" id).
        if (!out->exif && m->data_length >= 6 && memcmp(m->data, exif_id, 6) == 0) {
            out->exif = cic_copy(m->data, m->data_length);
            out->exif_size = out->exif ? m->data_length : 0;
        } else if (!out->xmp && m->data_length > sizeof xmp_id &&
                   memcmp(m->data, xmp_id, sizeof xmp_id) == 0) {
            size_t skip = sizeof xmp_id;  // includes the NUL
            out->xmp = cic_copy(m->data + skip, m->data_length - skip);
            out->xmp_size = out->xmp ? m->data_length - skip : 0;
        }
    }
}

int cic_decode_jpeg(const unsigned char *data, size_t size, int64_t max_pixels,
                    int want_metadata, int min_side, cic_image *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error_context errors;
    unsigned char *volatile pixels = NULL;
    volatile int rows_done = 0;

    cic_init(out);
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&errors.pub);
    errors.pub.error_exit = on_error_exit;
    errors.pub.emit_message = on_emit_message;
    errors.pub.output_message = on_output_message;
    errors.eof_warning = 0;

    if (setjmp(errors.jump)) {
        char text[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, text);
        int code = errors.pub.msg_code;
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        out->pixels = NULL;
        if (out->status == CIC_OK) {
            if (errors.eof_warning && !rows_done)
                cic_fail(out, CIC_TRUNCATED, "premature end of JPEG data (%s)", text);
            else
                cic_fail(out, is_unsupported(code) ? CIC_UNSUPPORTED : CIC_CORRUPT, "%s", text);
        }
        return out->status;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    if (want_metadata) jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    if (errors.eof_warning) {
        cic_fail(out, CIC_TRUNCATED, "premature end of JPEG data in the headers");
        longjmp(errors.jump, 1);
    }
    if (cinfo.data_precision != 8) {
        cic_fail(out, CIC_UNSUPPORTED, "%d-bit JPEG (PIL reads 8-bit only)", cinfo.data_precision);
        longjmp(errors.jump, 1);
    }
    switch (cinfo.num_components) {
    case 1: cinfo.out_color_space = JCS_GRAYSCALE; out->mode = CIC_MODE_L; break;
    case 3: cinfo.out_color_space = JCS_RGB; out->mode = CIC_MODE_RGB; break;
    case 4: cinfo.out_color_space = JCS_CMYK; out->mode = CIC_MODE_CMYK; break;
    default:
        cic_fail(out, CIC_UNSUPPORTED, "JPEG with %d components (PIL reads 1, 3 or 4)",
                 cinfo.num_components);
        longjmp(errors.jump, 1);
    }
    if (cic_too_large(out, cinfo.image_width, cinfo.image_height, max_pixels))
        longjmp(errors.jump, 1);
    if (want_metadata) collect_metadata(&cinfo, out);
    // Shrink on load (PIL's Image.draft): the largest 1/2, 1/4 or 1/8 DCT scaling that keeps
    // both sides at least min_side. libjpeg rounds the scaled sides up.
    if (min_side > 0) {
        for (unsigned denom = 8; denom >= 2; denom /= 2) {
            if ((cinfo.image_width + denom - 1) / denom >= (unsigned)min_side &&
                (cinfo.image_height + denom - 1) / denom >= (unsigned)min_side) {
                cinfo.scale_num = 1;
                cinfo.scale_denom = denom;
                break;
            }
        }
    }

    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        cic_fail(out, CIC_NO_MEMORY, "out of memory for %u x %u pixels", cinfo.output_width,
                 cinfo.output_height);
        longjmp(errors.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (errors.eof_warning) {
        cic_fail(out, CIC_TRUNCATED, "premature end of JPEG data (%u rows expected)",
                 cinfo.output_height);
        longjmp(errors.jump, 1);
    }
    rows_done = 1;
    jpeg_finish_decompress(&cinfo);

    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->bytes_per_pixel = cinfo.output_components;
    out->pixels = pixels;
    jpeg_destroy_decompress(&cinfo);
    return CIC_OK;
}
