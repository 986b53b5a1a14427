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
        // The op's weight spec is the one list of what it reads, in Keras' order.
        let w = try ins.first.map { try weights.read(node, node.op.weightSpec(input: $0)) } ?? []
        switch node.op {
        case .input:
            return .ready(.copyInput)
        case .conv2d(let p):
            return .conv(p, kernel: w[0], bias: p.useBias ? w[1] : nil)
        case .depthwiseConv2d(let p):
            return .ready(.depthwise(p, kernel: w[0], bias: p.useBias ? w[1] : nil))
        case .separableConv2d(let p):
            return .separable(p, depthwise: w[0], pointwise: w[1], bias: p.useBias ? w[2] : nil)
        case .dense(let units, let useBias, let activation):
            return .ready(.dense(units: units, kernel: w[0], bias: useBias ? w[1] : nil, activation: activation))
        case .batchNorm(let eps, let scale, let center):
            // gamma, beta (when scale, center), moving_mean, moving_variance.
            let stats = BatchNormStats(
                mean: w[w.count - 2], variance: w[w.count - 1], gamma: scale ? w[0] : nil,
                beta: center ? w[scale ? 1 : 0] : nil)
            return .batchNorm(stats, epsilon: eps, activation: .linear)
        case .layerNormalization(let eps):
            return .ready(.layerNorm(epsilon: eps, gamma: w[0], beta: w[1]))
        case .layerScale:
            return .layerScale(gamma: w[0], activation: .linear)
        case .rescaling(let scale, let offset):
            let c = ins[0].channels
            return .ready(
                .scaleOffset(
                    scale: [Float](repeating: scale, count: c), offset: [Float](repeating: offset, count: c),
                    activation: .linear))
        case .channelRescaling(let scale, let offset):
            return .ready(.scaleOffset(scale: scale, offset: offset, activation: .linear))
        case .normalization(let mean, let variance):
            // Not folded into a scale and offset: Keras subtracts, then divides, in float32.
            let (m, v) = (mean ?? w[0], variance ?? w[1])
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
        case .subtract: return .ready(.subtract)
        case .average: return .ready(.average)
        case .maximum: return .ready(.maximum)
        case .minimum: return .ready(.minimum)
        case .permute(let dims): return .ready(.permute(axes: dims.map { $0 - 1 }))
        case .upSampling2d(let p): return .ready(.upSampling2d(p))
        case .constant(let c): return .ready(.constant(c))
        case .reverseChannels: return .ready(.reverseChannels)
        }
    }
}
