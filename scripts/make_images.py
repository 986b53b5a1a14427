#!/usr/bin/env python3
"""Write the image decoding / resizing fixtures used by the Swift Features tests.

Usage:  .venv/bin/python scripts/make_images.py OUTDIR

Writes OUTDIR/images/:
  photos/<class>/<file>   good images derived from real photographs shipped in PyPI packages
                          (scikit-learn, scikit-image); classes city, cat, misc: usable as a
                          class-folder dataset (all five Keras extensions, .JPG, "café photo.jpg")
  synthetic/<file>        small hand-made files for decoder corner cases (bit depths, palettes,
                          GIF canvases, BMP headers, EXIF orientations, PNG quirks)
  large/<file>            one 4000x3000 JPEG (references are resized outputs and a CRC only)
  broken/<file>           files PIL refuses (empty, not an image, truncated, corrupt, bomb)
                          plus files PIL reads but we reject on purpose (RLE/16-bit BMP, WebP)
  ref/<n>.rgb | <n>.f32   raw references: uint8 HWC RGB, or float32 little-endian HWC
  index.json              what every file is and where its references are

References come from Pillow itself, exactly as Keras uses it:
  decoded   np.asarray(PIL.Image.open(p).convert("RGB"))
  resized   np.asarray(keras.utils.load_img(p, target_size=(h, w), interpolation=...,
                                            keep_aspect_ratio=...))
  transposed np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB"))
  tf        tf.image.resize(decoded, (h, w), method=..., antialias=False) as float32, or
            Keras' smart_resize (crop_to_aspect_ratio) traced with dynamic shapes as
            image_dataset_from_directory runs it
Whether a questionable file is "good" or "broken" is decided by asking Pillow (with the
default LOAD_TRUNCATED_IMAGES=False), never assumed. Python is used only here.
"""
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"

import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
import warnings  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
import PIL  # noqa: E402
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, features  # noqa: E402
import sklearn  # noqa: E402
import skimage  # noqa: E402

SK_IMAGES = os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images")
SKI_DATA = os.path.join(os.path.dirname(skimage.__file__), "data")

assert not ImageFile.LOAD_TRUNCATED_IMAGES
warnings.simplefilter("ignore")  # Pillow warns about palette transparency bytes etc.

OUT = None          # OUTDIR/images, set in main()
FILES = []          # index entries for good files
BROKEN = []         # index entries for broken files
_ref_counter = [0]


# ----------------------------------------------------------------------------------------
# Writing references
# ----------------------------------------------------------------------------------------

def write_ref(array, suffix):
    """Stores a uint8 (.rgb) or float32 (.f32) HWC array; returns its relative path."""
    _ref_counter[0] += 1
    rel = f"ref/{_ref_counter[0]:04d}.{suffix}"
    path = os.path.join(OUT, rel)
    if suffix == "rgb":
        assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3, array.shape
        data = np.ascontiguousarray(array).tobytes()
    else:
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    with open(path, "wb") as f:
        f.write(data)
    return rel


def pil_decoded(path):
    with Image.open(path) as im:
        mode = im.mode
        rgb = np.asarray(im.convert("RGB"))
    return mode, rgb


def keras_load_img(path, h, w, interpolation, keep_aspect_ratio):
    import keras
    img = keras.utils.load_img(path, target_size=(h, w), interpolation=interpolation,
                               keep_aspect_ratio=keep_aspect_ratio)
    return np.asarray(img)


_tf_crop_fns = {}


def tf_resize(rgb, h, w, method, crop):
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    if not crop:
        return tf.image.resize(rgb, (h, w), method=method, antialias=False).numpy()
    # image_dataset_from_directory runs smart_resize inside tf.data, where shapes are dynamic:
    # the crop box is then computed in float32 (keras/src/utils/image_utils.py smart_resize).
    key = (h, w, method)
    if key not in _tf_crop_fns:
        from keras.src.backend import tensorflow as tf_backend
        from keras.src.utils import image_utils

        @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
        def fn(x):
            return image_utils.smart_resize(x, (h, w), interpolation=method,
                                            data_format="channels_last",
                                            backend_module=tf_backend)
        _tf_crop_fns[key] = fn
    return _tf_crop_fns[key](tf.constant(rgb)).numpy()


def add_good(rel, kind, resize=(), tf=(), transpose=False, store_decoded=True, note=None):
    """Records a good file with its Pillow references.

    resize: (h, w, interpolation, keep_aspect_ratio) tuples for keras load_img.
    tf: (h, w, method, crop_to_aspect_ratio) tuples for tf.image.resize.
    """
    path = os.path.join(OUT, rel)
    mode, rgb = pil_decoded(path)
    entry = {"path": rel, "kind": kind, "pil_mode": mode,
             "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
             "crc32": zlib.crc32(np.ascontiguousarray(rgb).tobytes()) & 0xFFFFFFFF}
    if store_decoded:
        entry["decoded"] = write_ref(rgb, "rgb")
    if note:
        entry["note"] = note
    if transpose:
        with Image.open(path) as im:
            t = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        entry["transposed"] = {"width": int(t.shape[1]), "height": int(t.shape[0]),
                               "ref": write_ref(t, "rgb")}
    entry["resized"] = []
    for (h, w, interp, keep) in resize:
        r = keras_load_img(path, h, w, interp, keep)
        assert r.shape == (h, w, 3), (rel, r.shape)
        entry["resized"].append({"height": h, "width": w, "interpolation": interp,
                                 "keep_aspect_ratio": keep, "ref": write_ref(r, "rgb")})
    entry["tf"] = []
    for (h, w, method, crop) in tf:
        r = tf_resize(rgb, h, w, method, crop).astype(np.float32)
        assert r.shape == (h, w, 3), (rel, r.shape)
        entry["tf"].append({"height": h, "width": w, "method": method,
                            "crop_to_aspect_ratio": crop, "ref": write_ref(r, "f32")})
    FILES.append(entry)


def pil_outcome(path):
    """None when Pillow decodes the file, else 'ExceptionType: message'."""
    try:
        with Image.open(path) as im:
            im.convert("RGB")
        return None
    except Exception as e:  # noqa: BLE001 - any refusal is what we record
        text = f"{type(e).__name__}: {e}".splitlines()[0]
        return text.replace(os.path.join(OUT, ""), "")  # paths relative to images/


def add_broken(rel, error, pil_refuses=True, note=None):
    """error: the ImageError case Swift must throw (empty, notAnImage, truncated, corrupt,
    unsupported, tooLarge)."""
    outcome = pil_outcome(os.path.join(OUT, rel))
    if pil_refuses:
        assert outcome is not None, f"{rel}: Pillow decodes it, so it is not broken"
    else:
        assert outcome is None, f"{rel}: expected Pillow to decode it, got {outcome}"
    entry = {"path": rel, "error": error, "pil": outcome or "decodes"}
    if note:
        entry["note"] = note
    BROKEN.append(entry)


def add_by_pil(rel, kind, error_if_refused, note):
    """Files whose status depends on Pillow's behaviour: good if it decodes them."""
    outcome = pil_outcome(os.path.join(OUT, rel))
    if outcome is None:
        add_good(rel, kind, note=note)
    else:
        BROKEN.append({"path": rel, "error": error_if_refused, "pil": outcome, "note": note})


# ----------------------------------------------------------------------------------------
# Hand-written encoders (for what Pillow cannot write)
# ----------------------------------------------------------------------------------------

def png_chunk(tag, data, crc=None):
    if crc is None:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def pack_rows(samples, depth):
    """samples (H, W*C) unsigned ints -> list of packed row bytes for a PNG bit depth."""
    rows = []
    for row in samples:
        if depth == 16:
            rows.append(row.astype(">u2").tobytes())
        elif depth == 8:
            rows.append(row.astype(np.uint8).tobytes())
        else:
            per = 8 // depth
            padded = np.zeros(((len(row) + per - 1) // per) * per, dtype=np.uint32)
            padded[:len(row)] = row
            padded = padded.reshape(-1, per)
            shifts = np.array([8 - depth * (i + 1) for i in range(per)], dtype=np.uint32)
            rows.append((padded << shifts).sum(axis=1).astype(np.uint8).tobytes())
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png_bytes(samples, depth, color_type, palette=None, trns=None, interlace=False,
              idat_parts=1, extra=(), idat_crc=None, iend=True, ihdr_crc=None):
    """samples: (H, W, C) array of sample values. Filter type 0 on every row."""
    h, w, c = samples.shape
    if interlace:
        raw = b""
        for (x0, y0, dx, dy) in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            raw += b"".join(b"\0" + r for r in pack_rows(sub.reshape(sub.shape[0], -1), depth))
    else:
        raw = b"".join(b"\0" + r for r in pack_rows(samples.reshape(h, -1), depth))
    data = zlib.compress(raw, 9)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0,
                                          1 if interlace else 0), crc=ihdr_crc)
    for tag, payload in extra:
        out += png_chunk(tag, payload)
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).ravel()))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    step = (len(data) + idat_parts - 1) // idat_parts
    for i in range(0, len(data), step):
        out += png_chunk(b"IDAT", data[i:i + step], crc=idat_crc)
    if iend:
        out += png_chunk(b"IEND", b"")
    return out


def lzw_literal(indices, min_code_size):
    """GIF LZW data that only ever emits literal codes (a clear code every 2^mcs - 2 codes
    keeps the code width fixed); every GIF decoder reads it."""
    clear, eoi = 1 << min_code_size, (1 << min_code_size) + 1
    width = min_code_size + 1
    codes = []
    run = (1 << min_code_size) - 2
    for i, v in enumerate(indices):
        if i % run == 0:
            codes.append(clear)
        codes.append(int(v))
    codes.append(eoi)
    acc, nbits, out = 0, 0, bytearray()
    for code in codes:
        acc |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    blocks = bytearray([min_code_size])
    for i in range(0, len(out), 255):
        part = out[i:i + 255]
        blocks += bytes([len(part)]) + part
    blocks += b"\0"
    return bytes(blocks)


def gif_bytes(screen, global_palette, frames, background=0):
    """frames: dicts with left, top, indices (h, w), local_palette, transparency, interlace."""
    def table_bits(pal):
        n = len(pal)
        bits = 1
        while (1 << bits) < n:
            bits += 1
        return bits

    def table_bytes(pal, bits):
        pal = list(pal) + [(0, 0, 0)] * ((1 << bits) - len(pal))
        return bytes(v for rgb in pal for v in rgb)

    out = b"GIF89a" + struct.pack("<HH", *screen)
    if global_palette is not None:
        bits = table_bits(global_palette)
        out += bytes([0x80 | 0x70 | (bits - 1), background, 0]) + table_bytes(global_palette,
                                                                            bits)
    else:
        out += bytes([0x70, 0, 0])
    for fr in frames:
        if fr.get("transparency") is not None:
            out += b"\x21\xf9\x04" + bytes([1]) + b"\0\0" + bytes([fr["transparency"]]) + b"\0"
        idx = np.asarray(fr["indices"], dtype=np.uint8)
        h, w = idx.shape
        flags = 0x40 if fr.get("interlace") else 0
        local = fr.get("local_palette")
        if local is not None:
            lbits = table_bits(local)
            flags |= 0x80 | (lbits - 1)
        out += b"," + struct.pack("<HHHH", fr["left"], fr["top"], w, h) + bytes([flags])
        if local is not None:
            out += table_bytes(local, lbits)
        rows = list(range(h))
        if fr.get("interlace"):
            rows = (list(range(0, h, 8)) + list(range(4, h, 8)) + list(range(2, h, 4))
                    + list(range(1, h, 2)))
        ordered = np.concatenate([idx[r] for r in rows])
        out += lzw_literal(ordered, max(2, int(max(ordered.max(), 1)).bit_length()))
    return out + b";"


def bmp_bytes(width, height, bits, pixel_rows, palette=None, header=40, top_down=False,
              compression=0, masks=None, colors=None):
    """pixel_rows: list of raw row bytes, top row first (padding added here)."""
    stride = ((width * bits + 31) // 32) * 4
    body = b"".join(r + b"\0" * (stride - len(r)) for r in
                    (pixel_rows if top_down else pixel_rows[::-1]))
    pal = b""
    if palette is not None:
        entry = 3 if header == 12 else 4
        pal = b"".join(bytes([b, g, r] + ([0] if entry == 4 else [])) for (r, g, b) in palette)
    if header == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bits)
    else:
        info = struct.pack("<IiiHHIIiiII", header, width, -height if top_down else height, 1,
                           bits, compression, len(body), 2835, 2835,
                           colors if colors is not None else (len(palette) if palette else 0), 0)
        if header > 40:
            m = list(masks or (0, 0, 0, 0)) + [0] * (header - 40 - 16)
            info += struct.pack("<4I", *m[:4]) + bytes(header - 40 - 16)
    offset = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + pal + body


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return rel


def save(rel, im, fmt, **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return write(rel, buf.getvalue())


def exif_with_orientation(n):
    exif = Image.Exif()
    exif[0x0112] = n
    return exif.tobytes()


def insert_app1(jpeg, payload):
    """Inserts an APP1 segment right after SOI."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def strip_marker(jpeg, marker):
    """Removes every segment with the given marker byte before SOS (e.g. 0xEE = APP14)."""
    out, i = bytearray(jpeg[:2]), 2
    while i < len(jpeg):
        assert jpeg[i] == 0xFF
        m = jpeg[i + 1]
        if m == 0xDA:
            out += jpeg[i:]
            break
        n = struct.unpack(">H", jpeg[i + 2:i + 4])[0]
        if m != marker:
            out += jpeg[i:i + 2 + n]
        i += 2 + n
    return bytes(out)


# ----------------------------------------------------------------------------------------
# The fixture set
# ----------------------------------------------------------------------------------------

SQUARE = 224
THREE = ("nearest", "bilinear", "bicubic")
ALL = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def square(interps=THREE):
    return [(SQUARE, SQUARE, m, False) for m in interps]


def photos():
    china = Image.open(os.path.join(SK_IMAGES, "china.jpg"))
    # Variants are derived from a smaller china with odd sizes (chroma upsampling edges).
    small = china.resize((321, 213), Image.Resampling.LANCZOS)

    shutil.copy(os.path.join(SK_IMAGES, "china.jpg"), os.path.join(OUT, "photos/city/china.jpg"))
    add_good("photos/city/china.jpg", "jpeg baseline 4:4:4 (scikit-learn original)",
             resize=square(ALL)
             + [(97, 131, m, False) for m in ALL]
             + [(SQUARE, SQUARE, m, True) for m in THREE]
             + [(131, 97, m, True) for m in ("nearest", "bicubic", "lanczos")],
             tf=[(SQUARE, SQUARE, m, False) for m in THREE]
             + [(SQUARE, SQUARE, "bilinear", True), (131, 97, "bicubic", True),
                (340, 500, "bicubic", False)])
    save("photos/city/china-progressive.jpg", small, "JPEG", quality=90, progressive=True)
    add_good("photos/city/china-progressive.jpg", "jpeg progressive", resize=square())
    save("photos/city/china-gray.jpg", small.convert("L"), "JPEG", quality=90)
    add_good("photos/city/china-gray.jpg", "jpeg grayscale", resize=square())
    save("photos/city/china-cmyk.jpg", small.convert("CMYK"), "JPEG", quality=90)
    add_good("photos/city/china-cmyk.jpg", "jpeg CMYK (Adobe, inverted)", resize=square())
    for sub, name in ((0, "444"), (1, "422"), (2, "420")):
        save(f"photos/city/china-{name}.jpg", small, "JPEG", quality=85, subsampling=sub)
        add_good(f"photos/city/china-{name}.jpg", f"jpeg subsampling {name}", resize=square())
    save("photos/city/china-exif6.jpg", small, "JPEG", quality=90, exif=exif_with_orientation(6))
    add_good("photos/city/china-exif6.jpg", "jpeg with EXIF orientation 6", resize=square(),
             transpose=True)
    save("photos/city/CHINA-UPPER.JPG", small.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "JPEG",
         quality=80)
    add_good("photos/city/CHINA-UPPER.JPG", "upper-case extension", resize=square())
    save("photos/city/café photo.jpg", small.rotate(180), "JPEG", quality=75)
    add_good("photos/city/café photo.jpg", "space and non-ASCII in the name", resize=square())

    chelsea = Image.open(os.path.join(SKI_DATA, "chelsea.png")).convert("RGB")
    shutil.copy(os.path.join(SKI_DATA, "chelsea.png"), os.path.join(OUT, "photos/cat/chelsea.png"))
    add_good("photos/cat/chelsea.png", "png RGB 8-bit (scikit-image original)",
             resize=square(ALL) + [(97, 131, m, False) for m in ALL]
             + [(300, 400, m, True) for m in ("nearest", "bicubic")]  # crop box == size
             + [(SQUARE, SQUARE, m, True) for m in ("bilinear", "lanczos")]
             + [(340, 500, m, False) for m in ("bilinear", "bicubic", "lanczos")],  # upscale
             tf=[(97, 131, "bicubic", True), (97, 131, "bilinear", False)])
    cat = chelsea.resize((225, 150), Image.Resampling.LANCZOS)
    rgb = np.asarray(cat)
    gray = np.asarray(cat.convert("L"))
    alpha = (np.add.outer(np.arange(150), np.arange(225)) % 256).astype(np.uint8)
    save("photos/cat/chelsea-gray.png", cat.convert("L"), "PNG")
    add_good("photos/cat/chelsea-gray.png", "png gray 8-bit", resize=square())
    save("photos/cat/chelsea-gray-alpha.png", Image.fromarray(np.dstack([gray, alpha]), "LA"),
         "PNG")
    add_good("photos/cat/chelsea-gray-alpha.png", "png gray+alpha 8-bit", resize=square())
    pal = cat.quantize(256)
    save("photos/cat/chelsea-palette.png", pal, "PNG")
    add_good("photos/cat/chelsea-palette.png", "png palette", resize=square())
    trns = bytes((i * 7) % 256 for i in range(256))
    save("photos/cat/chelsea-palette-trns.png", pal, "PNG", transparency=trns)
    add_good("photos/cat/chelsea-palette-trns.png", "png palette + tRNS", resize=square())
    save("photos/cat/chelsea-rgba.png", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG")
    add_good("photos/cat/chelsea-rgba.png", "png RGBA 8-bit", resize=square())
    rgb16 = rgb.astype(np.uint16) * 257 + (np.arange(225)[None, :, None] % 200).astype(np.uint16)
    write("photos/cat/chelsea-rgb16.png", png_bytes(rgb16, 16, 2))
    add_good("photos/cat/chelsea-rgb16.png", "png RGB 16-bit", resize=square())
    gray16 = Image.fromarray(gray.astype(np.uint16) * 257)
    save("photos/cat/chelsea-gray16.png", gray16, "PNG")
    add_good("photos/cat/chelsea-gray16.png", "png gray 16-bit (PIL I;16: convert clips to 255)",
             resize=square())
    save("photos/cat/chelsea-24.bmp", cat, "BMP")
    add_good("photos/cat/chelsea-24.bmp", "bmp 24-bit bottom-up", resize=square())
    save("photos/cat/chelsea-8.bmp", pal, "BMP")
    add_good("photos/cat/chelsea-8.bmp", "bmp 8-bit palette", resize=square())
    save("photos/cat/chelsea.gif", cat, "GIF")
    add_good("photos/cat/chelsea.gif", "gif (interlaced, as Pillow writes it)", resize=square())

    shutil.copy(os.path.join(SK_IMAGES, "flower.jpg"), os.path.join(OUT, "photos/misc/flower.jpg"))
    add_good("photos/misc/flower.jpg", "jpeg (scikit-learn original)", resize=square())
    for name, kind in (("astronaut.png", "png RGB"), ("coffee.png", "png RGB"),
                       ("rocket.jpg", "jpeg"), ("camera.png", "png gray")):
        shutil.copy(os.path.join(SKI_DATA, name), os.path.join(OUT, "photos/misc", name))
        extra = []
        tf = []
        if name == "astronaut.png":
            extra = [(SQUARE, SQUARE, m, False) for m in ("hamming", "box", "lanczos")]
        if name == "camera.png":
            tf = [(300, 200, "bilinear", False), (300, 200, "nearest", True)]
        add_good(f"photos/misc/{name}", f"{kind} (scikit-image original)",
                 resize=square() + extra, tf=tf)
    save("photos/misc/tiny-1x1.png", Image.new("RGB", (1, 1), (200, 30, 90)), "PNG")
    add_good("photos/misc/tiny-1x1.png", "1x1 png", resize=square(ALL)
             + [(SQUARE, SQUARE, "bicubic", True)],
             tf=[(5, 7, m, False) for m in THREE])
    tiny = Image.fromarray(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]],
                                     [[250, 250, 250], [10, 10, 10], [128, 64, 32]]], np.uint8))
    save("photos/misc/tiny-3x2.png", tiny, "PNG")
    add_good("photos/misc/tiny-3x2.png", "3x2 png (upscaling)", resize=square(ALL)
             + [(7, 9, m, False) for m in ALL] + [(7, 9, m, True) for m in THREE],
             tf=[(7, 9, m, False) for m in THREE] + [(SQUARE, SQUARE, "bicubic", False),
                                                     (7, 9, "bilinear", True)])
    save("photos/misc/tiny-3x2.jpg", tiny, "JPEG", quality=95)
    add_good("photos/misc/tiny-3x2.jpg", "3x2 jpeg", resize=square())


def synthetic():
    base = np.asarray(Image.open(os.path.join(SKI_DATA, "chelsea.png")).convert("RGB")
                      .resize((37, 23), Image.Resampling.BICUBIC))
    h, w = base.shape[:2]
    ramp = (np.arange(h * w).reshape(h, w) * 37) % 256

    # PNG bit depths and colour types Pillow does not write.
    for depth in (1, 2, 4):
        v = (ramp % (1 << depth))[:, :, None]
        write(f"synthetic/png-gray{depth}.png", png_bytes(v, depth, 0))
        add_good(f"synthetic/png-gray{depth}.png", f"png gray {depth}-bit")
        n = 1 << depth
        pal = [((i * 67) % 256, (i * 131) % 256, (i * 29) % 256) for i in range(n)]
        write(f"synthetic/png-palette{depth}.png", png_bytes(v, depth, 3, palette=pal))
        add_good(f"synthetic/png-palette{depth}.png", f"png palette {depth}-bit")
    short = [((i * 40) % 256, 255 - i * 20, i * 9) for i in range(10)]
    write("synthetic/png-palette-short.png",
          png_bytes((ramp % 16)[:, :, None], 8, 3, palette=short))
    add_by_pil("synthetic/png-palette-short.png", "png palette, indices beyond the PLTE",
               "corrupt", "10 palette entries, indices 0..15")
    write("synthetic/png-gray16-ramp.png",
          png_bytes((np.arange(h * w).reshape(h, w, 1) * 3).astype(np.uint16), 16, 0))
    add_good("synthetic/png-gray16-ramp.png", "png gray 16-bit, values 0..2550 (clipped at 255)")
    b16 = base.astype(np.uint16) * 257 + 99
    a16 = (ramp * 250).astype(np.uint16)[:, :, None]
    write("synthetic/png-rgba16.png", png_bytes(np.concatenate([b16, a16], 2), 16, 6))
    add_good("synthetic/png-rgba16.png", "png RGBA 16-bit")
    write("synthetic/png-gray-alpha16.png",
          png_bytes(np.concatenate([b16[:, :, :1], a16], 2), 16, 4))
    add_good("synthetic/png-gray-alpha16.png", "png gray+alpha 16-bit (PIL mode RGBA)")
    write("synthetic/png-gray-trns.png",
          png_bytes(ramp[:, :, None], 8, 0, trns=struct.pack(">H", 37)))
    add_good("synthetic/png-gray-trns.png", "png gray + tRNS")
    write("synthetic/png-rgb-trns.png", png_bytes(base, 8, 2, trns=struct.pack(">HHH", 1, 2, 3)))
    add_good("synthetic/png-rgb-trns.png", "png RGB + tRNS")
    write("synthetic/png-interlaced.png", png_bytes(base, 8, 2, interlace=True))
    add_good("synthetic/png-interlaced.png", "png Adam7 interlaced RGB")
    write("synthetic/png-interlaced-palette2.png",
          png_bytes((ramp % 4)[:, :, None], 2, 3, palette=[(1, 2, 3), (50, 60, 70), (200, 100, 0),
                                                           (9, 250, 9)], interlace=True))
    add_good("synthetic/png-interlaced-palette2.png", "png Adam7 interlaced 2-bit palette")
    write("synthetic/png-multi-idat.png", png_bytes(base, 8, 2, idat_parts=5))
    add_good("synthetic/png-multi-idat.png", "png with the data split over 5 IDAT chunks")
    write("synthetic/png-idat-bad-crc.png", png_bytes(base, 8, 2, idat_crc=0x12345678))
    add_by_pil("synthetic/png-idat-bad-crc.png", "png, wrong CRC on IDAT", "corrupt",
               "Pillow checks the CRC of chunks before IDAT only")
    write("synthetic/png-no-iend.png", png_bytes(base, 8, 2, iend=False))
    add_by_pil("synthetic/png-no-iend.png", "png without IEND", "truncated",
               "all image data present, IEND chunk missing")
    save("synthetic/png-exif3.png", Image.fromarray(base), "PNG", exif=exif_with_orientation(3))
    add_good("synthetic/png-exif3.png", "png with eXIf orientation 3", transpose=True)

    info = PngImagePlugin.PngInfo()
    payload = exif_with_orientation(6)
    payload = payload if payload.startswith(b"Exif") else b"Exif\x00\x00" + payload
    info.add_text("Raw profile type exif",
                  f"\nexif\n{len(payload):8d}\n{payload.hex()}\n", zip=True)
    save("synthetic/exif/png-raw-profile-6.png", Image.fromarray(base), "PNG", pnginfo=info)
    add_good("synthetic/exif/png-raw-profile-6.png",
             "png with EXIF orientation 6 in a 'Raw profile type exif' zTXt chunk", transpose=True)

    # JPEG corner cases.
    cmyk = io.BytesIO()
    Image.fromarray(base).convert("CMYK").save(cmyk, "JPEG", quality=90)
    write("synthetic/jpeg-cmyk-no-adobe.jpg", strip_marker(cmyk.getvalue(), 0xEE))
    add_good("synthetic/jpeg-cmyk-no-adobe.jpg", "4-component JPEG without Adobe marker")
    for n in range(1, 9):
        save(f"synthetic/exif/orient-{n}.jpg", Image.fromarray(base), "JPEG", quality=95,
             exif=exif_with_orientation(n))
        add_good(f"synthetic/exif/orient-{n}.jpg", f"jpeg EXIF orientation {n}", transpose=True)
    plain = io.BytesIO()
    Image.fromarray(base).save(plain, "JPEG", quality=95)
    xmp = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF>"
           b"<rdf:Description tiff:Orientation=\"8\"/></rdf:RDF></x:xmpmeta>")
    write("synthetic/exif/xmp-orient-8.jpg", insert_app1(plain.getvalue(), xmp))
    add_good("synthetic/exif/xmp-orient-8.jpg", "jpeg with XMP tiff:Orientation 8, no EXIF",
             transpose=True)
    data = plain.getvalue()
    assert data.endswith(b"\xff\xd9")
    write("synthetic/jpeg-trailing-garbage.jpg", data + b"garbage after EOI" * 10)
    add_by_pil("synthetic/jpeg-trailing-garbage.jpg", "jpeg with bytes after EOI", "corrupt",
               "trailing bytes after EOI")
    save("synthetic/jpeg-restart-markers.jpg", Image.fromarray(base), "JPEG", quality=90,
         restart_marker_rows=1)
    add_good("synthetic/jpeg-restart-markers.jpg", "jpeg with restart markers every MCU row")
    scan = data.index(b"\xff\xda")
    corrupt = bytearray(data)
    for i in range(scan + 40, len(corrupt) - 10, 97):
        corrupt[i] = 0x00 if corrupt[i] == 0xFF else corrupt[i] ^ 0x21
    write("synthetic/jpeg-corrupt-scan.jpg", bytes(corrupt))
    add_by_pil("synthetic/jpeg-corrupt-scan.jpg", "jpeg with damaged entropy data", "corrupt",
               "libjpeg warns (corrupt data) and goes on; PIL ignores warnings")
    write("synthetic/jpeg-no-eoi.jpg", data[:-2])
    add_by_pil("synthetic/jpeg-no-eoi.jpg", "jpeg without EOI marker", "truncated",
               "entropy data complete, EOI missing")

    # GIF canvases and palettes.
    pal4 = [(255, 0, 0), (0, 255, 0), (10, 20, 30), (240, 230, 220)]
    idx = (np.add.outer(np.arange(5), np.arange(9)) % 4).astype(np.uint8)
    write("synthetic/gif-canvas-transparent.gif", gif_bytes(
        (20, 12), pal4, [dict(left=3, top=2, indices=idx, transparency=2)]))
    add_good("synthetic/gif-canvas-transparent.gif",
             "gif: 9x5 frame on a 20x12 screen, transparency index 2")
    write("synthetic/gif-canvas.gif",
          gif_bytes((20, 12), pal4, [dict(left=3, top=2, indices=idx)], background=3))
    add_good("synthetic/gif-canvas.gif", "gif: 9x5 frame on a 20x12 screen, no transparency")
    write("synthetic/gif-frame-beyond-screen.gif", gif_bytes(
        (6, 4), pal4, [dict(left=2, top=1, indices=idx)]))
    add_good("synthetic/gif-frame-beyond-screen.gif", "gif: frame larger than the screen")
    local = [(7, 7, 7), (100, 0, 200), (0, 90, 0), (255, 255, 0)]
    write("synthetic/gif-local-palette.gif", gif_bytes(
        (9, 5), pal4, [dict(left=0, top=0, indices=idx, local_palette=local)]))
    add_good("synthetic/gif-local-palette.gif", "gif with a local colour table")
    gray_pal = [(i, i, i) for i in range(4)]
    write("synthetic/gif-gray-palette.gif", gif_bytes(
        (9, 5), gray_pal, [dict(left=0, top=0, indices=idx)]))
    add_good("synthetic/gif-gray-palette.gif", "gif, palette is the identity ramp (PIL mode L)")
    write("synthetic/gif-no-palette.gif", gif_bytes((9, 5), None, [dict(left=0, top=0,
                                                                       indices=idx * 50)]))
    add_good("synthetic/gif-no-palette.gif", "gif without any colour table (PIL mode L)")
    big_idx = (np.add.outer(np.arange(23), np.arange(37) * 3) % 7).astype(np.uint8)
    write("synthetic/gif-interlaced.gif", gif_bytes(
        (37, 23), pal4 + local[:3], [dict(left=0, top=0, indices=big_idx, interlace=True)]))
    add_good("synthetic/gif-interlaced.gif", "gif interlaced, 7-colour palette (short table)")
    frames = [Image.fromarray(base), Image.fromarray(255 - base)]
    save("synthetic/gif-animated.gif", frames[0], "GIF", save_all=True,
         append_images=frames[1:], duration=100, loop=0)
    add_good("synthetic/gif-animated.gif", "animated gif (first frame)")

    # BMP headers and depths.
    rows24 = [bytes(base[y, :, ::-1].ravel()) for y in range(h)]
    write("synthetic/bmp-24-top-down.bmp", bmp_bytes(w, h, 24, rows24, top_down=True))
    add_good("synthetic/bmp-24-top-down.bmp", "bmp 24-bit top-down")
    write("synthetic/bmp-24-os2.bmp", bmp_bytes(w, h, 24, rows24, header=12))
    add_good("synthetic/bmp-24-os2.bmp", "bmp 24-bit, OS/2 12-byte header")
    rgba = np.dstack([base, ramp.astype(np.uint8)])
    save("synthetic/bmp-32.bmp", Image.fromarray(rgba, "RGBA"), "BMP")
    add_good("synthetic/bmp-32.bmp", "bmp 32-bit BI_RGB (alpha byte ignored by PIL)")
    rows32 = [bytes(np.dstack([base[y:y + 1, :, ::-1], ramp[y:y + 1, :, None]])
                    .astype(np.uint8).ravel()) for y in range(h)]
    write("synthetic/bmp-32-bitfields-v5.bmp", bmp_bytes(
        w, h, 32, rows32, header=124, compression=3,
        masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)))
    add_good("synthetic/bmp-32-bitfields-v5.bmp", "bmp 32-bit BI_BITFIELDS BGRA, V5 header")
    save("synthetic/bmp-8-gray.bmp", Image.fromarray(base).convert("L"), "BMP")
    add_good("synthetic/bmp-8-gray.bmp", "bmp 8-bit, identity gray palette (PIL mode L)")
    save("synthetic/bmp-1.bmp", Image.fromarray(base).convert("1"), "BMP")
    add_good("synthetic/bmp-1.bmp", "bmp 1-bit")
    pal16 = [((i * 53) % 256, (i * 97) % 256, (i * 11) % 256) for i in range(16)]
    rows4 = []
    for y in range(h):
        v = (ramp[y] % 16).astype(np.uint8)
        v = np.append(v, 0) if len(v) % 2 else v
        rows4.append(bytes((v[0::2] << 4) | v[1::2]))
    write("synthetic/bmp-4.bmp", bmp_bytes(w, h, 4, rows4, palette=pal16))
    add_good("synthetic/bmp-4.bmp", "bmp 4-bit palette")
    rows8 = [bytes((ramp[y] % 24).astype(np.uint8)) for y in range(h)]
    write("synthetic/bmp-8-short-palette.bmp", bmp_bytes(w, h, 8, rows8, palette=pal16))
    add_good("synthetic/bmp-8-short-palette.bmp", "bmp 8-bit, 16 colours, indices up to 23")


def large():
    astro = Image.open(os.path.join(SKI_DATA, "astronaut.png")).convert("RGB")
    big = astro.resize((4000, 3000), Image.Resampling.BICUBIC)
    save("large/big-4000x3000.jpg", big, "JPEG", quality=85)
    add_good("large/big-4000x3000.jpg", "12 Mpx jpeg", store_decoded=False,
             resize=[(SQUARE, SQUARE, m, False) for m in THREE]
             + [(SQUARE, SQUARE, "bilinear", True)],
             tf=[(SQUARE, SQUARE, "bilinear", False)])


def broken():
    write("broken/empty.jpg", b"")
    add_broken("broken/empty.jpg", "empty")
    write("broken/text.jpg", b"This is not an image, just text renamed to .jpg\n" * 3)
    add_broken("broken/text.jpg", "notAnImage")
    jpeg = open(os.path.join(OUT, "photos/city/china.jpg"), "rb").read()
    write("broken/truncated.jpg", jpeg[:len(jpeg) * 6 // 10])
    add_broken("broken/truncated.jpg", "truncated")
    prog = open(os.path.join(OUT, "photos/city/china-progressive.jpg"), "rb").read()
    write("broken/truncated-progressive.jpg", prog[:len(prog) * 7 // 10])
    add_broken("broken/truncated-progressive.jpg", "truncated")
    write("broken/truncated-header.jpg", jpeg[:300])
    add_broken("broken/truncated-header.jpg", "truncated")
    png = open(os.path.join(OUT, "photos/cat/chelsea.png"), "rb").read()
    write("broken/truncated.png", png[:len(png) // 2])
    add_broken("broken/truncated.png", "truncated")
    bad = bytearray(png)
    bad[29:33] = b"\xde\xad\xbe\xef"  # IHDR CRC
    write("broken/bad-crc.png", bytes(bad))
    add_broken("broken/bad-crc.png", "corrupt")
    text = png_chunk(b"tEXt", b"Comment\x00hello", crc=0x0BADF00D)
    write("broken/bad-crc-text.png", png[:33] + text + png[33:])
    add_broken("broken/bad-crc-text.png", "corrupt", note="wrong CRC on a tEXt chunk before IDAT")
    iend = png.rindex(b"IEND") - 4
    write("synthetic/png-bad-crc-after-idat.png", png[:iend] + text + png[iend:])
    add_by_pil("synthetic/png-bad-crc-after-idat.png", "png, wrong CRC on a tEXt chunk after IDAT",
               "corrupt", "Pillow does not check CRCs after the image data")
    # A valid zlib stream whose payload is cut short decodes to too few rows; a damaged
    # one (bytes flipped in the middle, CRCs recomputed) fails inflate.
    base = np.zeros((40, 50, 3), np.uint8)
    base[:, :, 0] = np.arange(50)[None, :] * 5
    good = png_bytes(base, 8, 2)
    raw = b"".join(b"\0" + bytes(base[y].ravel()) for y in range(40))
    damaged = bytearray(zlib.compress(raw, 9))
    for i in range(8, len(damaged) - 8, 5):
        damaged[i] ^= 0x5A
    out = good[:33] + png_chunk(b"IDAT", bytes(damaged)) + png_chunk(b"IEND", b"")
    write("broken/bad-zlib.png", out)
    add_broken("broken/bad-zlib.png", "corrupt")
    short = zlib.compress(raw[:len(raw) // 3], 9)
    write("broken/short-idat.png", good[:33] + png_chunk(b"IDAT", short) + png_chunk(b"IEND", b""))
    add_broken("broken/short-idat.png", "truncated")
    write("broken/bomb.png", b"\x89PNG\r\n\x1a\n"
          + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
          + png_chunk(b"IDAT", zlib.compress(b"\0" * 100)) + png_chunk(b"IEND", b""))
    add_broken("broken/bomb.png", "tooLarge")
    gif = open(os.path.join(OUT, "photos/cat/chelsea.gif"), "rb").read()
    write("broken/truncated.gif", gif[:len(gif) // 2])
    add_broken("broken/truncated.gif", "truncated")
    bmp = open(os.path.join(OUT, "photos/cat/chelsea-24.bmp"), "rb").read()
    write("broken/truncated.bmp", bmp[:len(bmp) // 2])
    add_broken("broken/truncated.bmp", "truncated")
    gray = open(os.path.join(OUT, "photos/city/china-gray.jpg"), "rb").read()
    sof = gray.index(b"\xff\xc0")
    twelve = bytearray(gray)
    twelve[sof + 4] = 12  # SOF precision byte
    write("broken/jpeg-12bit-header.jpg", bytes(twelve))
    add_broken("broken/jpeg-12bit-header.jpg", "unsupported")
    length = struct.unpack(">H", gray[sof + 2:sof + 4])[0]
    assert gray[sof + 9] == 1  # one component
    two = (gray[:sof + 2] + struct.pack(">H", length + 3) + gray[sof + 4:sof + 9] + b"\x02"
           + gray[sof + 10:sof + 2 + length] + b"\x02\x11\x00" + gray[sof + 2 + length:])
    write("broken/jpeg-2-components.jpg", two)
    add_broken("broken/jpeg-2-components.jpg", "unsupported")
    write("broken/gif-no-frame.gif", gif_bytes((4, 4), [(0, 0, 0), (255, 255, 255)], []))
    add_broken("broken/gif-no-frame.gif", "corrupt")
    bmp20 = bytearray(bmp[:200])
    bmp20[14:18] = struct.pack("<I", 20)
    write("broken/bmp-header-20.bmp", bytes(bmp20))
    add_broken("broken/bmp-header-20.bmp", "unsupported")
    # What PIL reads but this package rejects on purpose (rare BMP variants).
    rle = bytearray()
    for y in range(4):
        rle += bytes([6, y * 40, 0, 0])  # a run of 6 pixels, end of line
    rle += b"\x00\x01"
    pal = [(i, 255 - i, 0) for i in range(256)]
    body = bmp_bytes(6, 4, 8, [b"\0" * 6] * 4, palette=pal, compression=1)
    offset = struct.unpack("<I", body[10:14])[0]
    rle_file = bytearray(body[:offset]) + rle
    rle_file[2:6] = struct.pack("<I", len(rle_file))
    write("broken/rle8.bmp", bytes(rle_file))
    add_broken("broken/rle8.bmp", "unsupported", pil_refuses=False,
               note="RLE8 BMP: Pillow decodes it, this package rejects it")
    rows16 = [struct.pack("<6H", *[(x * 31) & 0x7FFF for x in range(6)]) for _ in range(3)]
    write("broken/bmp-16.bmp", bmp_bytes(6, 3, 16, rows16))
    add_broken("broken/bmp-16.bmp", "unsupported", pil_refuses=False,
               note="16-bit BMP: Pillow decodes it, this package rejects it")
    write("broken/webp-signature.jpg", b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\0" * 40)
    add_broken("broken/webp-signature.jpg", "notAnImage",
               note="RIFF/WEBP: not one of the formats Keras' directory loaders accept")


def main():
    global OUT
    if len(sys.argv) != 2:
        sys.exit("usage: make_images.py OUTDIR")
    OUT = os.path.join(sys.argv[1], "images")
    shutil.rmtree(OUT, ignore_errors=True)
    for d in ("photos/city", "photos/cat", "photos/misc", "synthetic/exif", "large", "broken",
              "ref"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    photos()
    synthetic()
    large()
    broken()
    index = {
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
        "max_image_pixels": Image.MAX_IMAGE_PIXELS,
        "conventions": "decoded/resized/transposed refs: raw uint8 HWC RGB; tf refs: raw "
                       "float32 little-endian HWC; sizes in the entry",
        "files": FILES,
        "broken": BROKEN,
    }
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1, ensure_ascii=False)
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(OUT) for n in ns)
    print(f"make_images: {len(FILES)} good, {len(BROKEN)} broken files, "
          f"{total / 1e6:.1f} MB in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
