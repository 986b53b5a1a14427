/// A step while the planner works on it: either its final kind already, or a layer whose
/// weights a later pass may still fold into (a convolution with its unpacked kernel, a batch
/// norm with its statistics, a LayerScale with its gamma).
struct DraftStep {
    enum Kind {
        case ready(CompiledGraph.Step.Kind)
        /// `kernel` (KH, KW, C/groups, K) as Keras stores it.
        case conv(Conv2DParams, kernel: [Float], bias: [Float]?)
        /// `pointwise` (1, 1, C*M, K) as Keras stores it.
        case separable(SeparableConv2DParams, depthwise: [Float], pointwise: [Float], bias: [Float]?)
        case batchNorm(BatchNormStats, epsilon: Float, activation: Activation)
        case layerScale(gamma: [Float], activation: Activation)
    }

    var kind: Kind
    /// The node the step was lowered from.
    let head: NodeID
    var inputs: [NodeID]
    var output: NodeID
    /// The head and the layers folded after it, in graph order.
    var layers: [String]
    /// Layers folded from before the step (a zero padding, a squeeze-excite multiply); the
    /// step lists them after `layers`.
    var foldedBefore: [String] = []
    /// A squeeze-excite multiply folded into this 1×1 convolution: its map and gate.
    var gate: (map: NodeID, gate: NodeID)?
    /// Folded into another step; dropped from the plan.
    var removed = false
}

struct BatchNormStats {
    var mean: [Float]
    var variance: [Float]
    var gamma: [Float]?
    var beta: [Float]?
}

extension DraftStep.Kind {
    /// A convolution or Dense without an activation of its own: its kernel, bias and output
    /// channels, into which a following BN or LayerScale folds (the kernel's flat index modulo
    /// `channels` is the output channel; a separable layer's pointwise half).
    var linearKernel: (kernel: [Float], bias: [Float]?, channels: Int)? {
        switch self {
        case .conv(let p, let k, let b) where p.activation == .linear: return (k, b, p.filters)
        case .separable(let p, _, let k, let b) where p.activation == .linear: return (k, b, p.filters)
        case .ready(.depthwise(let p, let k, let b)) where p.activation == .linear:
            return (k, b, k.count / (p.kernel.0 * p.kernel.1))
        case .ready(.dense(let units, let k, let b, .linear)): return (k, b, units)
        default: return nil
        }
    }

    /// Replaces the kernel and bias `linearKernel` gave (a fold may add a bias).
    mutating func setLinearKernel(_ kernel: [Float], bias: [Float]?) {
        switch self {
        case .conv(var p, _, _):
            p.useBias = bias != nil
            self = .conv(p, kernel: kernel, bias: bias)
        case .separable(var p, let d, _, _):
            p.useBias = bias != nil
            self = .separable(p, depthwise: d, pointwise: kernel, bias: bias)
        case .ready(.depthwise(var p, _, _)):
            p.useBias = bias != nil
            self = .ready(.depthwise(p, kernel: kernel, bias: bias))
        case .ready(.dense(let units, _, _, let a)):
            self = .ready(.dense(units: units, kernel: kernel, bias: bias, activation: a))
        default:
            preconditionFailure("setLinearKernel on a step without a kernel")
        }
    }

    /// The activation a step runs value by value in its epilogue, for the steps that have one.
    var epilogueActivation: Activation? {
        switch self {
        case .conv(let p, _, _): return p.activation
        case .separable(let p, _, _, _): return p.activation
        case .ready(.depthwise(let p, _, _)): return p.activation
        case .ready(.dense(_, _, _, let a)): return a
        case .batchNorm(_, _, let a), .layerScale(_, let a): return a
        case .ready(.scaleOffset(_, _, let a)), .ready(.add(let a)), .ready(.scaledAdd(_, let a)): return a
        default: return nil
        }
    }

    /// Whether the epilogue normalizes whole rows, so softmax can run there (Dense only).
    var epilogueTakesRows: Bool {
        if case .ready(.dense) = self { return true }
        return false
    }

    mutating func setEpilogueActivation(_ a: Activation) {
        switch self {
        case .conv(var p, let k, let b):
            p.activation = a
            self = .conv(p, kernel: k, bias: b)
        case .separable(var p, let d, let k, let b):
            p.activation = a
            self = .separable(p, depthwise: d, pointwise: k, bias: b)
        case .ready(.depthwise(var p, let k, let b)):
            p.activation = a
            self = .ready(.depthwise(p, kernel: k, bias: b))
        case .ready(.dense(let units, let k, let b, _)):
            self = .ready(.dense(units: units, kernel: k, bias: b, activation: a))
        case .batchNorm(let stats, let eps, _): self = .batchNorm(stats, epsilon: eps, activation: a)
        case .layerScale(let g, _): self = .layerScale(gamma: g, activation: a)
        case .ready(.scaleOffset(let s, let o, _)): self = .ready(.scaleOffset(scale: s, offset: o, activation: a))
        case .ready(.add): self = .ready(.add(a))
        case .ready(.scaledAdd(let scale, _)): self = .ready(.scaledAdd(scale: scale, activation: a))
        default:
            preconditionFailure("setEpilogueActivation on a step without an epilogue")
        }
    }
}
