import CKernels

extension Kernels {
    /// Keras `SeparableConv2D`: a depthwise convolution (the window's strides, dilation and
    /// padding; no bias), then a 1×1 pointwise convolution, the bias and the activation.
    /// in (N,H,W,C) * depthwise (KH,KW,C,M) * pointwise (1,1,C*M,K) + bias (K) -> out (N,OH,OW,K)
    /// `out[o] = bias[o] + sum_{c,m} pointwise[c*M+m, o] * sum_taps x[c] * depthwise[tap, c, m]`,
    /// accumulated in Double: the reference the fast kernel is tested against.
    public static func separableConv2dNaive(
        _ input: UnsafePointer<Float>, window w: Window2D,
        depthwiseKernel: UnsafePointer<Float>, depthMultiplier: Int = 1,
        pointwiseKernel: UnsafePointer<Float>, outChannels: Int,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(
            depthMultiplier > 0 && outChannels > 0, "separable \(depthMultiplier) \(outChannels)")
        let (H, W, C, M, K) = (w.height, w.width, w.channels, depthMultiplier, outChannels)
        let (OH, OW) = (w.outHeight, w.outWidth)
        var mid = [Double](repeating: 0, count: C * M)
        for n in 0..<w.batch {
            for oh in 0..<OH {
                for ow in 0..<OW {
                    for c in 0..<C {
                        for m in 0..<M {
                            var sum = 0.0
                            for kh in 0..<w.kernelHeight {
                                let ih = oh * w.strideHeight - w.padding.top + kh * w.dilationHeight
                                if ih < 0 || ih >= H { continue }
                                for kw in 0..<w.kernelWidth {
                                    let iw = ow * w.strideWidth - w.padding.left + kw * w.dilationWidth
                                    if iw < 0 || iw >= W { continue }
                                    let x = input[((n * H + ih) * W + iw) * C + c]
                                    let k = depthwiseKernel[((kh * w.kernelWidth + kw) * C + c) * M + m]
                                    sum += Double(x) * Double(k)
                                }
                            }
                            mid[c * M + m] = sum
                        }
                    }
                    for o in 0..<K {
                        var sum = Double(bias?[o] ?? 0)
                        for j in 0..<(C * M) { sum += mid[j] * Double(pointwiseKernel[j * K + o]) }
                        output[((n * OH + oh) * OW + ow) * K + o] = activation(Float(sum))
                    }
                }
            }
        }
    }

    /// Floats of scratch `separableConv2d` needs: the depthwise output of one band of output
    /// rows (`separableBandRows`), or of the whole batch (N,OH,OW,C*M) with a depth multiplier.
    public static func separableConv2dScratchCount(
        window w: Window2D, depthMultiplier: Int, outChannels: Int
    ) -> Int {
        if depthMultiplier == 1 { return separableBandRows(w, outChannels: outChannels) * w.outWidth * w.channels }
        return w.outPixels * w.channels * depthMultiplier
    }

    /// Output rows per band: about 256 KiB of depthwise output, so the pointwise GEMM reads it
    /// from L2. Written whole, Xception's 147×147×128 map (11 MB) went out to memory and back,
    /// and its GEMMs ran at 100 GFLOP/s. But a band holds at least as many floats as the
    /// pointwise kernel, which every band's GEMM reads whole: Xception's middle flow
    /// (19×19×728, a 2 MB kernel) in 4 bands ran 13 % slower than in one.
    static func separableBandRows(_ w: Window2D, outChannels: Int) -> Int {
        let floats = max(1 << 16, w.channels * outChannels)
        return min(w.outHeight, max(1, floats / max(w.outWidth * w.channels, 1)))
    }

    /// `separableConv2d` with the pointwise kernel given as its (1,1,C*M,K) floats (packed for
    /// this call).
    public static func separableConv2d(
        _ input: UnsafePointer<Float>, window w: Window2D,
        depthwiseKernel: UnsafePointer<Float>, depthMultiplier: Int = 1,
        pointwiseKernel: UnsafePointer<Float>, outChannels: Int,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        separableConv2d(
            input, window: w, depthwiseKernel: depthwiseKernel, depthMultiplier: depthMultiplier,
            pointwiseKernel: GemmWeights(
                pointwiseKernel, rows: w.channels * depthMultiplier, columns: outChannels),
            bias: bias, activation: activation, output: output, scratch: scratch)
    }

    /// Same result as `separableConv2dNaive`.
    /// in (N,H,W,C) * depthwise (KH,KW,C,M) * pointwise (C*M, K) + bias (K) -> out (N,OH,OW,K)
    /// Trick: the two halves as TensorFlow runs them: `depthwiseConv2d` into `scratch`
    /// (`separableConv2dScratchCount` floats), then the pointwise half as a GEMM on it with
    /// the bias and activation in its epilogue; with depth multiplier 1 (every Keras
    /// application) one band of output rows at a time (`separableConv2dBands`).
    public static func separableConv2d(
        _ input: UnsafePointer<Float>, window w: Window2D,
        depthwiseKernel: UnsafePointer<Float>, depthMultiplier: Int = 1,
        pointwiseKernel: GemmWeights,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) {
        let outChannels = pointwiseKernel.columns
        precondition(
            depthMultiplier > 0 && outChannels > 0, "separable \(depthMultiplier) \(outChannels)")
        if depthMultiplier == 1 {
            separableConv2dBands(
                input, window: w, depthwiseKernel: depthwiseKernel, pointwiseKernel: pointwiseKernel,
                bias: bias, activation: activation, output: output, scratch: scratch,
                bandRows: separableBandRows(w, outChannels: outChannels))
            return
        }
        depthwiseConv2d(
            input, window: w, kernel: depthwiseKernel, depthMultiplier: depthMultiplier,
            bias: nil, activation: .linear, output: scratch)
        let pointwise = Window2D(
            batch: w.batch, height: w.outHeight, width: w.outWidth,
            channels: w.channels * depthMultiplier, kernel: (1, 1))
        conv2d(
            scratch, window: pointwise, kernel: pointwiseKernel, outChannels: outChannels,
            bias: bias, activation: activation, output: output)
    }

    /// `separableConv2d` with depth multiplier 1, `bandRows` output rows at a time: the
    /// depthwise half of a band into `scratch` (bandRows·OW·C floats), then its GEMM. With
    /// packed weights the same bits as the whole map at once (a depthwise output depends only
    /// on its taps, a `ck_gemm_packed` row only on its A row); cblas_sgemm may round another
    /// row count differently, the same way for every image.
    static func separableConv2dBands(
        _ input: UnsafePointer<Float>, window w: Window2D,
        depthwiseKernel: UnsafePointer<Float>, pointwiseKernel: GemmWeights,
        bias: UnsafePointer<Float>?, activation: Activation, output: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, bandRows: Int
    ) {
        let (H, W, C, K) = (w.height, w.width, w.channels, pointwiseKernel.columns)
        let (OH, OW) = (w.outHeight, w.outWidth)
        precondition(bandRows > 0 && pointwiseKernel.rows == C, "separable band \(bandRows) for \(w)")
        for n in 0..<w.batch {
            for r0 in stride(from: 0, to: OH, by: bandRows) {
                // Output rows r0 ..< r0 + rows as a window of their own: its row 0 reads input
                // row r0·stride - top, i.e. a top padding of top - r0·stride (negative below
                // the first band).
                var band = w.imageWindow
                band.out_height = Int32(min(bandRows, OH - r0))
                band.pad_top = Int32(w.padding.top - r0 * w.strideHeight)
                ck_depthwise_conv2d(input + n * H * W * C, band, depthwiseKernel, nil, CK_LINEAR, scratch)
                gemm(
                    m: Int(band.out_height) * OW, a: scratch, lda: C, weights: pointwiseKernel,
                    bias: bias, activation: activation, c: output + (n * OH + r0) * OW * K, ldc: K)
            }
        }
    }
}
