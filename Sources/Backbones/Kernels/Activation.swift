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
        }
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
