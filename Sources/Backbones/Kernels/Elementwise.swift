// Elementwise kernels. Each is one pass over contiguous memory, which is already the fast form,
// so there is no separate naive version; `output` may alias any input (but for
// `reverseChannels`).

extension Kernels {
    /// Keras `Add`: `((x0 + x1) + x2) + ...` in input order, then the activation (ResNet's
    /// `Add` + ReLU fused).
    /// n inputs (count) -> out (count)
    public static func add(
        _ inputs: [UnsafePointer<Float>], count: Int, activation: Activation = .linear,
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(inputs.count >= 2, "add needs at least two inputs")
        let (a, b) = (inputs[0], inputs[1])
        for i in 0..<count { output[i] = a[i] + b[i] }
        for x in inputs.dropFirst(2) {
            for i in 0..<count { output[i] += x[i] }
        }
        activation.apply(output, count: count)
    }

    /// Keras `Subtract`: `a - b`.
    /// a (count), b (count) -> out (count)
    public static func subtract(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count { output[i] = a[i] - b[i] }
    }

    /// Keras `Average` as it computes: `((x0 + x1) + x2 + ...) / n`, the sum in input order
    /// and one float division by the count (keras/src/layers/merging/average.py; tf-keras's is
    /// the same), so the bits equal Keras' and not those of `x0/n + x1/n + ...`.
    /// n inputs (count) -> out (count)
    public static func average(
        _ inputs: [UnsafePointer<Float>], count: Int, output: UnsafeMutablePointer<Float>
    ) {
        add(inputs, count: count, output: output)
        let n = Float(inputs.count)
        for i in 0..<count { output[i] /= n }
    }

    /// Keras `Maximum`: the largest of the inputs, value by value.
    /// n inputs (count) -> out (count)
    public static func maximum(
        _ inputs: [UnsafePointer<Float>], count: Int, output: UnsafeMutablePointer<Float>
    ) {
        precondition(inputs.count >= 2, "maximum needs at least two inputs")
        let (a, b) = (inputs[0], inputs[1])
        for i in 0..<count { output[i] = max(a[i], b[i]) }
        for x in inputs.dropFirst(2) {
            for i in 0..<count { output[i] = max(output[i], x[i]) }
        }
    }

    /// Keras `Minimum`: the smallest of the inputs, value by value.
    /// n inputs (count) -> out (count)
    public static func minimum(
        _ inputs: [UnsafePointer<Float>], count: Int, output: UnsafeMutablePointer<Float>
    ) {
        precondition(inputs.count >= 2, "minimum needs at least two inputs")
        let (a, b) = (inputs[0], inputs[1])
        for i in 0..<count { output[i] = min(a[i], b[i]) }
        for x in inputs.dropFirst(2) {
            for i in 0..<count { output[i] = min(output[i], x[i]) }
        }
    }

    /// A tensor and a constant (`ConstantArithmetic`): `x + c`, `x / c`, `c - x`, ... with `c`
    /// one value for all, or one per channel. Each float operation is the one TensorFlow runs
    /// (a division divides), so the bits equal `tf.math.truediv(x, 127.5)` and the like.
    /// x (rows, C) op c (1 or C) -> out (rows, C)
    public static func constantArithmetic(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int, _ op: ConstantArithmetic,
        output: UnsafeMutablePointer<Float>
    ) {
        precondition(
            op.values.count == 1 || op.values.count == channels,
            "\(op.values.count) constants for \(channels) channels")
        op.values.withUnsafeBufferPointer { v in
            let c = v.baseAddress!
            let stride = op.values.count == 1 ? 0 : 1
            // One loop per kind: the closure is inlined, the switch stays outside the loops.
            @inline(__always)
            func each(_ f: (Float, Float) -> Float) {
                for r in 0..<rows {
                    let (src, dst) = (x + r * channels, output + r * channels)
                    for ch in 0..<channels { dst[ch] = f(src[ch], c[ch * stride]) }
                }
            }
            switch op.kind {
            case .add: each { $0 + $1 }
            case .subtract: each { $0 - $1 }
            case .reverseSubtract: each { $1 - $0 }
            case .multiply: each { $0 * $1 }
            case .divide: each { $0 / $1 }
            case .reverseDivide: each { $1 / $0 }
            case .maximum: each { max($0, $1) }
            case .minimum: each { min($0, $1) }
            }
        }
    }

    /// `x[..., ::-1]`: each row's channels in reverse order (RGB to BGR). `output` must not
    /// alias `x`.
    /// x (rows, C) -> out (rows, C)
    public static func reverseChannels(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int, output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let (src, dst) = (x + r * channels, output + r * channels)
            for ch in 0..<channels { dst[ch] = src[channels - 1 - ch] }
        }
    }

    /// `x + residual * scale`, then the activation (InceptionResNetV2's scaled residual Lambda,
    /// `inputs[0] + inputs[1] * scale`).
    /// x (count), residual (count) -> out (count)
    public static func scaledAdd(
        _ x: UnsafePointer<Float>, _ residual: UnsafePointer<Float>, scale: Float, count: Int,
        activation: Activation = .linear, output: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<count { output[i] = x[i] + residual[i] * scale }
        activation.apply(output, count: count)
    }

    /// Squeeze-and-excite `Multiply`: each pixel's channels times that image's gate.
    /// x (N,H,W,C) * gate (N,1,1,C) -> out (N,H,W,C)
    public static func multiplyChannels(
        _ x: UnsafePointer<Float>, batch: Int, pixels: Int, channels: Int,
        gate: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        for n in 0..<batch {
            let g = gate + n * channels
            for p in 0..<pixels {
                let offset = (n * pixels + p) * channels
                for c in 0..<channels { output[offset + c] = x[offset + c] * g[c] }
            }
        }
    }

    /// Per-channel `x * scale + offset`, then the activation: Keras `Rescaling`, `LayerScale`
    /// (no offset), and inference batch norm with coefficients from `batchNormAffine`.
    /// A nil scale is 1 and a nil offset 0.
    /// x (rows, C) -> out (rows, C)
    public static func scaleOffset(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int,
        scale: UnsafePointer<Float>?, offset: UnsafePointer<Float>?,
        activation: Activation = .linear, output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let (src, dst) = (x + r * channels, output + r * channels)
            switch (scale, offset) {
            case (let s?, let o?): for c in 0..<channels { dst[c] = src[c] * s[c] + o[c] }
            case (let s?, nil): for c in 0..<channels { dst[c] = src[c] * s[c] }
            case (nil, let o?): for c in 0..<channels { dst[c] = src[c] + o[c] }
            case (nil, nil):
                if dst != UnsafeMutablePointer(mutating: src) {
                    dst.update(from: src, count: channels)
                }
            }
        }
        activation.apply(output, count: rows * channels)
    }

    /// Keras `Normalization` as it computes: `(x - mean) / divisor` per channel, where the
    /// caller passes `divisor = max(sqrt(variance), 1e-7)`.
    /// x (rows, C) -> out (rows, C)
    public static func subtractDivide(
        _ x: UnsafePointer<Float>, rows: Int, channels: Int,
        subtract: UnsafePointer<Float>, divide: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let (src, dst) = (x + r * channels, output + r * channels)
            for c in 0..<channels { dst[c] = (src[c] - subtract[c]) / divide[c] }
        }
    }

    /// A weight matrix times a per-column factor, in place: LayerScale folded into the layer
    /// before it. Column `o` is the flat index modulo `scale.count`, which fits Dense (IN, OUT)
    /// and Conv2D (KH, KW, C, K) kernels and a bias.
    /// matrix (rows, K) * scale (K) -> matrix (rows, K)
    static func scaleColumns(_ matrix: inout [Float], by scale: [Float]) {
        let k = scale.count
        precondition(k > 0 && matrix.count % k == 0, "\(matrix.count) floats, \(k) columns")
        matrix.withUnsafeMutableBufferPointer { m in
            scale.withUnsafeBufferPointer { s in
                let (p, g) = (m.baseAddress!, s.baseAddress!)
                for row in 0..<(m.count / k) {
                    let r = p + row * k
                    for c in 0..<k { r[c] *= g[c] }
                }
            }
        }
    }
}
