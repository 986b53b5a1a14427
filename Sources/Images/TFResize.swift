/// The `tf.image.resize` methods `image_dataset_from_directory` can use (antialias=False).
public enum TFResizeMethod: String, CaseIterable, Sendable {
    case bilinear, nearest, bicubic
}

extension ImageResizer {
    /// `tf.image.resize(image, (height, width), method, antialias=False)` on the uint8 image,
    /// float32 HWC, not rounded. With `cropToAspectRatio`, first Keras' `smart_resize` crop
    /// (`image_dataset_from_directory(crop_to_aspect_ratio=True)`).
    /// in (H, W, 3) uint8 -> out (height, width, 3) float
    public static func tensorflowResize(
        _ image: RGBImage, width: Int, height: Int, method: TFResizeMethod = .bilinear,
        cropToAspectRatio: Bool = false
    ) -> [Float] {
        precondition(
            width > 0 && height > 0,
            "tensorflowResize: target size must be positive, got \(width)x\(height)")
        guard image.width > 0 && image.height > 0 else { return [Float](repeating: 0, count: width * height * 3) }
        var source = image
        if cropToAspectRatio {
            let b = smartResizeCropBox(
                width: image.width, height: image.height, targetWidth: width,
                targetHeight: height)
            source = crop(image, x0: b.x0, y0: b.y0, width: b.x1 - b.x0, height: b.y1 - b.y0)
        }
        switch method {
        case .bilinear: return TFResize.bilinear(source, width: width, height: height)
        case .nearest: return TFResize.nearest(source, width: width, height: height)
        case .bicubic: return TFResize.bicubic(source, width: width, height: height)
        }
    }

    /// Keras `smart_resize`'s centered crop as it runs inside tf.data (dynamic shapes, so the
    /// float32 branch): `crop_h = max(min(H, int(float32(W * th) / tw)), 1)`,
    /// `crop_w = max(min(W, int(float32(H * tw) / th)), 1)`, `y0 = int(float32(H - crop_h) / 2)`.
    /// Returns (x0, y0, x1, y1).
    public static func smartResizeCropBox(
        width: Int, height: Int, targetWidth: Int,
        targetHeight: Int
    ) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let cropHeight = max(min(height, Int(Float(width * targetHeight) / Float(targetWidth))), 1)
        let cropWidth = max(min(width, Int(Float(height * targetWidth) / Float(targetHeight))), 1)
        let y0 = Int(Float(height - cropHeight) / 2), x0 = Int(Float(width - cropWidth) / 2)
        return (x0, y0, x0 + cropWidth, y0 + cropHeight)
    }
}

/// TensorFlow's resize kernels with `half_pixel_centers=True` (tensorflow/core/kernels/image/
/// resize_bilinear_op.cc, resize_nearest_neighbor_op.cc, resize_bicubic_op.cc), in float32
/// with the kernels' operation order. scale = in / out (float32).
enum TFResize {
    @inline(__always) static func scale(_ input: Int, _ output: Int) -> Float { Float(input) / Float(output) }

    /// HalfPixelScaler: (x + 0.5) * scale - 0.5
    @inline(__always) static func halfPixel(_ x: Int, _ scale: Float) -> Float { (Float(x) + 0.5) * scale - 0.5 }

    // MARK: bilinear

    struct LinearTap { var lower: Int; var upper: Int; var lerp: Float }

    /// compute_interpolation_weights for one output index.
    @inline(__always) static func linearTap(_ i: Int, inSize: Int, scale: Float) -> LinearTap {
        let position = halfPixel(i, scale)
        let floorPosition = position.rounded(.down)
        return LinearTap(
            lower: max(Int(floorPosition), 0), upper: min(Int(position.rounded(.up)), inSize - 1),
            lerp: position - floorPosition)
    }

    /// compute_lerp: top = tl + (tr - tl) * x; bottom = bl + (br - bl) * x; top + (bottom - top) * y
    @inline(__always)
    static func lerp(_ tl: Float, _ tr: Float, _ bl: Float, _ br: Float, _ x: Float, _ y: Float) -> Float {
        let top = tl + (tr - tl) * x
        let bottom = bl + (br - bl) * x
        return top + (bottom - top) * y
    }

    /// Fast path: per-axis tap tables.
    /// in (H, W, 3) -> out (height, width, 3) float
    static func bilinear(_ image: RGBImage, width: Int, height: Int) -> [Float] {
        let sx = scale(image.width, width), sy = scale(image.height, height)
        let xs = (0..<width).map { linearTap($0, inSize: image.width, scale: sx) }
        let ys = (0..<height).map { linearTap($0, inSize: image.height, scale: sy) }
        var out = [Float](repeating: 0, count: width * height * 3)
        let inRow = image.width * 3
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let top = src.baseAddress! + ys[y].lower * inRow, bottom = src.baseAddress! + ys[y].upper * inRow
                    let o = dst.baseAddress! + y * width * 3
                    for x in 0..<width {
                        let l = xs[x].lower * 3, r = xs[x].upper * 3
                        for c in 0..<3 {
                            o[3 * x + c] = lerp(
                                Float(top[l + c]), Float(top[r + c]), Float(bottom[l + c]),
                                Float(bottom[r + c]), xs[x].lerp, ys[y].lerp)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Reference: every output sample computed on its own.
    static func bilinearNaive(_ image: RGBImage, width: Int, height: Int) -> [Float] {
        var out = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let ty = linearTap(y, inSize: image.height, scale: scale(image.height, height))
                let tx = linearTap(x, inSize: image.width, scale: scale(image.width, width))
                for c in 0..<3 {
                    func v(_ xx: Int, _ yy: Int) -> Float { Float(image.pixels[(yy * image.width + xx) * 3 + c]) }
                    out[(y * width + x) * 3 + c] = lerp(
                        v(tx.lower, ty.lower), v(tx.upper, ty.lower),
                        v(tx.lower, ty.upper), v(tx.upper, ty.upper), tx.lerp, ty.lerp)
                }
            }
        }
        return out
    }

    // MARK: nearest

    /// min(floor((x + 0.5) * scale), in - 1), at least 0 (HalfPixelScalerForNN).
    @inline(__always) static func nearestIndex(_ i: Int, inSize: Int, scale: Float) -> Int {
        max(min(Int(((Float(i) + 0.5) * scale).rounded(.down)), inSize - 1), 0)
    }

    /// in (H, W, 3) -> out (height, width, 3) float (TF keeps uint8; the values are the same)
    static func nearest(_ image: RGBImage, width: Int, height: Int) -> [Float] {
        let sx = scale(image.width, width), sy = scale(image.height, height)
        let xs = (0..<width).map { nearestIndex($0, inSize: image.width, scale: sx) }
        var out = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let row = nearestIndex(y, inSize: image.height, scale: sy) * image.width * 3
            for x in 0..<width {
                for c in 0..<3 { out[(y * width + x) * 3 + c] = Float(image.pixels[row + xs[x] * 3 + c]) }
            }
        }
        return out
    }

    // MARK: bicubic

    static let tableSize = 1024

    /// InitCoeffsTable(-0.5): Keys' cubic sampled at i / 1024, double arithmetic on a float x,
    /// stored as float. Entry 2i is the weight at distance x, 2i + 1 at distance x + 1.
    static let cubicTable: [Float] = {
        let a = Double(Float(-0.5))
        var table = [Float](repeating: 0, count: (tableSize + 1) * 2)
        for i in 0...tableSize {
            var x = Float(Double(i) * 1.0 / Double(tableSize))
            var xd = Double(x)
            table[i * 2] = Float(((a + 2) * xd - (a + 3)) * xd * xd + 1)
            x = Float(Double(x) + 1.0)
            xd = Double(x)
            table[i * 2 + 1] = Float(((a * xd - 5 * a) * xd + 8 * a) * xd - 4 * a)
        }
        return table
    }()

    struct CubicTap { var index: (Int, Int, Int, Int); var weight: (Float, Float, Float, Float) }

    /// GetWeightsAndIndices<HalfPixelScaler, use_keys_cubic=true>: four taps around the
    /// sample; taps outside the image get weight 0 and the rest are renormalized.
    static func cubicTap(_ i: Int, inSize: Int, scale: Float) -> CubicTap {
        let position = halfPixel(i, scale)
        let base = Int(position.rounded(.down))
        let delta = position - Float(base)
        let offset = Int((delta * Float(tableSize)).rounded(.toNearestOrEven))  // lrintf
        func bound(_ v: Int) -> Int { min(inSize - 1, max(0, v)) }
        let i0 = bound(base - 1), i1 = bound(base), i2 = bound(base + 1), i3 = bound(base + 2)
        var w0: Float = i0 == base - 1 ? cubicTable[offset * 2 + 1] : 0
        var w1: Float = i1 == base ? cubicTable[offset * 2] : 0
        var w2: Float = i2 == base + 1 ? cubicTable[(tableSize - offset) * 2] : 0
        var w3: Float = i3 == base + 2 ? cubicTable[(tableSize - offset) * 2 + 1] : 0
        let sum = w0 + w1 + w2 + w3
        if abs(sum) >= 1000 * Float.leastNormalMagnitude {
            let inverse = 1 / sum
            w0 *= inverse; w1 *= inverse; w2 *= inverse; w3 *= inverse
        }
        return CubicTap(index: (i0, i1, i2, i3), weight: (w0, w1, w2, w3))
    }

    /// Interpolate1D: v0 * w0 + v1 * w1 + v2 * w2 + v3 * w3, left to right.
    @inline(__always)
    static func cubic(_ v: (Float, Float, Float, Float), _ w: (Float, Float, Float, Float)) -> Float {
        v.0 * w.0 + v.1 * w.1 + v.2 * w.2 + v.3 * w.3
    }

    /// Fast path: tap tables per axis. For each output sample TF first interpolates the four
    /// source rows at each of the four columns, then across the columns.
    /// in (H, W, 3) -> out (height, width, 3) float
    static func bicubic(_ image: RGBImage, width: Int, height: Int) -> [Float] {
        let sx = scale(image.width, width), sy = scale(image.height, height)
        let xs = (0..<width).map { cubicTap($0, inSize: image.width, scale: sx) }
        var out = [Float](repeating: 0, count: width * height * 3)
        let inRow = image.width * 3
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let ty = cubicTap(y, inSize: image.height, scale: sy)
                    let r0 = src.baseAddress! + ty.index.0 * inRow, r1 = src.baseAddress! + ty.index.1 * inRow
                    let r2 = src.baseAddress! + ty.index.2 * inRow, r3 = src.baseAddress! + ty.index.3 * inRow
                    let o = dst.baseAddress! + y * width * 3
                    for x in 0..<width {
                        let tx = xs[x]
                        let cols = (tx.index.0 * 3, tx.index.1 * 3, tx.index.2 * 3, tx.index.3 * 3)
                        for c in 0..<3 {
                            func column(_ j: Int) -> Float {
                                let v = (Float(r0[j + c]), Float(r1[j + c]), Float(r2[j + c]), Float(r3[j + c]))
                                return cubic(v, ty.weight)
                            }
                            let columns = (column(cols.0), column(cols.1), column(cols.2), column(cols.3))
                            o[3 * x + c] = cubic(columns, tx.weight)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Reference: taps recomputed for every output sample.
    static func bicubicNaive(_ image: RGBImage, width: Int, height: Int) -> [Float] {
        var out = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let ty = cubicTap(y, inSize: image.height, scale: scale(image.height, height))
                let tx = cubicTap(x, inSize: image.width, scale: scale(image.width, width))
                let rows = [ty.index.0, ty.index.1, ty.index.2, ty.index.3]
                let cols = [tx.index.0, tx.index.1, tx.index.2, tx.index.3]
                for c in 0..<3 {
                    var columnValues = [Float]()
                    for xx in cols {
                        let v = rows.map { Float(image.pixels[($0 * image.width + xx) * 3 + c]) }
                        columnValues.append(cubic((v[0], v[1], v[2], v[3]), ty.weight))
                    }
                    out[(y * width + x) * 3 + c] = cubic(
                        (
                            columnValues[0], columnValues[1], columnValues[2],
                            columnValues[3]
                        ), tx.weight)
                }
            }
        }
        return out
    }
}
