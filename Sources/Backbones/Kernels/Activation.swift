import CKernels
import Foundation

/// Elementwise activations as Keras defines them (keras/src/activations/activations.py).
/// Hard sigmoid/swish are written as MobileNetV3 writes them; Keras's own `x/6 + 0.5` clipped
/// form is the same function and can differ from it in the last bit only.
public enum Activation: Equatable, Sendable {
    case linear
    case relu
    /// `min(max(x, 0), 6)`, Keras `ReLU(6.0)`.
    case relu6
    /// `1 / (1 + exp(-x))`.
    case sigmoid
    /// `x * sigmoid(x)` (Keras "swish" / "silu").
    case swish
    /// `relu6(x + 3) / 6`.
    case hardSigmoid
    /// `x * relu6(x + 3) / 6` (Keras "hard_swish" / "hard_silu").
    case hardSwish
    /// Exact GELU, `0.5 * x * (1 + erf(x / sqrt(2)))` (Keras `Activation("gelu")`), written
    /// as TensorFlow's `tf.nn.gelu(approximate=False)` does: `0.5 * x * erfc(-x * 0.70710677)`,
    /// which keeps its relative precision for large negative x where `1 + erf` cancels.
    case gelu
    case tanh
    /// `exp(x - max) / sum(exp(x - max))` over the last axis (the classifier's
    /// `Dense(classes, activation="softmax")` and `Activation("softmax")`). Not elementwise:
    /// only `apply(_:rows:channels:)` computes it, and only Dense steps and standalone
    /// activation steps run it (`Graph.add` refuses it elsewhere).
    case softmax
    /// `x > 0 ? x : alpha * (exp(x) - 1)`: TensorFlow's Elu kernel (`exp(x) - 1`, not expm1)
    /// and Keras 3's `tf.where(x > 0, elu, alpha * elu)` for alpha != 1.
    case elu(alpha: Float)
    /// `x < 0 ? scaleAlpha * (exp(x) - 1) : scale * x`, TensorFlow's Selu kernel with its two
    /// float constants (scale·alpha precomputed, not a product of two roundings).
    case selu
    /// `x > 0 ? x : x * slope` (TensorFlow's LeakyRelu kernel; Keras `LeakyReLU`).
    case leakyRelu(slope: Float)
    /// TensorFlow's Softplus kernel: `x` above `-t`, `exp(x)` below `t`, else `log1p(exp(x))`,
    /// with `t = log(float epsilon) + 2`.
    case softplus
    /// `x / (|x| + 1)`.
    case softsign
    /// `exp(x)`.
    case exponential
    /// Keras `ReLU(max_value, negative_slope, threshold)` in its general form, in Keras' order
    /// (`keras.activations.relu` / tf-keras `backend.relu`): `x * (x > threshold)` (or
    /// relu / relu6), clipped to `[0, maxValue]`, minus `negativeSlope * relu(threshold - x)`.
    case reluClipped(maxValue: Float?, negativeSlope: Float, threshold: Float)
    /// tf-keras 2's `hard_sigmoid`: `clip(0.2 * x + 0.5, 0, 1)` (Keras 3's is `.hardSigmoid`).
    case hardSigmoidLegacy
    /// `x * tanh(softplus(x))` (Keras 3 `mish`).
    case mish

    /// TensorFlow's Selu constants.
    static let seluScale: Float = 1.0507009873554804934193349852946
    static let seluScaleAlpha: Float = 1.7580993408473768599402175208123
    /// Softplus' switch point, `log(epsilon) + 2` in float (TensorFlow's `threshold`).
    static let softplusThreshold: Float = Foundation.log(Float.ulpOfOne) + 2

    /// Whether the activation maps each value on its own (all but softmax).
    public var isElementwise: Bool { self != .softmax }

    /// The activation of one value; the specification `apply` follows.
    @inline(__always)
    public func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .linear: return x
        case .relu: return max(x, 0)
        case .relu6: return min(max(x, 0), 6)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .swish: return x * (1 / (1 + Foundation.exp(-x)))
        case .hardSigmoid: return min(max(x + 3, 0), 6) / 6
        case .hardSwish: return x * (min(max(x + 3, 0), 6) / 6)
        case .gelu: return 0.5 * x * Foundation.erfc(-x * Float(0.7071067811865476))
        case .tanh: return Foundation.tanh(x)
        case .softmax: preconditionFailure("softmax normalizes a row; use apply(_:rows:channels:)")
        case .elu(let alpha):
            let e = x < 0 ? Foundation.exp(x) - 1 : x
            return alpha == 1 || x > 0 ? e : alpha * e
        case .selu: return x < 0 ? Activation.seluScaleAlpha * (Foundation.exp(x) - 1) : Activation.seluScale * x
        case .leakyRelu(let slope): return x > 0 ? x : x * slope
        case .softplus: return Activation.softplus(x)
        case .softsign: return x / (abs(x) + 1)
        case .exponential: return Foundation.exp(x)
        case .reluClipped(let maxValue, let negativeSlope, let threshold):
            return Activation.relu(x, maxValue: maxValue, negativeSlope: negativeSlope, threshold: threshold)
        case .hardSigmoidLegacy: return min(max(x * 0.2 + 0.5, 0), 1)
        case .mish: return x * Foundation.tanh(Activation.softplus(x))
        }
    }

    @inline(__always)
    static func softplus(_ x: Float) -> Float {
        if x > -softplusThreshold { return x }
        let e = Foundation.exp(x)
        return x < softplusThreshold ? e : Foundation.log1p(e)
    }

    /// Keras 3 `ReLU.static_call` (tf-keras `backend.relu` is the same), step by step.
    @inline(__always)
    static func relu(_ x: Float, maxValue: Float?, negativeSlope: Float, threshold: Float) -> Float {
        if negativeSlope != 0, maxValue == nil, threshold == 0 { return x > 0 ? x : x * negativeSlope }
        var y: Float
        var clip = maxValue != nil
        if threshold != 0 {
            y = x * (x > threshold ? 1 : 0)
        } else if maxValue == 6 {
            y = min(max(x, 0), 6)
            clip = false
        } else {
            y = max(x, 0)
        }
        if clip, let maxValue { y = min(max(y, 0), maxValue) }
        if negativeSlope != 0 {
            let negativePart = max(threshold != 0 ? -x + threshold : -x, 0)
            y -= negativeSlope * negativePart
        }
        return y
    }

    /// Applies the activation in place to `count` contiguous floats.
    public func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        // One loop per case so the switch is outside the loop and relu/relu6 vectorize.
        switch self {
        case .linear:
            return
        case .relu:
            for i in 0..<count { x[i] = max(x[i], 0) }
        case .relu6:
            for i in 0..<count { x[i] = min(max(x[i], 0), 6) }
        case .sigmoid:
            ck_apply_activation(CK_SIGMOID, x, count, CK_BODY_AVX512)
        case .swish:
            ck_apply_activation(CK_SWISH, x, count, CK_BODY_AVX512)
        case .hardSigmoid:
            for i in 0..<count { x[i] = min(max(x[i] + 3, 0), 6) / 6 }
        case .hardSwish:
            for i in 0..<count { x[i] = x[i] * (min(max(x[i] + 3, 0), 6) / 6) }
        case .gelu:
            let invSqrt2 = Float(0.7071067811865476)
            for i in 0..<count { x[i] = 0.5 * x[i] * Foundation.erfc(-x[i] * invSqrt2) }
        case .tanh:
            for i in 0..<count { x[i] = Foundation.tanh(x[i]) }
        case .softmax:
            preconditionFailure("softmax normalizes a row; use apply(_:rows:channels:)")
        case .elu, .selu, .leakyRelu, .softplus, .softsign, .exponential, .reluClipped,
            .hardSigmoidLegacy, .mish:
            // The rarer activations of saved models: the scalar definition, value by value.
            for i in 0..<count { x[i] = self(x[i]) }
        }
    }

    /// Applies the activation in place to `rows` rows of `channels` floats; softmax normalizes
    /// each row, the others are elementwise.
    public func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, channels: Int) {
        if self == .softmax {
            Kernels.softmax(x, rows: rows, channels: channels, output: x)
        } else {
            apply(x, count: rows * channels)
        }
    }
}

extension Kernels {
    /// Adds a per-channel bias and applies the activation, in place.
    /// x (rows, C) += bias (C); then activation.
    public static func biasActivation(
        _ x: UnsafeMutablePointer<Float>, rows: Int, channels: Int,
        bias: UnsafePointer<Float>?, activation: Activation
    ) {
        if let bias {
            for r in 0..<rows {
                let row = x + r * channels
                for c in 0..<channels { row[c] += bias[c] }
            }
        }
        activation.apply(x, rows: rows, channels: channels)
    }

    /// Softmax over the last axis, the specification (computed in Double):
    /// `exp(x - max) / sum(exp(x - max))` per row.
    /// in (rows, C) -> out (rows, C); `output` may equal `input`.
    public static func softmaxNaive(
        _ input: UnsafePointer<Float>, rows: Int, channels: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let x = input + r * channels
            let maximum = Double((0..<channels).map { x[$0] }.max() ?? 0)
            let e = (0..<channels).map { Foundation.exp(Double(x[$0]) - maximum) }
            let sum = e.reduce(0, +)
            for c in 0..<channels { output[r * channels + c] = Float(e[c] / sum) }
        }
    }

    /// Same as `softmaxNaive`, in Float and in TensorFlow's order (max-subtracted exp, row sum,
    /// divide), so the probabilities round as Keras' do.
    /// in (rows, C) -> out (rows, C); `output` may equal `input`.
    public static func softmax(
        _ input: UnsafePointer<Float>, rows: Int, channels: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let x = input + r * channels
            let y = output + r * channels
            var maximum = -Float.infinity
            for c in 0..<channels { maximum = max(maximum, x[c]) }
            var sum: Float = 0
            for c in 0..<channels {
                y[c] = Foundation.exp(x[c] - maximum)
                sum += y[c]
            }
            for c in 0..<channels { y[c] /= sum }
        }
    }
}
