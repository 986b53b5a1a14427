import CKernels

extension Kernels {
    /// Keras `MaxPooling2D`: the maximum over the window's cells that lie inside the input
    /// (padded cells are ignored, never read as 0 or -inf).
    /// in (N,H,W,C), window (KH,KW) -> out (N,OH,OW,C)
    public static func maxPool2dNaive(
        _ input: UnsafePointer<Float>, window w: Window2D, output: UnsafeMutablePointer<Float>
    ) {
        checkPoolWindow(w)
        let (H, W, C) = (w.height, w.width, w.channels)
        let (OH, OW) = (w.outHeight, w.outWidth)
        for n in 0..<w.batch {
            for oh in 0..<OH {
                for ow in 0..<OW {
                    for c in 0..<C {
                        var best = -Float.infinity
                        for kh in 0..<w.kernelHeight {
                            let ih = oh * w.strideHeight - w.padding.top + kh
                            if ih < 0 || ih >= H { continue }
                            for kw in 0..<w.kernelWidth {
                                let iw = ow * w.strideWidth - w.padding.left + kw
                                if iw < 0 || iw >= W { continue }
                                best = max(best, input[((n * H + ih) * W + iw) * C + c])
                            }
                        }
                        output[((n * OH + oh) * OW + ow) * C + c] = best
                    }
                }
            }
        }
    }

    /// Keras `AveragePooling2D`: the mean over the window's cells that lie inside the input,
    /// i.e. the sum divided by the number of VALID cells (TF "same", count_include_pad=False).
    /// in (N,H,W,C), window (KH,KW) -> out (N,OH,OW,C)
    public static func averagePool2dNaive(
        _ input: UnsafePointer<Float>, window w: Window2D, output: UnsafeMutablePointer<Float>
    ) {
        checkPoolWindow(w)
        let (H, W, C) = (w.height, w.width, w.channels)
        let (OH, OW) = (w.outHeight, w.outWidth)
        for n in 0..<w.batch {
            for oh in 0..<OH {
                for ow in 0..<OW {
                    for c in 0..<C {
                        var sum = 0.0
                        var count = 0
                        for kh in 0..<w.kernelHeight {
                            let ih = oh * w.strideHeight - w.padding.top + kh
                            if ih < 0 || ih >= H { continue }
                            for kw in 0..<w.kernelWidth {
                                let iw = ow * w.strideWidth - w.padding.left + kw
                                if iw < 0 || iw >= W { continue }
                                sum += Double(input[((n * H + ih) * W + iw) * C + c])
                                count += 1
                            }
                        }
                        output[((n * OH + oh) * OW + ow) * C + c] = Float(sum / Double(count))
                    }
                }
            }
        }
    }

    /// Same result as `maxPool2dNaive`: `ck_pool2d` image by image; `body` caps its SIMD body
    /// (tests).
    /// in (N,H,W,C), window (KH,KW) -> out (N,OH,OW,C)
    /// Trick: in NHWC a pixel's channels are contiguous, so 16 of them ride in one zmm register,
    /// looping only over the taps inside the input.
    public static func maxPool2d(
        _ input: UnsafePointer<Float>, window w: Window2D, output: UnsafeMutablePointer<Float>,
        body: ck_body = CK_BODY_AVX512
    ) {
        pool(input, window: w, output: output, average: false, body: body)
    }

    /// Same result as `averagePool2dNaive` (Float sums of at most KH*KW terms in (kh, kw)
    /// order, divided by the valid-cell count; every body the same bits).
    /// in (N,H,W,C), window (KH,KW) -> out (N,OH,OW,C)
    /// Trick: as in `maxPool2d`; the valid-cell count is the product of the two valid tap ranges.
    public static func averagePool2d(
        _ input: UnsafePointer<Float>, window w: Window2D, output: UnsafeMutablePointer<Float>,
        body: ck_body = CK_BODY_AVX512
    ) {
        pool(input, window: w, output: output, average: true, body: body)
    }

    private static func pool(
        _ input: UnsafePointer<Float>, window w: Window2D, output: UnsafeMutablePointer<Float>,
        average: Bool, body: ck_body
    ) {
        checkPoolWindow(w)
        let window = w.imageWindow  // dilation 1: checked above
        for n in 0..<w.batch {
            ck_pool2d(
                input + n * w.height * w.width * w.channels, window, average,
                output + n * w.outHeight * w.outWidth * w.channels, body)
        }
    }

    /// Every window must hold at least one input cell: padding smaller than the pool on each
    /// side (always true for TF "same"), and no dilation.
    private static func checkPoolWindow(_ w: Window2D) {
        precondition(w.dilationHeight == 1 && w.dilationWidth == 1, "pooling has no dilation")
        precondition(
            w.padding.top < w.kernelHeight && w.padding.bottom < w.kernelHeight
                && w.padding.left < w.kernelWidth && w.padding.right < w.kernelWidth,
            "pool padding \(w.padding) must be smaller than the pool \(w.kernelHeight)x\(w.kernelWidth)"
        )
    }

    /// Keras `GlobalAveragePooling2D`: the mean over H and W, summed in Double and rounded once.
    /// TensorFlow sums in float32 by a tree; a running float32 sum over a 56×56 map drifts by
    /// up to 5e-5 of the mean on near-uniform images, the Double sum stays within TF's rounding.
    /// `ck_global_average_pool` (SIMD over channels, the same Double sums in the same order, so
    /// the bits of `globalAveragePoolNaive`) image by image; `body` caps its SIMD body (tests).
    /// in (N,H,W,C) -> out (N,C)
    public static func globalAveragePool(
        _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        output: UnsafeMutablePointer<Float>, body: ck_body = CK_BODY_AVX512
    ) {
        let pixels = height * width
        withUnsafeTemporaryAllocation(of: Double.self, capacity: max(channels, 1)) { sums in
            for n in 0..<batch {
                ck_global_average_pool(
                    input + n * pixels * channels, Int32(pixels), Int32(channels),
                    sums.baseAddress!, output + n * channels, body)
            }
        }
    }

    /// The reference for `globalAveragePool`: per channel a Double running sum over the pixels.
    /// in (N,H,W,C) -> out (N,C)
    public static func globalAveragePoolNaive(
        _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        let pixels = height * width
        var sum = [Double](repeating: 0, count: channels)
        for n in 0..<batch {
            for c in 0..<channels { sum[c] = 0 }
            for p in 0..<pixels {
                let x = input + (n * pixels + p) * channels
                for c in 0..<channels { sum[c] += Double(x[c]) }
            }
            let out = output + n * channels
            for c in 0..<channels { out[c] = Float(sum[c] / Double(pixels)) }
        }
    }

    /// Keras `GlobalMaxPooling2D`: the maximum over H and W.
    /// in (N,H,W,C) -> out (N,C)
    public static func globalMaxPool(
        _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        let pixels = height * width
        for n in 0..<batch {
            let out = output + n * channels
            out.update(repeating: -.infinity, count: channels)
            for p in 0..<pixels {
                let x = input + (n * pixels + p) * channels
                for c in 0..<channels { out[c] = max(out[c], x[c]) }
            }
        }
    }
}
