// Keras `UpSampling2D`. Nearest repeats pixels (Keras' `ops.repeat` on each axis); bilinear is
// TensorFlow's ResizeBilinear with half-pixel centers (tensorflow/core/kernels/image/
// resize_bilinear_op.cc), in float32 in the kernel's operation order, as `tf.image.resize`
// runs it for Keras.

extension Kernels {
    /// Each pixel repeated `size.0` times down and `size.1` times across.
    /// in (N,H,W,C) -> out (N, H*size.0, W*size.1, C)
    public static func upSample2dNearest(
        _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        size: (Int, Int), output: UnsafeMutablePointer<Float>
    ) {
        let (OH, OW) = (height * size.0, width * size.1)
        for n in 0..<batch {
            for oh in 0..<OH {
                let src = input + ((n * height + oh / size.0) * width) * channels
                var dst = output + ((n * OH + oh) * OW) * channels
                for w in 0..<width {
                    for _ in 0..<size.1 {
                        dst.update(from: src + w * channels, count: channels)
                        dst += channels
                    }
                }
            }
        }
    }

    /// One output index's two source indices and weight: `position = (o + 0.5) * scale - 0.5`
    /// (HalfPixelScaler, scale = in / out in float), lower = max(floor, 0), upper =
    /// min(ceil, in - 1), lerp = position - floor (compute_interpolation_weights).
    struct BilinearTap {
        var lower: Int
        var upper: Int
        var lerp: Float

        init(_ o: Int, inSize: Int, outSize: Int) {
            let scale = Float(inSize) / Float(outSize)
            let position = (Float(o) + 0.5) * scale - 0.5
            let floor = position.rounded(.down)
            lower = max(Int(floor), 0)
            upper = min(Int(position.rounded(.up)), inSize - 1)
            lerp = position - floor
        }
    }

    /// compute_lerp: `top = tl + (tr - tl) * x`, `bottom = bl + (br - bl) * x`,
    /// `top + (bottom - top) * y`.
    @inline(__always)
    static func bilinearLerp(
        _ tl: Float, _ tr: Float, _ bl: Float, _ br: Float, x: Float, y: Float
    ) -> Float {
        let top = tl + (tr - tl) * x
        let bottom = bl + (br - bl) * x
        return top + (bottom - top) * y
    }

    /// `tf.image.resize(x, (H*size.0, W*size.1), "bilinear")`, the specification: every output
    /// value computed on its own.
    /// in (N,H,W,C) -> out (N, H*size.0, W*size.1, C)
    public static func upSample2dBilinearNaive(
        _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        size: (Int, Int), output: UnsafeMutablePointer<Float>
    ) {
        let (OH, OW, C) = (height * size.0, width * size.1, channels)
        for n in 0..<batch {
            func v(_ h: Int, _ w: Int, _ c: Int) -> Float { input[((n * height + h) * width + w) * C + c] }
            for oh in 0..<OH {
                let y = BilinearTap(oh, inSize: height, outSize: OH)
                for ow in 0..<OW {
                    let x = BilinearTap(ow, inSize: width, outSize: OW)
                    for c in 0..<C {
                        output[((n * OH + oh) * OW + ow) * C + c] = bilinearLerp(
                            v(y.lower, x.lower, c), v(y.lower, x.upper, c), v(y.upper, x.lower, c),
                            v(y.upper, x.upper, c), x: x.lerp, y: y.lerp)
                    }
                }
            }
        }
    }

    /// Same as `upSample2dBilinearNaive`, the taps computed once per row and column.
    /// in (N,H,W,C) -> out (N, H*size.0, W*size.1, C)
    public static func upSample2dBilinear(
        _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        size: (Int, Int), output: UnsafeMutablePointer<Float>
    ) {
        let (OH, OW, C) = (height * size.0, width * size.1, channels)
        let ys = (0..<OH).map { BilinearTap($0, inSize: height, outSize: OH) }
        let xs = (0..<OW).map { BilinearTap($0, inSize: width, outSize: OW) }
        let inRow = width * C
        for n in 0..<batch {
            let image = input + n * height * inRow
            for oh in 0..<OH {
                let y = ys[oh]
                let (top, bottom) = (image + y.lower * inRow, image + y.upper * inRow)
                let out = output + (n * OH + oh) * OW * C
                for ow in 0..<OW {
                    let x = xs[ow]
                    let (l, r) = (x.lower * C, x.upper * C)
                    for c in 0..<C {
                        out[ow * C + c] = bilinearLerp(
                            top[l + c], top[r + c], bottom[l + c], bottom[r + c], x: x.lerp,
                            y: y.lerp)
                    }
                }
            }
        }
    }
}
