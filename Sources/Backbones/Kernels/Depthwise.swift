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
    /// Trick: in NHWC a pixel's channels are contiguous in the input, the kernel and the output,
    /// so each output pixel is accumulated 8 channels at a time in a SIMD8 register over only
    /// the taps that fall inside the input (no padded copy, no bounds test per tap).
    public static func depthwiseConv2d(
        _ input: UnsafePointer<Float>, window w: Window2D,
        kernel: UnsafePointer<Float>, depthMultiplier: Int = 1,
        bias: UnsafePointer<Float>?, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(depthMultiplier > 0, "depth multiplier \(depthMultiplier)")
        let (H, W, C, M) = (w.height, w.width, w.channels, depthMultiplier)
        let (OH, OW) = (w.outHeight, w.outWidth)
        let (KW, dh, dw) = (w.kernelWidth, w.dilationHeight, w.dilationWidth)
        let channelsOut = C * M
        let vectorEnd = M == 1 ? C - C % 8 : 0
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
                    var c = 0
                    while c < vectorEnd {
                        var sum = bias.map { load8($0 + c) } ?? SIMD8<Float>()
                        for kh in r.lo..<r.hi {
                            let x = image + (origin + kh * dh * W * C + c)
                            let k = kernel + kh * KW * C + c
                            for kw in col.lo..<col.hi {
                                sum += load8(x + kw * dw * C) * load8(k + kw * C)
                            }
                        }
                        store8(sum, out + c)
                        c += 8
                    }
                    if M == 1 {
                        while c < C {
                            var sum = bias?[c] ?? 0
                            for kh in r.lo..<r.hi {
                                for kw in col.lo..<col.hi {
                                    sum +=
                                        image[origin + (kh * dh * W + kw * dw) * C + c]
                                        * kernel[(kh * KW + kw) * C + c]
                                }
                            }
                            out[c] = sum
                            c += 1
                        }
                    } else {
                        // Depth multiplier > 1: out[c*M + m] += x[c] * k[c*M + m], the inner
                        // loop over m contiguous in kernel and output.
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
                    }
                    activation.apply(out, count: channelsOut)
                }
            }
        }
    }
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
