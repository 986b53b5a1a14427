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

    /// Floats of scratch `separableConv2d` needs: the depthwise output (N,OH,OW,C*M).
    public static func separableConv2dScratchCount(window w: Window2D, depthMultiplier: Int) -> Int {
        w.outPixels * w.channels * depthMultiplier
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
    /// (`separableConv2dScratchCount` floats), then the pointwise half as one GEMM on it with
    /// the bias and activation in its epilogue (`conv2d`'s 1×1 path).
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
}
