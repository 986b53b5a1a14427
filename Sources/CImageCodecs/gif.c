// First frame of a GIF through giflib, composed the way PIL's GifImagePlugin composes frame 0:
// a canvas of the logical screen size (grown if the frame reaches beyond it) filled with the
// frame's transparency index when its graphic control extension sets one, else with index 0;
// the frame's indices written at its offset (transparent pixels included: for frame 0 PIL
// keeps them as plain indices); the local colour table if present, else the global one.
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t position;
    int hit_end;
} gif_context;

static int on_read(GifFileType *gif, GifByteType *destination, int length) {
    gif_context *context = gif->UserData;
    size_t available = context->size - context->position;
    size_t n = (size_t)length <= available ? (size_t)length : available;
    if (n < (size_t)length) context->hit_end = 1;
    memcpy(destination, context->data + context->position, n);
    context->position += n;
    return (int)n;
}

static int gif_status(int error, const gif_context *context) {
    if (context->hit_end || error == D_GIF_ERR_READ_FAILED) return CIC_TRUNCATED;
    if (error == D_GIF_ERR_NOT_ENOUGH_MEM) return CIC_NO_MEMORY;
    return CIC_CORRUPT;
}

static int fail_gif(cic_image *out, GifFileType *gif, const gif_context *context, int error) {
    const char *text = GifErrorString(error);
    free(out->pixels);
    out->pixels = NULL;
    if (gif) DGifCloseFile(gif, NULL);
    return cic_fail(out, gif_status(error, context), "%s", text ? text : "GIF error");
}

int cic_decode_gif(const unsigned char *data, size_t size, int64_t max_pixels, cic_image *out) {
    gif_context context = {data, size, 0, 0};
    int error = 0;
    cic_init(out);
    GifFileType *gif = DGifOpen(&context, on_read, &error);
    if (!gif) return fail_gif(out, NULL, &context, error);
    if (cic_too_large(out, gif->SWidth, gif->SHeight, max_pixels)) {
        DGifCloseFile(gif, NULL);
        return out->status;
    }

    int transparency = -1;
    for (;;) {
        GifRecordType record;
        if (DGifGetRecordType(gif, &record) == GIF_ERROR) return fail_gif(out, gif, &context, gif->Error);
        if (record == TERMINATE_RECORD_TYPE) {
            DGifCloseFile(gif, NULL);
            return cic_fail(out, CIC_CORRUPT, "no image in GIF file");
        }
        if (record == EXTENSION_RECORD_TYPE) {
            int code = 0;
            GifByteType *block = NULL;
            if (DGifGetExtension(gif, &code, &block) == GIF_ERROR)
                return fail_gif(out, gif, &context, gif->Error);
            // Graphic control extension: PIL takes the transparency index when flag bit 0 is
            // set (block[0] is giflib's length byte).
            if (code == GRAPHICS_EXT_FUNC_CODE && block && block[0] >= 4 && (block[1] & 1))
                transparency = block[4];
            while (block) {
                if (DGifGetExtensionNext(gif, &block) == GIF_ERROR)
                    return fail_gif(out, gif, &context, gif->Error);
            }
            continue;
        }
        if (record != IMAGE_DESC_RECORD_TYPE) continue;

        if (DGifGetImageDesc(gif) == GIF_ERROR) return fail_gif(out, gif, &context, gif->Error);
        GifImageDesc desc = gif->Image;
        int64_t width = gif->SWidth, height = gif->SHeight;
        if (desc.Left + desc.Width > width) width = desc.Left + desc.Width;
        if (desc.Top + desc.Height > height) height = desc.Top + desc.Height;
        if (cic_too_large(out, width, height, max_pixels)) {
            DGifCloseFile(gif, NULL);
            return out->status;
        }
        size_t count = (size_t)width * (size_t)height;
        out->pixels = malloc(count ? count : 1);
        GifPixelType *line = malloc(desc.Width ? desc.Width : 1);
        if (!out->pixels || !line) {
            free(line);
            DGifCloseFile(gif, NULL);
            return cic_fail(out, CIC_NO_MEMORY, "out of memory for %lld x %lld pixels",
                            (long long)width, (long long)height);
        }
        memset(out->pixels, transparency >= 0 ? transparency : 0, count);

        // Interlaced frames store rows in four passes.
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        int passes = desc.Interlace ? 4 : 1;
        for (int pass = 0; pass < passes; pass++) {
            int y0 = desc.Interlace ? start[pass] : 0, dy = desc.Interlace ? step[pass] : 1;
            for (int y = y0; y < desc.Height; y += dy) {
                if (DGifGetLine(gif, line, desc.Width) == GIF_ERROR) {
                    free(line);
                    return fail_gif(out, gif, &context, gif->Error);
                }
                memcpy(out->pixels + (size_t)(desc.Top + y) * width + desc.Left, line,
                       desc.Width);
            }
        }
        free(line);

        ColorMapObject *map = desc.ColorMap ? desc.ColorMap : gif->SColorMap;
        if (map && map->ColorCount > 0) {
            int n = map->ColorCount > 256 ? 256 : map->ColorCount;
            for (int i = 0; i < n; i++) {
                out->palette[3 * i + 0] = map->Colors[i].Red;
                out->palette[3 * i + 1] = map->Colors[i].Green;
                out->palette[3 * i + 2] = map->Colors[i].Blue;
            }
            out->palette_count = n;
            out->has_palette = 1;
        }
        out->width = (int)width;
        out->height = (int)height;
        out->mode = CIC_MODE_P;
        out->bytes_per_pixel = 1;
        out->gif_transparency = transparency;
        DGifCloseFile(gif, NULL);
        return CIC_OK;
    }
}
