import WeightLoader

// The planner turns a `Graph` with bound weights into the steps `CompiledGraph` runs, as a
// list of named passes run in a stated order (ONNX Runtime's graph transformers: one file, one
// rule, its own test). `LowerNodes` gives one draft step per needed node; the optimizing passes
// fold and fuse draft steps; the lowering passes after them give every step its final kernel
// and every value its arena slot.

/// One rule applied to the whole draft plan.
protocol PlannerPass: Sendable {
    /// The pass's name, as its file is named.
    var name: String { get }
    func apply(to plan: inout PlanDraft) throws
}

enum Planner {
    /// The optimizations, in the order they run. Padding and gate folds look at the step
    /// after them; BN, LayerScale and activation folds look at the step after a convolution,
    /// in that order (Keras' conv → BN → [LayerScale] → activation), so each sees the folds
    /// before it.
    static let optimizations: [PlannerPass] = [
        FoldZeroPadding(), FoldSqueezeExciteGate(), FoldBatchNorm(), FoldLayerScale(),
        FuseActivation(),
    ]

    /// What every plan needs whatever was optimized: affine layers as scale-and-offset steps,
    /// convolution kernels packed for their algorithm and windows resolved.
    static let lowerings: [PlannerPass] = [LowerAffine(), LowerConvolutions()]

    /// The steps and arena slots for `graph`; `optimizations` replaces the default list (a
    /// pass's test runs it alone).
    static func plan(
        _ graph: Graph, weights: BoundWeights, options: CompiledGraph.Options,
        optimizations: [PlannerPass] = Planner.optimizations
    ) throws -> (steps: [CompiledGraph.Step], arena: Arena) {
        var draft = try PlanDraft(graph: graph, weights: weights, options: options)
        for pass in optimizations + lowerings { try pass.apply(to: &draft) }
        let steps = try draft.finalSteps()
        return (steps, Arena.assign(steps, graph: graph))
    }
}

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

/// The plan being built: the graph, its readers, the weights and the draft steps.
struct PlanDraft {
    let graph: Graph
    let options: CompiledGraph.Options
    let weights: WeightSource
    var steps: [DraftStep] = []
    /// Readers of each node in the whole graph (computed or not).
    private let readers: [[NodeID]]
    /// The step lowered from each node.
    private var stepOfNode: [NodeID: Int] = [:]

    init(graph: Graph, weights: BoundWeights, options: CompiledGraph.Options) throws {
        self.graph = graph
        self.options = options
        self.weights = WeightSource(weights: weights, graph: graph)
        var readers = [[NodeID]](repeating: [], count: graph.nodes.count)
        for n in graph.nodes { for i in n.inputs { readers[i].append(n.id) } }
        self.readers = readers
        steps = try LowerNodes.lower(graph, weights: self.weights)
        for (k, step) in steps.enumerated() { stepOfNode[step.head] = k }
    }

    /// The node that alone reads `id`, nil when several do or `id` is a graph output (an
    /// output is read by the caller, so it is never fused away).
    func soleReader(_ id: NodeID) -> GraphNode? {
        guard !graph.outputNodes.contains(id), readers[id].count == 1 else { return nil }
        return graph.nodes[readers[id][0]]
    }

    /// The index of the live step lowered from `node`.
    func step(of node: NodeID) -> Int? {
        guard let k = stepOfNode[node], !steps[k].removed else { return nil }
        return k
    }

    /// The live step that alone reads step `k`'s output, when it is the step lowered from that
    /// reader node.
    func soleReaderStep(of k: Int) -> Int? {
        soleReader(steps[k].output).flatMap { step(of: $0.id) }
    }

    /// Step `k` takes over step `follower` (which reads only its output): `follower` is
    /// dropped and its layers and output become `k`'s.
    mutating func absorb(_ follower: Int, into k: Int) {
        steps[follower].removed = true
        steps[k].layers += steps[follower].layers
        steps[k].output = steps[follower].output
    }

    /// The plan's steps once every draft is lowered.
    func finalSteps() throws -> [CompiledGraph.Step] {
        try steps.filter { !$0.removed }.map { draft in
            guard case .ready(let kind) = draft.kind else {
                throw GraphError.badGraph(
                    layer: draft.layers[0], detail: "the planner left the step unlowered")
            }
            var step = CompiledGraph.Step(
                kind: kind, inputs: draft.inputs, output: draft.output,
                layers: draft.layers + draft.foldedBefore)
            step.window = Self.window(of: kind, input: draft.inputs.first.map { graph.shape($0) })
            return step
        }
    }

    /// The window of a convolution or pool step over its (first) input.
    static func window(of kind: CompiledGraph.Step.Kind, input: FeatureShape?) -> Window2D? {
        guard let s = input else { return nil }
        switch kind {
        case .conv(let p, _, _), .winograd(let p, _, _, _), .gatedPointwise(let p, _, _):
            return Graph.window(
                s, batch: 1, kernel: p.kernel, strides: p.strides, dilation: p.dilation, padding: p.padding)
        case .depthwise(let p, _, _):
            return Graph.window(
                s, batch: 1, kernel: p.kernel, strides: p.strides, dilation: p.dilation, padding: p.padding)
        case .separable(let p, _, _, _):
            return Graph.window(
                s, batch: 1, kernel: p.kernel, strides: p.strides, dilation: p.dilation, padding: p.padding)
        case .maxPool(let p), .averagePool(let p):
            return Graph.window(s, batch: 1, kernel: p.pool, strides: p.strides, dilation: (1, 1), padding: p.padding)
        default:
            return nil
        }
    }
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
