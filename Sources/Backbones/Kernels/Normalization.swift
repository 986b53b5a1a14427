extension Kernels {
    /// Keras `BatchNormalization` at inference, the specification (computed in Double):
    /// `y = (x - mean) / sqrt(variance + eps) * gamma + beta`. A nil gamma (`scale=False`) is 1,
    /// a nil beta (`center=False`) is 0. The fast form is `scaleOffset` with `batchNormAffine`.
    /// x (rows, C), mean/variance/gamma/beta (C) -> out (rows, C)
    public static func batchNormNaive(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int,
        mean: UnsafePointer<Float>, variance: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, epsilon: Float,
        activation: Activation = .linear, output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            for c in 0..<channels {
                let i = r * channels + c
                let std: Double = (Double(variance[c]) + Double(epsilon)).squareRoot()
                let normalized: Double = (Double(x[i]) - Double(mean[c])) / std
                let g: Double = Double(gamma?[c] ?? 1)
                let b: Double = Double(beta?[c] ?? 0)
                let y = normalized * g + b
                output[i] = activation(Float(y))
            }
        }
    }

    /// Batch norm as one per-channel affine map `y = x * scale + shift`, computed in Double and
    /// rounded once: `scale = gamma / sqrt(variance + eps)`, `shift = beta - mean * scale`.
    /// Feed the result to `scaleOffset`. `epsilon` is the Float Keras adds in float32.
    public static func batchNormAffine(
        mean: [Float], variance: [Float], gamma: [Float]?, beta: [Float]?, epsilon: Float
    ) -> (scale: [Float], shift: [Float]) {
        let scale = batchNormScale(variance: variance, gamma: gamma, epsilon: epsilon)
        let shift = (0..<mean.count).map { c -> Float in
            let b: Double = Double(beta?[c] ?? 0)
            return Float(b - Double(mean[c]) * scale[c])
        }
        return (scale.map { Float($0) }, shift)
    }

    /// Folds an inference batch norm into the convolution before it:
    /// `kernel'[..., o] = kernel[..., o] * s[o]`, `bias'[o] = (bias[o] - mean[o]) * s[o] + beta[o]`
    /// with `s = gamma / sqrt(variance + eps)`, computed in Double and rounded once.
    /// The output channel is the kernel's flat index modulo `outputChannels`, which fits both
    /// Conv2D kernels (KH,KW,C/groups,K) with outputChannels = K and DepthwiseConv2D kernels
    /// (KH,KW,C,M) with outputChannels = C*M (output channel c*M + m).
    public static func foldBatchNorm(
        kernel: [Float], outputChannels: Int, bias: [Float]?,
        mean: [Float], variance: [Float], gamma: [Float]?, beta: [Float]?, epsilon: Float
    ) -> (kernel: [Float], bias: [Float]) {
        precondition(
            outputChannels > 0 && kernel.count % outputChannels == 0
                && mean.count == outputChannels && variance.count == outputChannels,
            "kernel of \(kernel.count) floats, \(outputChannels) output channels, "
                + "batch norm of \(mean.count)")
        let scale = batchNormScale(variance: variance, gamma: gamma, epsilon: epsilon)
        let folded = kernel.indices.map { i in
            Float(Double(kernel[i]) * scale[i % outputChannels])
        }
        let foldedBias = (0..<outputChannels).map { o -> Float in
            let b: Double = Double(bias?[o] ?? 0)
            let shift: Double = Double(beta?[o] ?? 0)
            return Float((b - Double(mean[o])) * scale[o] + shift)
        }
        return (folded, foldedBias)
    }

    private static func batchNormScale(
        variance: [Float], gamma: [Float]?, epsilon: Float
    )
        -> [Double]
    {
        precondition(gamma == nil || gamma!.count == variance.count, "gamma/variance sizes")
        return variance.indices.map { c -> Double in
            let g: Double = Double(gamma?[c] ?? 1)
            return g / (Double(variance[c]) + Double(epsilon)).squareRoot()
        }
    }

    /// Keras `LayerNormalization` over the last axis, the specification (computed in Double):
    /// `y = (x - mean) / sqrt(var + eps) * gamma + beta`, mean and biased variance over C.
    /// x (rows, C), gamma/beta (C) -> out (rows, C)
    public static func layerNormNaive(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int,
        gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, epsilon: Float,
        output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let row = x + r * channels
            var mean = 0.0
            for c in 0..<channels { mean += Double(row[c]) }
            mean /= Double(channels)
            var variance = 0.0
            for c in 0..<channels { variance += (Double(row[c]) - mean) * (Double(row[c]) - mean) }
            variance /= Double(channels)
            for c in 0..<channels {
                let normalized: Double =
                    (Double(row[c]) - mean) / (variance + Double(epsilon)).squareRoot()
                let g: Double = Double(gamma?[c] ?? 1)
                let b: Double = Double(beta?[c] ?? 0)
                let y = normalized * g + b
                output[r * channels + c] = Float(y)
            }
        }
    }

    /// Same result as `layerNormNaive`, in the order Keras computes it in float32
    /// (`keras/src/ops/nn.py _layer_normalization`): `inv = rsqrt(var + eps) * gamma`,
    /// `y = x * inv + (-mean * inv + beta)`, so the rounding follows Keras' rather than the
    /// textbook `(x - mean) * inv`.
    /// x (rows, C), gamma/beta (C) -> out (rows, C); `output` may equal `x`.
    /// Trick: the two row reductions (`tf.nn.moments`: the mean, then the mean squared deviation
    /// from the float32 mean) accumulate in Double, which is cheap and leaves only the final
    /// rounding of each statistic; the per-element pass is Float.
    public static func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int,
        gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?, epsilon: Float,
        output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let (src, dst) = (x + r * channels, output + r * channels)
            var sum = 0.0
            for c in 0..<channels { sum += Double(src[c]) }
            let mean = Float(sum / Double(channels))
            var squares = 0.0
            for c in 0..<channels {
                let d = Double(src[c]) - Double(mean)
                squares += d * d
            }
            let variance = Float(squares / Double(channels))
            let inverseStd = 1 / (variance + epsilon).squareRoot()
            switch (gamma, beta) {
            case (let g?, let b?):
                for c in 0..<channels {
                    let scale = inverseStd * g[c]
                    dst[c] = src[c] * scale + (-mean * scale + b[c])
                }
            default:
                for c in 0..<channels {
                    let scale = inverseStd * (gamma?[c] ?? 1)
                    dst[c] = src[c] * scale + (-mean * scale + (beta?[c] ?? 0))
                }
            }
        }
    }
}
