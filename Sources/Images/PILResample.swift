import Foundation

/// The resampling filters `keras.utils.load_img` accepts (its `PIL_INTERPOLATION_METHODS`).
public enum Interpolation: String, CaseIterable, Sendable {
    case nearest, bilinear, bicubic, hamming, box, lanczos
}

/// PIL's antialiasing filters (python-pillow `src/libImaging/Resample.c`): each kernel with its
/// support at scale 1. When downscaling, PIL stretches the kernel by the scale factor, which is
/// why PIL's bilinear/bicubic antialias and `tf.image.resize`'s do not.
enum ResampleFilter: Sendable {
    case box, bilinear, hamming, bicubic, lanczos

    init?(_ interpolation: Interpolation) {
        switch interpolation {
        case .nearest: return nil
        case .bilinear: self = .bilinear
        case .bicubic: self = .bicubic
        case .hamming: self = .hamming
        case .box: self = .box
        case .lanczos: self = .lanczos
        }
    }

    var support: Double {
        switch self {
        case .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    /// The kernel, with Resample.c's exact expressions (its float constants included).
    func weight(_ x: Double) -> Double {
        switch self {
        case .box:
            return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear:
            let x = abs(x)
            return x < 1 ? 1 - x : 0
        case .hamming:
            let x = abs(x)
            if x == 0 { return 1 }
            if x >= 1 { return 0 }
            let px = x * Double.pi
            // `0.54f + 0.46f * cos(x)`: single-precision constants promoted to double.
            return sin(px) / px * (Double(Float(0.54)) + Double(Float(0.46)) * cos(px))
        case .bicubic:
            let a = -0.5, x = abs(x)
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        case .lanczos:
            func sinc(_ x: Double) -> Double {
                if x == 0 { return 1 }
                let px = x * Double.pi
                return sin(px) / px
            }
            return -3 <= x && x < 3 ? sinc(x) * sinc(x / 3) : 0
        }
    }
}

/// PIL's 8-bit antialiased resampling (`ImagingResample`): separable, horizontal pass first
/// (only over the source rows the vertical pass will read), then vertical; each pass rounds
/// and clips to 8 bits. Weights are normalized doubles turned into 22-bit fixed point; sums
/// start at 0.5 (1 << 21) and are truncated by `>> 22`. A pass is skipped when its axis keeps
/// its size and box.
enum PILResample {
    static let precisionBits: Int32 = 22

    /// `precompute_coeffs` for one output index: first source index and its normalized
    /// weights. `in0, in1` are the box edges on this axis, as C floats.
    static func window(
        _ xx: Int, inSize: Int, in0: Float, in1: Float, outSize: Int,
        filter: ResampleFilter
    ) -> (first: Int, weights: [Double]) {
        let scale = Double(in1 - in0) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let center = Double(in0) + (Double(xx) + 0.5) * scale
        let ss = 1.0 / filterScale
        let xmin = max(Int(center - support + 0.5), 0)  // C (int): truncation toward zero
        let xmax = min(Int(center + support + 0.5), inSize)
        var weights = [Double]()
        var total = 0.0
        var x = 0
        while x < xmax - xmin {
            let w = filter.weight((Double(x + xmin) - center + 0.5) * ss)
            weights.append(w)
            total += w
            x += 1
        }
        if total != 0 { weights = weights.map { $0 / total } }
        return (xmin, weights)
    }

    /// `normalize_coeffs_8bpc`: round half away from zero to 22-bit fixed point.
    @inline(__always) static func fixedPoint(_ w: Double) -> Int32 {
        w < 0 ? Int32(-0.5 + w * 4_194_304) : Int32(0.5 + w * 4_194_304)
    }

    /// Resample.c `clip8`: the fixed-point sum shifted down and clamped to 0...255.
    @inline(__always) static func clip8(_ sum: Int32) -> UInt8 {
        let v = sum >> precisionBits
        return v < 0 ? 0 : v > 255 ? 255 : UInt8(truncatingIfNeeded: v)
    }

    /// All windows of one axis, in C's table layout: `ksize` fixed-point weights per output
    /// (zero-padded) and (first, count) bounds.
    struct Coefficients {
        let ksize: Int
        var first: [Int]
        var count: [Int]
        var weights: [Int32]

        init(inSize: Int, in0: Float, in1: Float, outSize: Int, filter: ResampleFilter) {
            let scale = Double(in1 - in0) / Double(outSize)
            ksize = Int(ceil(filter.support * max(scale, 1))) * 2 + 1
            first = [Int](repeating: 0, count: outSize)
            count = [Int](repeating: 0, count: outSize)
            weights = [Int32](repeating: 0, count: outSize * ksize)
            for xx in 0..<outSize {
                let w = PILResample.window(xx, inSize: inSize, in0: in0, in1: in1, outSize: outSize, filter: filter)
                first[xx] = w.first
                count[xx] = w.weights.count
                for (i, v) in w.weights.enumerated() { weights[xx * ksize + i] = PILResample.fixedPoint(v) }
            }
        }
    }

    /// Fast path: precomputed fixed-point tables, a horizontal pass over only the rows the
    /// vertical pass reads, and a vertical pass that accumulates whole rows (integer sums, so
    /// the order does not change the result).
    /// in (H, W, 3) -> out (height, width, 3)
    static func resample(
        _ image: RGBImage, width: Int, height: Int, filter: ResampleFilter,
        box: (x0: Float, y0: Float, x1: Float, y1: Float)
    ) -> RGBImage {
        let needHorizontal = width != image.width || box.x0 != 0 || box.x1 != Float(width)
        let needVertical = height != image.height || box.y0 != 0 || box.y1 != Float(height)
        let vertical = Coefficients(inSize: image.height, in0: box.y0, in1: box.y1, outSize: height, filter: filter)
        let firstRow = vertical.first[0]
        let lastRow = vertical.first[height - 1] + vertical.count[height - 1]

        var source = image.pixels, sourceWidth = image.width, rowShift = 0
        if needHorizontal {
            let horizontal = Coefficients(inSize: image.width, in0: box.x0, in1: box.x1, outSize: width, filter: filter)
            source = horizontalPass(image, rows: firstRow..<lastRow, width: width, coefficients: horizontal)
            sourceWidth = width
            rowShift = firstRow
        }
        guard needVertical else {
            return RGBImage(width: sourceWidth, height: source.count / max(sourceWidth * 3, 1), pixels: source)
        }
        let half: Int32 = 1 << (precisionBits - 1)
        let rowBytes = sourceWidth * 3
        var out = [UInt8](repeating: 0, count: rowBytes * height)
        var sums = [Int32](repeating: 0, count: rowBytes)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                sums.withUnsafeMutableBufferPointer { acc in
                    vertical.weights.withUnsafeBufferPointer { kk in
                        for yy in 0..<height {
                            for j in 0..<rowBytes { acc[j] = half }
                            let k = kk.baseAddress! + yy * vertical.ksize
                            for i in 0..<vertical.count[yy] {
                                let w = k[i]
                                let row = src.baseAddress! + (vertical.first[yy] - rowShift + i) * rowBytes
                                for j in 0..<rowBytes { acc[j] &+= Int32(row[j]) &* w }
                            }
                            let o = dst.baseAddress! + yy * rowBytes
                            for j in 0..<rowBytes { o[j] = clip8(acc[j]) }
                        }
                    }
                }
            }
        }
        return RGBImage(width: sourceWidth, height: height, pixels: out)
    }

    /// in (H, W, 3), rows r0..<r1 -> out (r1 - r0, width, 3)
    private static func horizontalPass(
        _ image: RGBImage, rows: Range<Int>, width: Int,
        coefficients c: Coefficients
    ) -> [UInt8] {
        let half: Int32 = 1 << (precisionBits - 1)
        let inRowBytes = image.width * 3, outRowBytes = width * 3
        var out = [UInt8](repeating: 0, count: outRowBytes * rows.count)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                c.weights.withUnsafeBufferPointer { kk in
                    for (r, y) in rows.enumerated() {
                        let inRow = src.baseAddress! + y * inRowBytes
                        let outRow = dst.baseAddress! + r * outRowBytes
                        for xx in 0..<width {
                            let k = kk.baseAddress! + xx * c.ksize
                            var p = inRow + c.first[xx] * 3
                            var s0 = half, s1 = half, s2 = half
                            for i in 0..<c.count[xx] {
                                let w = k[i]
                                s0 &+= Int32(p[0]) &* w
                                s1 &+= Int32(p[1]) &* w
                                s2 &+= Int32(p[2]) &* w
                                p += 3
                            }
                            outRow[3 * xx] = clip8(s0)
                            outRow[3 * xx + 1] = clip8(s1)
                            outRow[3 * xx + 2] = clip8(s2)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Reference: Resample.c transcribed per output sample, windows recomputed for every
    /// pixel, the horizontal pass run over every source row.
    static func resampleNaive(
        _ image: RGBImage, width: Int, height: Int, filter: ResampleFilter,
        box: (x0: Float, y0: Float, x1: Float, y1: Float)
    ) -> RGBImage {
        let needHorizontal = width != image.width || box.x0 != 0 || box.x1 != Float(width)
        let needVertical = height != image.height || box.y0 != 0 || box.y1 != Float(height)
        func sample(_ pixels: [UInt8], _ w: Int, _ x: Int, _ y: Int, _ c: Int) -> Int32 {
            Int32(pixels[(y * w + x) * 3 + c])
        }
        var current = image
        if needHorizontal {
            var temp = RGBImage(width: width, height: image.height)
            for y in 0..<image.height {
                for xx in 0..<width {
                    let win = window(xx, inSize: image.width, in0: box.x0, in1: box.x1, outSize: width, filter: filter)
                    for c in 0..<3 {
                        var sum: Int32 = 1 << (precisionBits - 1)
                        for (i, w) in win.weights.enumerated() {
                            sum &+= sample(image.pixels, image.width, win.first + i, y, c) &* fixedPoint(w)
                        }
                        temp.pixels[(y * width + xx) * 3 + c] = clip8(sum)
                    }
                }
            }
            current = temp
        }
        if needVertical {
            var out = RGBImage(width: current.width, height: height)
            for yy in 0..<height {
                let win = window(yy, inSize: image.height, in0: box.y0, in1: box.y1, outSize: height, filter: filter)
                for x in 0..<current.width {
                    for c in 0..<3 {
                        var sum: Int32 = 1 << (precisionBits - 1)
                        for (i, w) in win.weights.enumerated() {
                            sum &+= sample(current.pixels, current.width, x, win.first + i, c) &* fixedPoint(w)
                        }
                        out.pixels[(yy * current.width + x) * 3 + c] = clip8(sum)
                    }
                }
            }
            current = out
        } else if needHorizontal {
            // C keeps only the rows the (skipped) vertical pass would have read.
            func rowWindow(_ yy: Int) -> (first: Int, weights: [Double]) {
                window(yy, inSize: image.height, in0: box.y0, in1: box.y1, outSize: height, filter: filter)
            }
            let last = rowWindow(height - 1)
            let rows = rowWindow(0).first..<(last.first + last.weights.count)
            let bytes = (rows.lowerBound * width * 3)..<(rows.upperBound * width * 3)
            current = RGBImage(width: width, height: rows.count, pixels: Array(current.pixels[bytes]))
        }
        return current
    }
}

/// PIL's NEAREST resize (`_resize` -> `ImagingTransform` affine -> `ImagingScaleAffine` in
/// Geometry.c): source positions start at box0 + scale / 2 and advance by *accumulating*
/// `scale` in double precision, then truncate; the accumulation (not a closed form) decides
/// ties, e.g. 4 -> 10 px picks [0,0,1,1,1,2,2,2,3,3]. Positions outside the source are black.
enum PILNearest {
    /// `COORD(v)`: -1 for negative positions, else truncation.
    @inline(__always) static func coord(_ v: Double) -> Int { v < 0 ? -1 : Int(v) }

    /// Source index of every output index along one axis.
    static func sourceIndices(inSize: Int, in0: Float, in1: Float, outSize: Int) -> [Int] {
        let step = Double(in1 - in0) / Double(outSize)
        var position = Double(in0) + step * 0.5
        var indices = [Int](repeating: -1, count: outSize)
        for i in 0..<outSize {
            let v = coord(position)
            indices[i] = v < inSize ? v : -1
            position += step
        }
        return indices
    }

    /// Fast path: index tables for both axes, whole output rows copied when two output rows
    /// read the same source row.
    /// in (H, W, 3) -> out (height, width, 3)
    static func resize(
        _ image: RGBImage, width: Int, height: Int,
        box: (x0: Float, y0: Float, x1: Float, y1: Float)
    ) -> RGBImage {
        let xs = sourceIndices(inSize: image.width, in0: box.x0, in1: box.x1, outSize: width)
        let ys = sourceIndices(inSize: image.height, in0: box.y0, in1: box.y1, outSize: height)
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let rowBytes = width * 3
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let o = dst.baseAddress! + y * rowBytes
                    guard ys[y] >= 0 else { continue }
                    if y > 0 && ys[y] == ys[y - 1] {
                        o.update(from: o - rowBytes, count: rowBytes)
                        continue
                    }
                    let row = src.baseAddress! + ys[y] * image.width * 3
                    for x in 0..<width where xs[x] >= 0 {
                        let s = row + xs[x] * 3
                        o[3 * x] = s[0]; o[3 * x + 1] = s[1]; o[3 * x + 2] = s[2]
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// Reference: ImagingScaleAffine per output pixel, each position re-accumulated from the
    /// start of its axis.
    static func resizeNaive(
        _ image: RGBImage, width: Int, height: Int,
        box: (x0: Float, y0: Float, x1: Float, y1: Float)
    ) -> RGBImage {
        let a0 = Double(box.x1 - box.x0) / Double(width), a4 = Double(box.y1 - box.y0) / Double(height)
        var out = RGBImage(width: width, height: height)
        for y in 0..<height {
            var yo = Double(box.y0) + a4 * 0.5
            for _ in 0..<y { yo += a4 }
            for x in 0..<width {
                var xo = Double(box.x0) + a0 * 0.5
                for _ in 0..<x { xo += a0 }
                let xi = coord(xo), yi = coord(yo)
                guard xi >= 0, xi < image.width, yi >= 0, yi < image.height else { continue }
                for c in 0..<3 { out.pixels[(y * width + x) * 3 + c] = image.pixels[(yi * image.width + xi) * 3 + c] }
            }
        }
        return out
    }
}
