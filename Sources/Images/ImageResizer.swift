/// Resizing with the semantics of the two Keras input pipelines:
/// * `resize`: `keras.utils.load_img(target_size=..., interpolation=..., keep_aspect_ratio=...)`,
///   i.e. PIL's `Image.resize` on the RGB image, bit-exact;
/// * `tensorflowResize`: `tf.image.resize` (half-pixel centers, no antialias, float output), as
///   `keras.utils.image_dataset_from_directory` applies it, optionally after smart_resize's
///   centered crop (`crop_to_aspect_ratio=True`).
public enum ImageResizer {
    /// `load_img`'s resize. Returns the image unchanged when it already has the target size
    /// (load_img resizes only if `img.size != (width, height)`). With `keepAspectRatio`, the
    /// largest centered box of the target aspect ratio (integer arithmetic, `keepAspectRatioBox`)
    /// is resized in a single PIL call (`resize(size, resample, box=...)`).
    /// in (H, W, 3) -> out (height, width, 3)
    public static func resize(
        _ image: RGBImage, width: Int, height: Int, interpolation: Interpolation = .nearest,
        keepAspectRatio: Bool = false
    ) -> RGBImage {
        precondition(width > 0 && height > 0, "resize: target size must be positive, got \(width)x\(height)")
        if image.width == width && image.height == height { return image }
        guard image.width > 0 && image.height > 0 else { return RGBImage(width: width, height: height) }
        var box = (x0: Float(0), y0: Float(0), x1: Float(image.width), y1: Float(image.height))
        if keepAspectRatio {
            let b = keepAspectRatioBox(
                width: image.width, height: image.height, targetWidth: width,
                targetHeight: height)
            box = (Float(b.x0), Float(b.y0), Float(b.x1), Float(b.y1))
        }
        return pilResize(image, width: width, height: height, interpolation: interpolation, box: box)
    }

    /// load_img's crop box for `keep_aspect_ratio=True` (Python integer arithmetic):
    /// `crop_height = min(H, W * th // tw)`, `crop_width = min(W, H * tw // th)`, centered with
    /// `//` on the margins. Returns (x0, y0, x1, y1).
    public static func keepAspectRatioBox(
        width: Int, height: Int, targetWidth: Int,
        targetHeight: Int
    ) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let cropHeight = min(height, floorDiv(width * targetHeight, targetWidth))
        let cropWidth = min(width, floorDiv(height * targetWidth, targetHeight))
        let y0 = floorDiv(height - cropHeight, 2), x0 = floorDiv(width - cropWidth, 2)
        return (x0, y0, x0 + cropWidth, y0 + cropHeight)
    }

    /// PIL's `Image.resize(size, resample, box)` for an RGB image (`_imaging.c _resize`): a box
    /// of integer offsets and exactly the target size is a plain crop; NEAREST is an affine
    /// scale (Geometry.c); the other filters go through Resample.c. load_img never sets
    /// `reducing_gap`, so PIL's `reduce()` shortcut is never taken.
    static func pilResize(
        _ image: RGBImage, width: Int, height: Int, interpolation: Interpolation,
        box: (x0: Float, y0: Float, x1: Float, y1: Float)
    ) -> RGBImage {
        if box.x0 == box.x0.rounded(.towardZero) && box.x1 - box.x0 == Float(width)
            && box.y0 == box.y0.rounded(.towardZero) && box.y1 - box.y0 == Float(height)
        {
            return crop(image, x0: Int(box.x0), y0: Int(box.y0), width: width, height: height)
        }
        guard let filter = ResampleFilter(interpolation) else {
            return PILNearest.resize(image, width: width, height: height, box: box)
        }
        return PILResample.resample(image, width: width, height: height, filter: filter, box: box)
    }

    /// in (H, W, 3) -> out (height, width, 3), the window starting at (x0, y0)
    static func crop(_ image: RGBImage, x0: Int, y0: Int, width: Int, height: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let s = ((y0 + y) * image.width + x0) * 3
            out.replaceSubrange((y * width * 3)..<((y + 1) * width * 3), with: image.pixels[s..<(s + width * 3)])
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// Python's `a // b` for b > 0.
    @inline(__always) static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
