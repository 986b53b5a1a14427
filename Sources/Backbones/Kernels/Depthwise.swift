import CKernels

extension Kernels {
    /// Keras `DepthwiseConv2D`, optional bias, then the activation.
    /// in (N,H,W,C) * kernel (KH,KW,C,M) + bias (C*M) -> out (N,OH,OW,C*M)
    /// Output channel `c*M + m` uses input channel `c` and `kernel[:,:,c,m]`.
    /// Accumulates in Double: this is the reference the fast kernel is tested against.
    public static func depthwiseConv2dNaive(
        _ input: UnsafePointer<Float>, window w: Window2D,
        kernel: UnsafePointer<Float>, depthMultiplier: Int = 1,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(depthMultiplier > 0, "depth multiplier \(depthMultiplier)")
        let (H, W, C, M) = (w.height, w.width, w.channels, depthMultiplier)
        let (OH, OW) = (w.outHeight, w.outWidth)
        for n in 0..<w.batch {
            for oh in 0..<OH {
                for ow in 0..<OW {
                    for c in 0..<C {
                        for m in 0..<M {
                            var sum = Double(bias?[c * M + m] ?? 0)
                            for kh in 0..<w.kernelHeight {
                                let ih =
                                    oh * w.strideHeight - w.padding.top + kh * w.dilationHeight
                                if ih < 0 || ih >= H { continue }
                                for kw in 0..<w.kernelWidth {
                                    let iw =
                                        ow * w.strideWidth - w.padding.left + kw * w.dilationWidth
                                    if iw < 0 || iw >= W { continue }
                                    let x = input[((n * H + ih) * W + iw) * C + c]
                                    let k = kernel[((kh * w.kernelWidth + kw) * C + c) * M + m]
                                    sum += Double(x) * Double(k)
                                }
                            }
                            output[((n * OH + oh) * OW + ow) * C * M + c * M + m] =
                                activation(Float(sum))
                        }
                    }
                }
            }
        }
    }

    /// Same result as `depthwiseConv2dNaive`.
    /// in (N,H,W,C) * kernel (KH,KW,C,M) + bias (C*M) -> out (N,OH,OW,C*M)
    /// Depth multiplier 1 (every Keras application) runs `ck_depthwise_conv2d` image by image:
    /// register blocks of 8 pixels × 8 channels (AVX2/FMA) or × 16 (AVX-512) where the CPU has
    /// them (see Sources/CKernels/depthwise.c), relu/relu6 fused into its store, sigmoid/swish
    /// into each row's. Multiplier > 1 stays here:
    /// per output pixel, `out[c*M + m] += x[c] * k[c*M + m]` over the taps inside the input.
    public static func depthwiseConv2d(
        _ input: UnsafePointer<Float>, window w: Window2D,
        kernel: UnsafePointer<Float>, depthMultiplier: Int = 1,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>
    ) {
        depthwiseConv2d(
            input, window: w, kernel: kernel, depthMultiplier: depthMultiplier, bias: bias,
            activation: activation, output: output, body: CK_BODY_AVX512)
    }

    /// `body` caps the C kernel's SIMD body (the widest the CPU has, at most that), so tests
    /// cover the narrower and the portable bodies too.
    static func depthwiseConv2d(
        _ input: UnsafePointer<Float>, window w: Window2D,
        kernel: UnsafePointer<Float>, depthMultiplier: Int = 1,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>, body: ck_body
    ) {
        precondition(depthMultiplier > 0, "depth multiplier \(depthMultiplier)")
        let (H, W, C, M) = (w.height, w.width, w.channels, depthMultiplier)
        let (OH, OW) = (w.outHeight, w.outWidth)
        if M == 1 {
            let fused: ck_activation
            switch activation {
            case .relu: fused = CK_RELU
            case .relu6: fused = CK_RELU6
            case .sigmoid: fused = CK_SIGMOID
            case .swish: fused = CK_SWISH
            default: fused = CK_LINEAR
            }
            let after = fused == CK_LINEAR ? activation : .linear
            let window = w.imageWindow
            for n in 0..<w.batch {
                let out = output + n * OH * OW * C
                ck_depthwise_conv2d_body(
                    input + n * H * W * C, window, kernel, bias, fused, out, body)
                // Hard-swish, gelu, ...: on the image just written (sigmoid/swish were applied
                // on each row by the C kernel).
                after.apply(out, count: OH * OW * C)
            }
            return
        }

        let (KW, dh, dw) = (w.kernelWidth, w.dilationHeight, w.dilationWidth)
        let channelsOut = C * M
        for n in 0..<w.batch {
            let image = input + n * H * W * C
            for oh in 0..<OH {
                let r = w.validRows(oh)
                for ow in 0..<OW {
                    let col = w.validColumns(ow)
                    let out = output + ((n * OH + oh) * OW + ow) * channelsOut
                    // Tap (kh, kw) reads input pixel (r.first + kh*dh, col.first + kw*dw); the
                    // origin offset itself may point into the padding (negative).
                    let origin = (r.first * W + col.first) * C
                    if let bias {
                        out.update(from: bias, count: channelsOut)
                    } else {
                        out.update(repeating: 0, count: channelsOut)
                    }
                    for kh in r.lo..<r.hi {
                        for kw in col.lo..<col.hi {
                            let x = image + (origin + (kh * dh * W + kw * dw) * C)
                            let k = kernel + (kh * KW + kw) * channelsOut
                            for ci in 0..<C {
                                let v = x[ci]
                                for m in 0..<M { out[ci * M + m] += v * k[ci * M + m] }
                            }
                        }
                    }
                    activation.apply(out, count: channelsOut)
                }
            }
        }
    }
}

extension Window2D {
    /// The window over one of its images, as the C kernels take it.
    var imageWindow: ck_window {
        ck_window(
            height: Int32(height), width: Int32(width), channels: Int32(channels),
            kernel_height: Int32(kernelHeight), kernel_width: Int32(kernelWidth),
            stride_height: Int32(strideHeight), stride_width: Int32(strideWidth),
            dilation_height: Int32(dilationHeight), dilation_width: Int32(dilationWidth),
            pad_top: Int32(padding.top), pad_left: Int32(padding.left),
            out_height: Int32(outHeight), out_width: Int32(outWidth))
    }
}
