import Foundation
import WeightLoader

/// A `Graph` with its weights bound, planned once at load time:
/// * a `BatchNormalization` whose input is a `Conv2D`/`DepthwiseConv2D`/`SeparableConv2D` read by
///   nothing else is folded into that convolution's kernel and bias (`Kernels.foldBatchNorm`;
///   a separable one's pointwise half);
/// * an activation layer whose input is read by nothing else runs in the epilogue of the step
///   that produces that input (conv, depthwise, separable, batch norm, add, scaled add,
///   rescaling);
/// * each activation lives in an arena slot that is reused as soon as its last reader has run,
///   so the peak memory is about the largest set of simultaneously live activations.
/// `run` takes any batch size and runs its images one by one through slots sized per image.
public final class CompiledGraph {
    public let graph: Graph
    public let steps: [Step]
    /// Arena slot of each node value, sized in floats per image.
    let slotOf: [NodeID: Int]
    let slotSizes: [Int]

    /// The per-image shape of the output.
    public var outputShape: FeatureShape { graph.shape(graph.outputNode) }
    public var inputShape: FeatureShape { graph.shape(graph.input) }

    /// Floats per image held by the arena (the peak of live activations, up to slot packing).
    public var arenaFloatsPerImage: Int { slotSizes.reduce(0, +) }

    /// One kernel call. `inputs` and `output` are node ids; `layers` names the graph nodes the
    /// step computes (a folded conv + BN + ReLU lists all three).
    public struct Step: Sendable {
        public enum Kind: Sendable {
            case copyInput
            case conv(Conv2DParams, kernel: [Float], bias: [Float]?)
            case depthwise(DepthwiseParams, kernel: [Float], bias: [Float]?)
            /// `SeparableConv2D`, BN folded into the pointwise kernel and bias.
            case separable(SeparableConv2DParams, depthwise: [Float], pointwise: [Float], bias: [Float]?)
            case scaleOffset(scale: [Float]?, offset: [Float]?, activation: Activation)
            /// Keras `Normalization`: `(x - subtract) / divide` per channel.
            case subtractDivide(subtract: [Float], divide: [Float])
            /// `Reshape`, `Dropout`: the input's floats unchanged.
            case copy
            case activation(Activation)
            case zeroPadding(Padding)
            case cropping2d(Padding)
            case add(Activation)
            case scaledAdd(scale: Float, activation: Activation)
            case multiply
            case concat
            case maxPool(PoolParams)
            case averagePool(PoolParams)
            case globalAveragePool
            case globalMaxPool
        }
        public var kind: Kind
        public var inputs: [NodeID]
        public var output: NodeID
        public var layers: [String]
    }

    public init(_ graph: Graph, weights: BoundWeights) throws {
        self.graph = graph
        let nodes = graph.nodes
        let out = graph.outputNode
        // Readers of each node; the graph output counts as one more so it is never fused away.
        var readers = [[NodeID]](repeating: [], count: nodes.count)
        for n in nodes { for i in n.inputs { readers[i].append(n.id) } }
        func soleReader(_ id: NodeID) -> GraphNode? {
            guard id != out, readers[id].count == 1 else { return nil }
            return nodes[readers[id][0]]
        }
        // Only nodes the output depends on are computed.
        var needed = Set<NodeID>([out])
        for n in nodes.reversed() where needed.contains(n.id) { needed.formUnion(n.inputs) }

        let loader = WeightSource(weights: weights, model: graph.name)
        var steps: [Step] = []
        var absorbed = Set<NodeID>()
        // A convolution absorbs the BatchNormalization it alone feeds (folded into its kernel
        // and bias) and then an activation it alone feeds (run in its epilogue).
        func absorbFollowers(
            of node: GraphNode, kernel: inout [Float], bias: inout [Float]?, channels: Int, activation: inout Activation
        ) throws -> (last: NodeID, layers: [String]) {
            var layers = [node.name]
            var last = node.id
            if let bn = soleReader(last), case .batchNorm(let eps, let scale, let center) = bn.op {
                let stats = try loader.batchNorm(bn.name, channels: channels, scale: scale, center: center)
                (kernel, bias) = Kernels.foldBatchNorm(
                    kernel: kernel, outputChannels: channels, bias: bias, mean: stats.mean,
                    variance: stats.variance, gamma: stats.gamma, beta: stats.beta, epsilon: eps)
                absorbed.insert(bn.id)
                layers.append(bn.name)
                last = bn.id
            }
            if activation == .linear, let act = soleReader(last), case .activation(let a) = act.op {
                activation = a
                absorbed.insert(act.id)
                layers.append(act.name)
                last = act.id
            }
            return (last, layers)
        }
        for node in nodes where needed.contains(node.id) && !absorbed.contains(node.id) {
            var step: Step
            let ins = node.inputs.map { graph.shape($0) }
            switch node.op {
            case .input:
                step = Step(kind: .copyInput, inputs: [], output: node.id, layers: [node.name])
            case .conv2d(var p):
                let s = ins[0]
                var kernel = try loader.array(
                    node.name, ["kernel"],
                    shape: [p.kernel.0, p.kernel.1, s.channels / p.groups, p.filters])
                var bias = p.useBias ? try loader.array(node.name, ["bias"], shape: [p.filters]) : nil
                let fused = try absorbFollowers(of: node, kernel: &kernel, bias: &bias, channels: p.filters, activation: &p.activation)
                p.useBias = bias != nil
                step = Step(kind: .conv(p, kernel: kernel, bias: bias), inputs: node.inputs, output: fused.last, layers: fused.layers)
            case .depthwiseConv2d(var p):
                let s = ins[0]
                let channels = s.channels * p.depthMultiplier
                var kernel = try loader.array(
                    node.name, ["kernel", "depthwise_kernel"],
                    shape: [p.kernel.0, p.kernel.1, s.channels, p.depthMultiplier])
                var bias = p.useBias ? try loader.array(node.name, ["bias"], shape: [channels]) : nil
                let fused = try absorbFollowers(of: node, kernel: &kernel, bias: &bias, channels: channels, activation: &p.activation)
                p.useBias = bias != nil
                step = Step(kind: .depthwise(p, kernel: kernel, bias: bias), inputs: node.inputs, output: fused.last, layers: fused.layers)
            case .separableConv2d(var p):
                // Lowered to depthwise + pointwise in one step; a following BN folds into the
                // pointwise half, which is linear in the depthwise output.
                let s = ins[0]
                let middle = s.channels * p.depthMultiplier
                let depthwise = try loader.array(
                    node.name, ["depthwise_kernel"],
                    shape: [p.kernel.0, p.kernel.1, s.channels, p.depthMultiplier])
                var pointwise = try loader.array(
                    node.name, ["pointwise_kernel"], shape: [1, 1, middle, p.filters])
                var bias = p.useBias ? try loader.array(node.name, ["bias"], shape: [p.filters]) : nil
                let fused = try absorbFollowers(of: node, kernel: &pointwise, bias: &bias, channels: p.filters, activation: &p.activation)
                p.useBias = bias != nil
                step = Step(
                    kind: .separable(p, depthwise: depthwise, pointwise: pointwise, bias: bias),
                    inputs: node.inputs, output: fused.last, layers: fused.layers)
            case .batchNorm(let eps, let scale, let center):
                let stats = try loader.batchNorm(node.name, channels: ins[0].channels, scale: scale, center: center)
                let affine = Kernels.batchNormAffine(
                    mean: stats.mean, variance: stats.variance, gamma: stats.gamma, beta: stats.beta,
                    epsilon: eps)
                step = Step(
                    kind: .scaleOffset(scale: affine.scale, offset: affine.shift, activation: .linear),
                    inputs: node.inputs, output: node.id, layers: [node.name])
            case .rescaling(let scale, let offset):
                let c = ins[0].channels
                step = Step(
                    kind: .scaleOffset(
                        scale: [Float](repeating: scale, count: c),
                        offset: [Float](repeating: offset, count: c), activation: .linear),
                    inputs: node.inputs, output: node.id, layers: [node.name])
            case .channelRescaling(let scale, let offset):
                step = Step(
                    kind: .scaleOffset(scale: scale, offset: offset, activation: .linear),
                    inputs: node.inputs, output: node.id, layers: [node.name])
            case .normalization(let mean, let variance):
                // Not folded into a scale and offset: Keras subtracts, then divides, in float32.
                let c = ins[0].channels
                let m = try mean ?? loader.array(node.name, ["mean"], shape: [c])
                let v = try variance ?? loader.array(node.name, ["variance"], shape: [c])
                step = Step(
                    kind: .subtractDivide(subtract: m, divide: v.map { max($0.squareRoot(), 1e-7) }),
                    inputs: node.inputs, output: node.id, layers: [node.name])
            case .reshape, .dropout:
                step = Step(kind: .copy, inputs: node.inputs, output: node.id, layers: [node.name])
            case .activation(let a):
                step = Step(kind: .activation(a), inputs: node.inputs, output: node.id, layers: [node.name])
            case .zeroPadding(let p):
                step = Step(kind: .zeroPadding(p), inputs: node.inputs, output: node.id, layers: [node.name])
            case .cropping2d(let c):
                step = Step(kind: .cropping2d(c), inputs: node.inputs, output: node.id, layers: [node.name])
            case .add:
                step = Step(kind: .add(.linear), inputs: node.inputs, output: node.id, layers: [node.name])
            case .scaledAdd(let scale):
                step = Step(kind: .scaledAdd(scale: scale, activation: .linear), inputs: node.inputs, output: node.id, layers: [node.name])
            case .multiply:
                step = Step(kind: .multiply, inputs: node.inputs, output: node.id, layers: [node.name])
            case .concat:
                step = Step(kind: .concat, inputs: node.inputs, output: node.id, layers: [node.name])
            case .maxPool(let p):
                step = Step(kind: .maxPool(p), inputs: node.inputs, output: node.id, layers: [node.name])
            case .averagePool(let p):
                step = Step(kind: .averagePool(p), inputs: node.inputs, output: node.id, layers: [node.name])
            case .globalAveragePool:
                step = Step(kind: .globalAveragePool, inputs: node.inputs, output: node.id, layers: [node.name])
            case .globalMaxPool:
                step = Step(kind: .globalMaxPool, inputs: node.inputs, output: node.id, layers: [node.name])
            }
            // Epilogue fusion for the steps without a convolution.
            switch step.kind {
            case .scaleOffset(let s, let o, .linear):
                if let act = soleReader(step.output), case .activation(let a) = act.op {
                    step.kind = .scaleOffset(scale: s, offset: o, activation: a)
                    absorbed.insert(act.id)
                    step.layers.append(act.name)
                    step.output = act.id
                }
            case .add(.linear):
                if let act = soleReader(step.output), case .activation(let a) = act.op {
                    step.kind = .add(a)
                    absorbed.insert(act.id)
                    step.layers.append(act.name)
                    step.output = act.id
                }
            case .scaledAdd(let scale, .linear):
                if let act = soleReader(step.output), case .activation(let a) = act.op {
                    step.kind = .scaledAdd(scale: scale, activation: a)
                    absorbed.insert(act.id)
                    step.layers.append(act.name)
                    step.output = act.id
                }
            default: break
            }
            steps.append(step)
        }
        self.steps = steps
        (slotOf, slotSizes) = CompiledGraph.assignSlots(steps, graph: graph)
    }

    /// Greedy arena packing in step order: a step's output takes a free slot (the smallest
    /// that is already large enough, else the largest, which grows); its inputs' slots are
    /// released after it if it was their last reader. Output never shares an input's slot, so
    /// no kernel runs in place.
    static func assignSlots(_ steps: [Step], graph: Graph) -> ([NodeID: Int], [Int]) {
        var lastUse: [NodeID: Int] = [:]
        for (k, step) in steps.enumerated() { for i in step.inputs { lastUse[i] = k } }
        lastUse[graph.outputNode] = steps.count
        var slotOf: [NodeID: Int] = [:]
        var sizes: [Int] = []
        var free: [Int] = []
        for (k, step) in steps.enumerated() {
            let need = graph.shape(step.output).count
            let fitting = free.filter { sizes[$0] >= need }.min { sizes[$0] < sizes[$1] }
            let slot: Int
            if let s = fitting ?? free.max(by: { sizes[$0] < sizes[$1] }) {
                slot = s
                free.removeAll { $0 == s }
                sizes[s] = max(sizes[s], need)
            } else {
                slot = sizes.count
                sizes.append(need)
            }
            slotOf[step.output] = slot
            for i in Set(step.inputs) where lastUse[i] == k { free.append(slotOf[i]!) }
            if lastUse[step.output] == nil { free.append(slot) }  // computed but never read
        }
        return (slotOf, sizes)
    }

    /// Runs `input` (N images, NHWC, `inputShape` each) and returns the output (N images,
    /// `outputShape` each). Images run one at a time through one arena: an image's features do
    /// not depend on the batch it came in (a GEMM's rounding can depend on its row count), and
    /// the memory does not grow with the batch.
    public func run(_ input: [Float]) throws -> [Float] {
        let per = inputShape.count
        guard !input.isEmpty, input.count % per == 0 else {
            throw GraphError.inputSize(model: graph.name, expected: per, actual: input.count)
        }
        let batch = input.count / per
        let arena = slotSizes.map { UnsafeMutablePointer<Float>.allocate(capacity: max($0, 1)) }
        defer { arena.forEach { $0.deallocate() } }
        let scratchCount = steps.reduce(0) { acc, step in
            switch step.kind {
            case .conv(let p, _, _):
                let w = Graph.window(
                    graph.shape(step.inputs[0]), batch: 1, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                return max(acc, Kernels.conv2dScratchCount(window: w, outChannels: p.filters, groups: p.groups))
            case .separable(let p, _, _, _):
                let w = Graph.window(
                    graph.shape(step.inputs[0]), batch: 1, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                return max(acc, Kernels.separableConv2dScratchCount(window: w, depthMultiplier: p.depthMultiplier))
            default:
                return acc
            }
        }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchCount, 1))
        defer { scratch.deallocate() }
        let outCount = outputShape.count
        var result = [Float](repeating: 0, count: batch * outCount)
        input.withUnsafeBufferPointer { x in
            result.withUnsafeMutableBufferPointer { y in
                for n in 0..<batch {
                    runImage(x.baseAddress! + n * per, arena: arena, scratch: scratch)
                    (y.baseAddress! + n * outCount).update(
                        from: arena[slotOf[graph.outputNode]!], count: outCount)
                }
            }
        }
        return result
    }

    /// One image through every step; the output is left in its arena slot.
    private func runImage(
        _ image: UnsafePointer<Float>, arena: [UnsafeMutablePointer<Float>],
        scratch: UnsafeMutablePointer<Float>
    ) {
        let batch = 1
        func buffer(_ id: NodeID) -> UnsafeMutablePointer<Float> { arena[slotOf[id]!] }
        for step in steps {
            let out = buffer(step.output)
            let inShape = step.inputs.first.map { graph.shape($0) } ?? inputShape
            let x = step.inputs.first.map { UnsafePointer(buffer($0)) }
            let rows = batch * inShape.height * inShape.width
            switch step.kind {
            case .copyInput:
                out.update(from: image, count: inputShape.count)
            case .conv(let p, let kernel, let bias):
                let w = Graph.window(
                    inShape, batch: batch, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                kernel.withUnsafeBufferPointer { k in
                    withOptional(bias) { b in
                        Kernels.conv2d(
                            x!, window: w, kernel: k.baseAddress!, outChannels: p.filters,
                            groups: p.groups, bias: b, activation: p.activation, output: out,
                            scratch: scratch)
                    }
                }
            case .depthwise(let p, let kernel, let bias):
                let w = Graph.window(
                    inShape, batch: batch, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                kernel.withUnsafeBufferPointer { k in
                    withOptional(bias) { b in
                        Kernels.depthwiseConv2d(
                            x!, window: w, kernel: k.baseAddress!,
                            depthMultiplier: p.depthMultiplier, bias: b,
                            activation: p.activation, output: out)
                    }
                }
            case .separable(let p, let depthwise, let pointwise, let bias):
                let w = Graph.window(
                    inShape, batch: batch, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                depthwise.withUnsafeBufferPointer { d in
                    pointwise.withUnsafeBufferPointer { k in
                        withOptional(bias) { b in
                            Kernels.separableConv2d(
                                x!, window: w, depthwiseKernel: d.baseAddress!,
                                depthMultiplier: p.depthMultiplier, pointwiseKernel: k.baseAddress!,
                                outChannels: p.filters, bias: b, activation: p.activation,
                                output: out, scratch: scratch)
                        }
                    }
                }
            case .scaleOffset(let scale, let offset, let activation):
                withOptional(scale) { s in
                    withOptional(offset) { o in
                        Kernels.scaleOffset(
                            x!, rows: rows, channels: inShape.channels, scale: s, offset: o,
                            activation: activation, output: out)
                    }
                }
            case .subtractDivide(let subtract, let divide):
                subtract.withUnsafeBufferPointer { m in
                    divide.withUnsafeBufferPointer { d in
                        Kernels.subtractDivide(
                            x!, rows: rows, channels: inShape.channels, subtract: m.baseAddress!,
                            divide: d.baseAddress!, output: out)
                    }
                }
            case .copy:
                out.update(from: x!, count: batch * inShape.count)
            case .activation(let a):
                let count = batch * inShape.count
                out.update(from: x!, count: count)
                a.apply(out, count: count)
            case .zeroPadding(let p):
                Kernels.zeroPad2d(
                    x!, batch: batch, height: inShape.height, width: inShape.width,
                    channels: inShape.channels, padding: p, output: out)
            case .cropping2d(let c):
                Kernels.crop2d(
                    x!, batch: batch, height: inShape.height, width: inShape.width,
                    channels: inShape.channels, crop: c, output: out)
            case .add(let a):
                Kernels.add(
                    step.inputs.map { UnsafePointer(buffer($0)) }, count: batch * inShape.count,
                    activation: a, output: out)
            case .scaledAdd(let scale, let a):
                Kernels.scaledAdd(
                    buffer(step.inputs[0]), buffer(step.inputs[1]), scale: scale,
                    count: batch * inShape.count, activation: a, output: out)
            case .multiply:
                let (a, b) = (graph.shape(step.inputs[0]), graph.shape(step.inputs[1]))
                let (pa, pb) = (buffer(step.inputs[0]), buffer(step.inputs[1]))
                if a == b {
                    for i in 0..<(batch * a.count) { out[i] = pa[i] * pb[i] }
                } else {
                    let (map, gate, s) = a.height * a.width == 1 ? (pb, pa, b) : (pa, pb, a)
                    Kernels.multiplyChannels(
                        map, batch: batch, pixels: s.height * s.width, channels: s.channels,
                        gate: gate, output: out)
                }
            case .concat:
                let parts = step.inputs.map { (data: UnsafePointer(buffer($0)), channels: graph.shape($0).channels) }
                Kernels.concatChannels(parts, pixels: rows, output: out)
            case .maxPool(let p), .averagePool(let p):
                let w = Graph.window(
                    inShape, batch: batch, kernel: p.pool, strides: p.strides, dilation: (1, 1),
                    padding: p.padding)
                if case .maxPool = step.kind {
                    Kernels.maxPool2d(x!, window: w, output: out)
                } else {
                    Kernels.averagePool2d(x!, window: w, output: out)
                }
            case .globalAveragePool:
                Kernels.globalAveragePool(
                    x!, batch: batch, height: inShape.height, width: inShape.width,
                    channels: inShape.channels, output: out)
            case .globalMaxPool:
                Kernels.globalMaxPool(
                    x!, batch: batch, height: inShape.height, width: inShape.width,
                    channels: inShape.channels, output: out)
            }
        }
    }
}

/// Calls `body` with the array's base address, or nil for a nil array.
private func withOptional<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Typed access to `BoundWeights` by Keras layer name and variable name.
struct WeightSource {
    let weights: BoundWeights
    let model: String

    /// The layer's array whose variable name (the part after the last '/') is one of `names`.
    func array(_ layer: String, _ names: [String], shape: [Int]) throws -> [Float] {
        guard let bound = weights.layer(layer) else {
            throw GraphError.missingLayer(model: model, layer: layer)
        }
        let variable = { (a: BoundArray) in String(a.name.split(separator: "/").last ?? "") }
        guard let found = bound.arrays.first(where: { names.contains(variable($0)) }) else {
            throw GraphError.missingArray(
                layer: layer, array: names[0], available: bound.arrays.map(variable))
        }
        guard found.shape == shape else {
            throw GraphError.shapeMismatch(layer: layer, array: found.name, expected: shape, actual: found.shape)
        }
        return found.values
    }

    func batchNorm(_ layer: String, channels: Int, scale: Bool, center: Bool) throws
        -> (mean: [Float], variance: [Float], gamma: [Float]?, beta: [Float]?)
    {
        let c = [channels]
        return (
            try array(layer, ["moving_mean"], shape: c),
            try array(layer, ["moving_variance"], shape: c),
            scale ? try array(layer, ["gamma"], shape: c) : nil,
            center ? try array(layer, ["beta"], shape: c) : nil
        )
    }
}
