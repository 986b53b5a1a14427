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
