import Foundation
import Dispatch
import WeightLoader

/// A `Graph` with its weights bound, planned once at load time:
/// * a `BatchNormalization` whose input is a `Conv2D`/`DepthwiseConv2D`/`SeparableConv2D`/`Dense`
///   read by nothing else is folded into that layer's kernel and bias (`Kernels.foldBatchNorm`;
///   a separable one's pointwise half); so is a `LayerScale` (its per-channel gamma);
/// * an activation layer whose input is read by nothing else runs in the epilogue of the step
///   that produces that input (conv, depthwise, separable, dense, batch norm, layer scale, add,
///   scaled add, rescaling); softmax, which normalizes a row, only in a dense step's;
/// * a squeeze-excite `Multiply` (map × per-channel gate) read only by a 1×1 convolution is
///   folded into that convolution's kernel, per image (`gatedPointwise`), when the kernel is
///   smaller than the map;
/// * a `ZeroPadding2D` read only by a convolution or depthwise convolution becomes that
///   layer's explicit padding (the taps it adds are zeros either way);
/// * each activation lives in an arena slot that is reused as soon as its last reader has run,
///   so the peak memory is about the largest set of simultaneously live activations.
/// `run` takes any batch size and runs its images one by one through slots sized per image.
public final class CompiledGraph: @unchecked Sendable {
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
            /// `kernel` is the (KH*KW*C/groups, K) GEMM operand (`Kernels.conv2dWeights`).
            case conv(Conv2DParams, kernel: GemmWeights, bias: [Float]?)
            /// A stride-1 3×3 `Conv2D` as Winograd F(tile×tile, 3×3); `kernel` is the
            /// transformed kernel, a*a GEMM operands (C, K) (`Kernels.winogradWeights`).
            case winograd(Conv2DParams, tile: Int, kernel: [GemmWeights], bias: [Float]?)
            /// A 1×1 stride-1 `Conv2D` of `map × gate` (inputs: map, gate (1,1,C)) computed as
            /// `map · (diag(gate) · kernel)`: the gate scales the kernel's C rows for each
            /// image instead of the map's H*W*C values.
            case gatedPointwise(Conv2DParams, kernel: GemmWeights, bias: [Float]?)
            case depthwise(DepthwiseParams, kernel: [Float], bias: [Float]?)
            /// `SeparableConv2D`, BN folded into the pointwise kernel and bias.
            case separable(SeparableConv2DParams, depthwise: [Float], pointwise: GemmWeights, bias: [Float]?)
            /// `Dense` over the last axis (every pixel of a map is a row): kernel (C, units), BN or
            /// LayerScale folded in, the activation in its epilogue.
            case dense(units: Int, kernel: [Float], bias: [Float]?, activation: Activation)
            case scaleOffset(scale: [Float]?, offset: [Float]?, activation: Activation)
            /// `LayerNormalization` over each row's channels.
            case layerNorm(epsilon: Float, gamma: [Float], beta: [Float])
            /// Keras `Normalization`: `(x - subtract) / divide` per channel.
            case subtractDivide(subtract: [Float], divide: [Float])
            /// `Reshape`, `Dropout`, `Flatten`: the input's floats unchanged.
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

    /// How the planner may compute what Keras computes.
    public struct Options: Sendable, Equatable {
        /// Stride-1 3×3 convolutions by Winograd (`winogradTile`); false: im2col + GEMM for
        /// every convolution, the summation order Keras' own CPU kernels use.
        public var winograd: Bool

        public init(winograd: Bool = true) { self.winograd = winograd }
    }
    public let options: Options

    public init(_ graph: Graph, weights: BoundWeights, options: Options = Options()) throws {
        self.graph = graph
        self.options = options
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

        let loader = WeightSource(weights: weights, graph: graph)
        var steps: [Step] = []
        var absorbed = Set<NodeID>()
        // Folded into their sole reader, by reader: a gate multiply and a zero padding.
        var gates: [NodeID: (map: NodeID, gate: NodeID, layer: String)] = [:]
        var pads: [NodeID: (source: NodeID, padding: Padding, layer: String)] = [:]
        // A convolution or Dense absorbs the BatchNormalization it alone feeds (folded into its
        // kernel and bias: the kernel's flat index modulo `channels` is the output channel), a
        // LayerScale (likewise) and then an activation it alone feeds (run in its epilogue;
        // softmax only with `rows`).
        func absorbFollowers(
            of node: GraphNode, kernel: inout [Float], bias: inout [Float]?, channels: Int, activation: inout Activation,
            rows: Bool = false
        ) throws -> (last: NodeID, layers: [String]) {
            var layers = [node.name]
            var last = node.id
            // Only a linear convolution folds: BN after Conv2D(activation="relu") (possible in
            // a user's model, not in keras.applications) normalizes the activated values.
            if activation == .linear, let bn = soleReader(last),
                case .batchNorm(let eps, let scale, let center) = bn.op
            {
                let stats = try loader.batchNorm(bn.name, channels: channels, scale: scale, center: center)
                (kernel, bias) = Kernels.foldBatchNorm(
                    kernel: kernel, outputChannels: channels, bias: bias, mean: stats.mean,
                    variance: stats.variance, gamma: stats.gamma, beta: stats.beta, epsilon: eps)
                absorbed.insert(bn.id)
                layers.append(bn.name)
                last = bn.id
            }
            // ConvNeXt's LayerScale after the second Dense: `(x W + b) * gamma` becomes
            // `x (W * gamma) + b * gamma`, one pass less per block, as close to Keras as the
            // separate multiply (ConvNeXt parity, worst output: 7.6e-7 vs 8.9e-7 of max|keras|).
            if activation == .linear, let scale = soleReader(last), case .layerScale = scale.op {
                let gamma = try loader.soleArray(scale.name, shape: [channels])
                Kernels.scaleColumns(&kernel, by: gamma)
                if bias != nil { Kernels.scaleColumns(&bias!, by: gamma) }
                absorbed.insert(scale.id)
                layers.append(scale.name)
                last = scale.id
            }
            if activation == .linear, let act = soleReader(last), case .activation(let a) = act.op,
                a.isElementwise || rows
            {
                activation = a
                absorbed.insert(act.id)
                layers.append(act.name)
                last = act.id
            }
            return (last, layers)
        }
        // A convolution's input shape, inputs and extra layer names once the zero padding it
        // alone reads is folded into `padding`.
        func withFoldedPadding(_ node: GraphNode, _ padding: inout PaddingMode)
            -> (FeatureShape, [NodeID], [String])
        {
            guard let pad = pads[node.id] else { return (graph.shape(node.inputs[0]), node.inputs, []) }
            padding = Self.padded(padding, by: pad.padding)
            return (graph.shape(pad.source), [pad.source], [pad.layer])
        }
        for node in nodes where needed.contains(node.id) && !absorbed.contains(node.id) {
            var step: Step
            let ins = node.inputs.map { graph.shape($0) }
            if let fold = Self.gateFold(node, reader: soleReader(node.id), graph: graph) {
                gates[fold.conv] = (fold.map, fold.gate, node.name)
                continue
            }
            if case .zeroPadding(let pad) = node.op, let reader = soleReader(node.id),
                Self.takesPadding(reader)
            {
                pads[reader.id] = (node.inputs[0], pad, node.name)
                continue
            }
            switch node.op {
            case .input:
                step = Step(kind: .copyInput, inputs: [], output: node.id, layers: [node.name])
            case .conv2d(var p):
                let (s, inputs, folded) = withFoldedPadding(node, &p.padding)
                var kernel = try loader.array(
                    node.name, ["kernel"],
                    shape: [p.kernel.0, p.kernel.1, s.channels / p.groups, p.filters])
                var bias = p.useBias ? try loader.array(node.name, ["bias"], shape: [p.filters]) : nil
                let fused = try absorbFollowers(of: node, kernel: &kernel, bias: &bias, channels: p.filters, activation: &p.activation)
                p.useBias = bias != nil
                let w = Graph.window(s, batch: 1, kernel: p.kernel, strides: p.strides, dilation: p.dilation, padding: p.padding)
                let layers = fused.layers + folded
                if let gate = gates[node.id] {
                    let weights = GemmWeights(kernel, rows: s.channels, columns: p.filters, callRows: w.outPixels)
                    step = Step(
                        kind: .gatedPointwise(p, kernel: weights, bias: bias), inputs: [gate.map, gate.gate],
                        output: fused.last, layers: layers + [gate.layer])
                } else if let m = Self.winogradTile(w, outChannels: p.filters, groups: p.groups, options: options) {
                    let u = Kernels.winogradWeights(
                        Kernels.winogradKernel(kernel, channels: s.channels, outChannels: p.filters, tile: m),
                        channels: s.channels, outChannels: p.filters, tile: m)
                    step = Step(kind: .winograd(p, tile: m, kernel: u, bias: bias), inputs: inputs, output: fused.last, layers: layers)
                } else {
                    let weights = kernel.withUnsafeBufferPointer {
                        Kernels.conv2dWeights($0.baseAddress!, window: w, outChannels: p.filters, groups: p.groups)
                    }
                    step = Step(kind: .conv(p, kernel: weights, bias: bias), inputs: inputs, output: fused.last, layers: layers)
                }
            case .depthwiseConv2d(var p):
                let (s, inputs, folded) = withFoldedPadding(node, &p.padding)
                let channels = s.channels * p.depthMultiplier
                var kernel = try loader.array(
                    node.name, ["kernel", "depthwise_kernel"],
                    shape: [p.kernel.0, p.kernel.1, s.channels, p.depthMultiplier])
                var bias = p.useBias ? try loader.array(node.name, ["bias"], shape: [channels]) : nil
                let fused = try absorbFollowers(of: node, kernel: &kernel, bias: &bias, channels: channels, activation: &p.activation)
                p.useBias = bias != nil
                step = Step(kind: .depthwise(p, kernel: kernel, bias: bias), inputs: inputs, output: fused.last, layers: fused.layers + folded)
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
                let outPixels = Graph.window(
                    s, batch: 1, kernel: p.kernel, strides: p.strides, dilation: p.dilation, padding: p.padding
                ).outPixels
                let pointwiseWeights = GemmWeights(pointwise, rows: middle, columns: p.filters, callRows: outPixels)
                step = Step(
                    kind: .separable(p, depthwise: depthwise, pointwise: pointwiseWeights, bias: bias),
                    inputs: node.inputs, output: fused.last, layers: fused.layers)
            case .dense(let units, let useBias, var activation):
                let inChannels = ins[0].channels
                var kernel = try loader.array(node.name, ["kernel"], shape: [inChannels, units])
                var bias = useBias ? try loader.array(node.name, ["bias"], shape: [units]) : nil
                let fused = try absorbFollowers(
                    of: node, kernel: &kernel, bias: &bias, channels: units, activation: &activation, rows: true)
                step = Step(
                    kind: .dense(units: units, kernel: kernel, bias: bias, activation: activation),
                    inputs: node.inputs, output: fused.last, layers: fused.layers)
            case .batchNorm(let eps, let scale, let center):
                let stats = try loader.batchNorm(node.name, channels: ins[0].channels, scale: scale, center: center)
                let affine = Kernels.batchNormAffine(
                    mean: stats.mean, variance: stats.variance, gamma: stats.gamma, beta: stats.beta,
                    epsilon: eps)
                step = Step(
                    kind: .scaleOffset(scale: affine.scale, offset: affine.shift, activation: .linear),
                    inputs: node.inputs, output: node.id, layers: [node.name])
            case .layerNormalization(let eps):
                let c = [ins[0].channels]
                step = Step(
                    kind: .layerNorm(
                        epsilon: eps, gamma: try loader.array(node.name, ["gamma"], shape: c),
                        beta: try loader.array(node.name, ["beta"], shape: c)),
                    inputs: node.inputs, output: node.id, layers: [node.name])
            case .layerScale:
                let gamma = try loader.soleArray(node.name, shape: [ins[0].channels])
                step = Step(
                    kind: .scaleOffset(scale: gamma, offset: nil, activation: .linear),
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
            case .reshape, .dropout, .flatten:
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
                if let act = soleReader(step.output), case .activation(let a) = act.op, a.isElementwise {
                    step.kind = .scaleOffset(scale: s, offset: o, activation: a)
                    absorbed.insert(act.id)
                    step.layers.append(act.name)
                    step.output = act.id
                }
            case .add(.linear):
                if let act = soleReader(step.output), case .activation(let a) = act.op, a.isElementwise {
                    step.kind = .add(a)
                    absorbed.insert(act.id)
                    step.layers.append(act.name)
                    step.output = act.id
                }
            case .scaledAdd(let scale, .linear):
                if let act = soleReader(step.output), case .activation(let a) = act.op, a.isElementwise {
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

    /// The 1×1 convolution a squeeze-excite multiply folds into: `node` multiplies a map by a
    /// (1,1,C) gate and is read only by `reader`, a 1×1 stride-1 unpadded ungrouped `Conv2D`
    /// whose kernel (C, K) is smaller than the map (K <= H*W: scaling the kernel costs less than
    /// scaling the map). The products round differently (x·(g·w) instead of (x·g)·w), as
    /// close to Keras' as the separate multiply (EfficientNetB0 parity: worst output 2.9e-7 of
    /// max|keras| either way).
    static func gateFold(_ node: GraphNode, reader: GraphNode?, graph: Graph)
        -> (conv: NodeID, map: NodeID, gate: NodeID)?
    {
        guard case .multiply = node.op, node.inputs.count == 2, let reader,
            case .conv2d(let p) = reader.op, p.kernel == (1, 1), p.strides == (1, 1),
            p.dilation == (1, 1), p.groups == 1
        else { return nil }
        if case .explicit(let e) = p.padding, e != .zero { return nil }
        let (a, b) = (graph.shape(node.inputs[0]), graph.shape(node.inputs[1]))
        guard !a.flat, !b.flat, a != b else { return nil }
        let (map, gate) = a.height * a.width == 1 ? (node.inputs[1], node.inputs[0]) : (node.inputs[0], node.inputs[1])
        let m = graph.shape(map)
        guard m.height * m.width > 1, p.filters <= m.height * m.width else { return nil }
        return (reader.id, map, gate)
    }

    /// Whether a `ZeroPadding2D` read only by `reader` folds into it: convolutions (not
    /// grouped, not separable) and depthwise convolutions, which treat their padding as zeros.
    /// Pools do not: Keras' max pool compares the padded zeros, ours skips padding.
    static func takesPadding(_ reader: GraphNode) -> Bool {
        switch reader.op {
        case .conv2d(let p): return p.padding != .same && p.groups == 1
        case .depthwiseConv2d(let p): return p.padding != .same
        default: return false
        }
    }

    /// A `.valid` or `.explicit` padding with `extra` added on every side.
    static func padded(_ mode: PaddingMode, by extra: Padding) -> PaddingMode {
        var p = Padding.zero
        if case .explicit(let e) = mode { p = e }
        return .explicit(
            Padding(
                top: p.top + extra.top, bottom: p.bottom + extra.bottom, left: p.left + extra.left,
                right: p.right + extra.right))
    }

    /// The Winograd tile for this convolution, nil for im2col + GEMM. F(4×4) from 20×20 outputs
    /// up, F(2×2) below, where F(4×4)'s few, wasteful tiles make GEMMs too short to repay
    /// OpenBLAS repacking 36 kernels (measured per layer with `extract verify --profile`:
    /// ResNet50 7×7×512 F(2) 4.3 ms, direct 5.2, F(4) 6.6; 14×14×256 2.4 / 3.9 / 2.9;
    /// 28×28×128 2.3 / 3.4 / 1.9; VGG16 56×56×256 31.6 / 66.1 / 21.3).
    static func winogradTile(_ w: Window2D, outChannels: Int, groups: Int, options: Options) -> Int? {
        guard options.winograd, Kernels.winogradApplies(w, outChannels: outChannels, groups: groups) else {
            return nil
        }
        return min(w.outHeight, w.outWidth) >= 20 ? 4 : 2
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

    /// The buffers one thread needs to run images: the arena slots and the im2col scratch.
    /// Kept and reused from image to image, so their pages are faulted in once per thread, not
    /// once per image.
    public final class Workspace: @unchecked Sendable {
        let arena: [UnsafeMutablePointer<Float>]
        let scratch: UnsafeMutablePointer<Float>

        init(slotSizes: [Int], scratchCount: Int) {
            arena = slotSizes.map { UnsafeMutablePointer<Float>.allocate(capacity: max($0, 1)) }
            scratch = .allocate(capacity: max(scratchCount, 1))
        }

        deinit {
            arena.forEach { $0.deallocate() }
            scratch.deallocate()
        }
    }

    /// Floats of im2col scratch the largest convolution needs.
    private var scratchCount: Int {
        steps.reduce(0) { acc, step in
            switch step.kind {
            case .conv(let p, _, _):
                let w = Graph.window(
                    graph.shape(step.inputs[0]), batch: 1, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                return max(acc, Kernels.conv2dScratchCount(window: w, outChannels: p.filters, groups: p.groups))
            case .winograd(let p, let m, _, _):
                let w = Graph.window(
                    graph.shape(step.inputs[0]), batch: 1, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                return max(acc, Kernels.winogradScratchCount(w, outChannels: p.filters, tile: m))
            case .gatedPointwise(_, let kernel, _):
                return max(acc, kernel.storageCount)
            case .separable(let p, _, _, _):
                let w = Graph.window(
                    graph.shape(step.inputs[0]), batch: 1, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                return max(acc, Kernels.separableConv2dScratchCount(
                    window: w, depthMultiplier: p.depthMultiplier, outChannels: p.filters))
            default:
                return acc
            }
        }
    }

    public func makeWorkspace() -> Workspace {
        Workspace(slotSizes: slotSizes, scratchCount: scratchCount)
    }

    /// Idle workspaces of earlier `run` calls, taken by the next ones.
    private var pool: [Workspace] = []
    private let poolLock = NSLock()

    private func withWorkspace<R>(_ body: (Workspace) throws -> R) rethrows -> R {
        let ws = poolLock.withLock { pool.popLast() } ?? makeWorkspace()
        defer { poolLock.withLock { pool.append(ws) } }
        return try body(ws)
    }

    /// Runs `input` (N images, NHWC, `inputShape` each) and returns the output (N images,
    /// `outputShape` each), the images shared among `threads` threads, each with its own
    /// workspace. Every image runs alone, on one thread, with a single-threaded BLAS: OpenBLAS'
    /// sgemm rounds differently with another thread count or row count (measured: 19% of a
    /// 3136×576×64 product's outputs change from 1 to 2 threads), so this is what makes an
    /// image's features the same bits whatever the batch, its place in it or `threads`. On a
    /// few cores it is also faster than one image at a time on a multi-threaded BLAS: no hand-off
    /// between BLAS threads after every layer, and the layers that are not GEMMs run in parallel
    /// too.
    public func run(_ input: [Float], threads: Int = 1) throws -> [Float] {
        let per = inputShape.count
        guard !input.isEmpty, input.count % per == 0 else {
            throw GraphError.inputSize(model: graph.name, expected: per, actual: input.count)
        }
        let batch = input.count / per
        let outCount = outputShape.count
        var result = [Float](repeating: 0, count: batch * outCount)
        let workers = max(1, min(threads, batch))
        Kernels.useBLASThreads(1)
        input.withUnsafeBufferPointer { x in
            result.withUnsafeMutableBufferPointer { y in
                nonisolated(unsafe) let (xs, ys) = (x.baseAddress!, y.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    withWorkspace { ws in
                        // Worker w runs images w, w + workers, ...: each output row has one writer.
                        for n in stride(from: w, to: batch, by: workers) {
                            run(image: xs + n * per, workspace: ws, output: ys + n * outCount)
                        }
                    }
                }
            }
        }
        return result
    }

    /// One image (`inputShape`) through every step in `workspace`; its `outputShape` floats are
    /// copied to `output`.
    public func run(
        image: UnsafePointer<Float>, workspace: Workspace, output: UnsafeMutablePointer<Float>
    ) {
        runImage(image, arena: workspace.arena, scratch: workspace.scratch)
        output.update(from: workspace.arena[slotOf[graph.outputNode]!], count: outputShape.count)
    }

    /// Seconds spent in each step (in `steps` order), summed over `input`'s images run one by
    /// one on the calling thread: where a model's time goes (`extract verify --profile`).
    public func profile(_ input: [Float]) throws -> [Double] {
        let per = inputShape.count
        guard !input.isEmpty, input.count % per == 0 else {
            throw GraphError.inputSize(model: graph.name, expected: per, actual: input.count)
        }
        Kernels.useBLASThreads(1)
        var seconds = [Double](repeating: 0, count: steps.count)
        input.withUnsafeBufferPointer { x in
            seconds.withUnsafeMutableBufferPointer { t in
                withWorkspace { ws in
                    for n in 0..<(input.count / per) {
                        runImage(x.baseAddress! + n * per, arena: ws.arena, scratch: ws.scratch, timings: t.baseAddress!)
                    }
                }
            }
        }
        return seconds
    }

    /// One image through every step; the output is left in its arena slot. `timings`, when
    /// given, accumulates each step's seconds.
    private func runImage(
        _ image: UnsafePointer<Float>, arena: [UnsafeMutablePointer<Float>],
        scratch: UnsafeMutablePointer<Float>, timings: UnsafeMutablePointer<Double>? = nil
    ) {
        let batch = 1
        func buffer(_ id: NodeID) -> UnsafeMutablePointer<Float> { arena[slotOf[id]!] }
        for (index, step) in steps.enumerated() {
            let started = timings == nil ? nil : DispatchTime.now().uptimeNanoseconds
            defer {
                if let started, let timings {
                    timings[index] += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                }
            }
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
                withOptional(bias) { b in
                    Kernels.conv2d(
                        x!, window: w, kernel: kernel, outChannels: p.filters, groups: p.groups,
                        bias: b, activation: p.activation, output: out, scratch: scratch)
                }
            case .winograd(let p, let m, let kernel, let bias):
                let w = Graph.window(
                    inShape, batch: batch, kernel: p.kernel, strides: p.strides,
                    dilation: p.dilation, padding: p.padding)
                withOptional(bias) { b in
                    Kernels.conv2dWinograd(
                        x!, window: w, transformedKernel: kernel, tile: m, outChannels: p.filters,
                        bias: b, activation: p.activation, output: out, scratch: scratch)
                }
            case .gatedPointwise(let p, let kernel, let bias):
                kernel.scaledRows(buffer(step.inputs[1]), into: scratch)
                withOptional(bias) { b in
                    Kernels.gemm(
                        m: rows, a: x!, lda: inShape.channels, storage: scratch, like: kernel, bias: b,
                        activation: p.activation, c: out, ldc: p.filters)
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
                    withOptional(bias) { b in
                        Kernels.separableConv2d(
                            x!, window: w, depthwiseKernel: d.baseAddress!,
                            depthMultiplier: p.depthMultiplier, pointwiseKernel: pointwise,
                            bias: b, activation: p.activation, output: out, scratch: scratch)
                    }
                }
            case .dense(let units, let kernel, let bias, let activation):
                // Each pixel of a map is one row (a flat tensor is one row).
                kernel.withUnsafeBufferPointer { k in
                    withOptional(bias) { b in
                        Kernels.dense(
                            x!, rows: rows, inFeatures: inShape.channels, weights: k.baseAddress!,
                            outFeatures: units, bias: b, activation: activation, output: out)
                    }
                }
            case .layerNorm(let epsilon, let gamma, let beta):
                gamma.withUnsafeBufferPointer { g in
                    beta.withUnsafeBufferPointer { b in
                        Kernels.layerNorm(
                            x!, rows: rows, channels: inShape.channels, gamma: g.baseAddress!,
                            beta: b.baseAddress!, epsilon: epsilon, output: out)
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
                out.update(from: x!, count: batch * inShape.count)
                a.apply(out, rows: rows, channels: inShape.channels)
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

/// Typed access to `BoundWeights` by Keras layer name and variable name. A layer of a nested
/// model reads the nested model's layer, restricted to its own `<scope>/<name>/...` arrays.
struct WeightSource {
    let weights: BoundWeights
    let model: String
    /// Nested layer name -> the nested model holding its weights.
    let scopes: [String: String]

    init(weights: BoundWeights, graph: Graph) {
        self.weights = weights
        model = graph.name
        scopes = Dictionary(
            graph.nodes.compactMap { n in n.scope.map { (n.name, $0) } }, uniquingKeysWith: { a, _ in a })
    }

    /// The arrays of `layer`: all of its file layer's, or a nested layer's share of its model's.
    private func arrays(_ layer: String) throws -> [BoundArray] {
        let scope = scopes[layer]
        guard let bound = weights.layer(scope ?? layer) else {
            throw GraphError.missingLayer(model: model, layer: scope ?? layer)
        }
        guard scope != nil else { return bound.arrays }
        return bound.arrays.filter { $0.name.split(separator: "/").dropLast().last.map(String.init) == layer }
    }

    private func checked(_ found: BoundArray, _ layer: String, shape: [Int]) throws -> [Float] {
        guard found.shape == shape else {
            throw GraphError.shapeMismatch(layer: layer, array: found.name, expected: shape, actual: found.shape)
        }
        return found.values
    }

    /// The layer's array whose variable name (the part after the last '/') is one of `names`.
    func array(_ layer: String, _ names: [String], shape: [Int]) throws -> [Float] {
        let arrays = try arrays(layer)
        let variable = { (a: BoundArray) in String(a.name.split(separator: "/").last ?? "") }
        guard let found = arrays.first(where: { names.contains(variable($0)) }) else {
            throw GraphError.missingArray(layer: layer, array: names[0], available: arrays.map(variable))
        }
        return try checked(found, layer, shape: shape)
    }

    /// The layer's one array, whatever its variable name (`LayerScale`'s is an auto name).
    func soleArray(_ layer: String, shape: [Int]) throws -> [Float] {
        let arrays = try arrays(layer)
        guard arrays.count == 1 else {
            throw GraphError.badGraph(
                layer: layer, detail: "expects 1 weight array, the file has \(arrays.count)")
        }
        return try checked(arrays[0], layer, shape: shape)
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

extension CompiledGraph {
    /// What a step computes, for profiles: its kernel (with the convolution algorithm), window
    /// and shapes, e.g. `conv 3×3/1 winograd F(4×4) (56,56,64) -> (56,56,64)`.
    public func summary(_ step: Step) -> String {
        let shapes = (step.inputs.first.map { "\(graph.shape($0)) -> " } ?? "") + "\(graph.shape(step.output))"
        func window(_ k: (Int, Int), _ s: (Int, Int)) -> String { "\(k.0)×\(k.1)/\(s.0)" }
        let kind: String
        switch step.kind {
        case .conv(let p, _, _):
            kind = "conv \(window(p.kernel, p.strides))" + (p.kernel == (1, 1) ? " gemm" : " im2col+gemm")
        case .winograd(let p, let m, _, _): kind = "conv \(window(p.kernel, p.strides)) winograd F(\(m)×\(m))"
        case .gatedPointwise: kind = "conv 1×1/1 gated gemm"
        case .depthwise(let p, _, _): kind = "depthwise \(window(p.kernel, p.strides))"
        case .separable(let p, _, _, _): kind = "separable \(window(p.kernel, p.strides))"
        case .dense: kind = "dense"
        case .maxPool(let p): kind = "max pool \(window(p.pool, p.strides))"
        case .averagePool(let p): kind = "average pool \(window(p.pool, p.strides))"
        default: kind = "\(step.kind)".split(separator: "(").first.map(String.init) ?? "\(step.kind)"
        }
        return "\(kind) \(shapes)"
    }
}
