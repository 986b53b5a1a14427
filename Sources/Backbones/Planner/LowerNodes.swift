// The first pass: one draft step per node the outputs depend on, in node order, with the
// node's weights read and checked. Layers that later passes may fold keep their raw weights
// (a convolution's Keras kernel, a batch norm's statistics); the rest get their final kind.

enum LowerNodes {
    static func lower(_ graph: Graph, weights: WeightSource) throws -> [DraftStep] {
        // Only nodes an output depends on are computed.
        var needed = Set<NodeID>(graph.outputNodes)
        for n in graph.nodes.reversed() where needed.contains(n.id) { needed.formUnion(n.inputs) }
        return try graph.nodes.filter { needed.contains($0.id) }.map { node in
            DraftStep(
                kind: try kind(node, graph: graph, weights: weights), head: node.id,
                inputs: node.inputs, output: node.id, layers: [node.name])
        }
    }

    private static func kind(_ node: GraphNode, graph: Graph, weights: WeightSource) throws -> DraftStep.Kind {
        let ins = node.inputs.map { graph.shape($0) }
        switch node.op {
        case .input:
            return .ready(.copyInput)
        case .conv2d(let p):
            let s = ins[0]
            let kernel = try weights.array(
                node.name, ["kernel"], shape: [p.kernel.0, p.kernel.1, s.channels / p.groups, p.filters])
            let bias = p.useBias ? try weights.array(node.name, ["bias"], shape: [p.filters]) : nil
            return .conv(p, kernel: kernel, bias: bias)
        case .depthwiseConv2d(let p):
            let s = ins[0]
            let kernel = try weights.array(
                node.name, ["kernel", "depthwise_kernel"],
                shape: [p.kernel.0, p.kernel.1, s.channels, p.depthMultiplier])
            let bias = p.useBias
                ? try weights.array(node.name, ["bias"], shape: [s.channels * p.depthMultiplier]) : nil
            return .ready(.depthwise(p, kernel: kernel, bias: bias))
        case .separableConv2d(let p):
            let s = ins[0]
            let depthwise = try weights.array(
                node.name, ["depthwise_kernel"], shape: [p.kernel.0, p.kernel.1, s.channels, p.depthMultiplier])
            let pointwise = try weights.array(
                node.name, ["pointwise_kernel"], shape: [1, 1, s.channels * p.depthMultiplier, p.filters])
            let bias = p.useBias ? try weights.array(node.name, ["bias"], shape: [p.filters]) : nil
            return .separable(p, depthwise: depthwise, pointwise: pointwise, bias: bias)
        case .dense(let units, let useBias, let activation):
            let kernel = try weights.array(node.name, ["kernel"], shape: [ins[0].channels, units])
            let bias = useBias ? try weights.array(node.name, ["bias"], shape: [units]) : nil
            return .ready(.dense(units: units, kernel: kernel, bias: bias, activation: activation))
        case .batchNorm(let eps, let scale, let center):
            let stats = try weights.batchNorm(node.name, channels: ins[0].channels, scale: scale, center: center)
            return .batchNorm(stats, epsilon: eps, activation: .linear)
        case .layerNormalization(let eps):
            let c = [ins[0].channels]
            return .ready(.layerNorm(
                epsilon: eps, gamma: try weights.array(node.name, ["gamma"], shape: c),
                beta: try weights.array(node.name, ["beta"], shape: c)))
        case .layerScale:
            return .layerScale(gamma: try weights.soleArray(node.name, shape: [ins[0].channels]), activation: .linear)
        case .rescaling(let scale, let offset):
            let c = ins[0].channels
            return .ready(.scaleOffset(
                scale: [Float](repeating: scale, count: c), offset: [Float](repeating: offset, count: c),
                activation: .linear))
        case .channelRescaling(let scale, let offset):
            return .ready(.scaleOffset(scale: scale, offset: offset, activation: .linear))
        case .normalization(let mean, let variance):
            // Not folded into a scale and offset: Keras subtracts, then divides, in float32.
            let c = ins[0].channels
            let m = try mean ?? weights.array(node.name, ["mean"], shape: [c])
            let v = try variance ?? weights.array(node.name, ["variance"], shape: [c])
            return .ready(.subtractDivide(subtract: m, divide: v.map { max($0.squareRoot(), 1e-7) }))
        case .reshape, .dropout, .flatten: return .ready(.copy)
        case .activation(let a): return .ready(.activation(a))
        case .zeroPadding(let p): return .ready(.zeroPadding(p))
        case .cropping2d(let c): return .ready(.cropping2d(c))
        case .add: return .ready(.add(.linear))
        case .scaledAdd(let scale): return .ready(.scaledAdd(scale: scale, activation: .linear))
        case .multiply: return .ready(.multiply)
        case .concat: return .ready(.concat)
        case .maxPool(let p): return .ready(.maxPool(p))
        case .averagePool(let p): return .ready(.averagePool(p))
        case .globalAveragePool: return .ready(.globalAveragePool)
        case .globalMaxPool: return .ready(.globalMaxPool)
        }
    }
}
