import Foundation
import WeightLoader

// A backbone as a graph of Keras layers over NHWC float32 activations.
//
// The hard-coded model families (MobileNetV2.swift, ...) build a `Graph` node by node with
// Keras' own layer names; a builder reading a saved model's `model_config` can produce the
// same thing. `CompiledGraph` turns it into a list of kernel calls at load time (batch norm
// folded into the convolution before it, activations fused into the step before them) and
// runs them over a small arena of reused buffers.

/// The per-image shape of an activation: (H, W, C). A flattened tensor (the output of a
/// global pool without keepdims) is (1, 1, C) with `flat` set.
public struct FeatureShape: Equatable, Sendable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var flat: Bool

    public init(height: Int, width: Int, channels: Int, flat: Bool = false) {
        self.height = height
        self.width = width
        self.channels = channels
        self.flat = flat
    }

    /// Floats per image.
    public var count: Int { height * width * channels }

    /// The Keras shape without the batch axis: `[H, W, C]`, or `[C]` when flat.
    public var dimensions: [Int] { flat ? [channels] : [height, width, channels] }

    public var description: String { "(\(dimensions.map(String.init).joined(separator: ",")))" }
}

/// Keras' `padding` argument of a convolution or pool; "same" is resolved against the static
/// input size when the node is added (TensorFlow rule, odd pixel bottom/right).
public enum PaddingMode: Equatable, Sendable {
    case valid
    case same
    case explicit(Padding)
}

public struct Conv2DParams: Equatable, Sendable {
    public var filters: Int
    public var kernel: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: PaddingMode
    public var groups: Int
    public var useBias: Bool
    public var activation: Activation

    public init(
        filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
        dilation: (Int, Int) = (1, 1), padding: PaddingMode = .valid, groups: Int = 1,
        useBias: Bool = true, activation: Activation = .linear
    ) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.groups = groups
        self.useBias = useBias
        self.activation = activation
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.filters == b.filters && a.kernel == b.kernel && a.strides == b.strides
            && a.dilation == b.dilation && a.padding == b.padding && a.groups == b.groups
            && a.useBias == b.useBias && a.activation == b.activation
    }
}

public struct DepthwiseParams: Equatable, Sendable {
    public var kernel: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: PaddingMode
    public var depthMultiplier: Int
    public var useBias: Bool
    public var activation: Activation

    public init(
        kernel: (Int, Int), strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1),
        padding: PaddingMode = .valid, depthMultiplier: Int = 1, useBias: Bool = true,
        activation: Activation = .linear
    ) {
        self.kernel = kernel
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.useBias = useBias
        self.activation = activation
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.kernel == b.kernel && a.strides == b.strides && a.dilation == b.dilation
            && a.padding == b.padding && a.depthMultiplier == b.depthMultiplier
            && a.useBias == b.useBias && a.activation == b.activation
    }
}

/// Keras `SeparableConv2D`: a depthwise convolution (strides, dilation, padding) then a 1×1
/// pointwise convolution to `filters`, the bias and the activation.
public struct SeparableConv2DParams: Equatable, Sendable {
    public var filters: Int
    public var kernel: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: PaddingMode
    public var depthMultiplier: Int
    public var useBias: Bool
    public var activation: Activation

    public init(
        filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
        dilation: (Int, Int) = (1, 1), padding: PaddingMode = .valid, depthMultiplier: Int = 1,
        useBias: Bool = true, activation: Activation = .linear
    ) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.useBias = useBias
        self.activation = activation
    }

    /// The depthwise half, without bias or activation (both belong to the pointwise half).
    public var depthwise: DepthwiseParams {
        DepthwiseParams(
            kernel: kernel, strides: strides, dilation: dilation, padding: padding,
            depthMultiplier: depthMultiplier, useBias: false)
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.filters == b.filters && a.kernel == b.kernel && a.strides == b.strides
            && a.dilation == b.dilation && a.padding == b.padding
            && a.depthMultiplier == b.depthMultiplier && a.useBias == b.useBias
            && a.activation == b.activation
    }
}

public struct PoolParams: Equatable, Sendable {
    public var pool: (Int, Int)
    public var strides: (Int, Int)
    public var padding: PaddingMode

    public init(pool: (Int, Int), strides: (Int, Int)? = nil, padding: PaddingMode = .valid) {
        self.pool = pool
        self.strides = strides ?? pool
        self.padding = padding
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.pool == b.pool && a.strides == b.strides && a.padding == b.padding
    }
}

/// What a node computes: one Keras layer.
public enum GraphOp: Equatable, Sendable {
    /// The model input (`InputLayer`).
    case input
    /// `Conv2D`; weights `kernel` (KH,KW,C/groups,K) and `bias` (K).
    case conv2d(Conv2DParams)
    /// `DepthwiseConv2D`; weights `kernel` (KH,KW,C,M) and `bias` (C*M).
    case depthwiseConv2d(DepthwiseParams)
    /// `SeparableConv2D`; weights `depthwise_kernel` (KH,KW,C,M), `pointwise_kernel`
    /// (1,1,C*M,K) and `bias` (K).
    case separableConv2d(SeparableConv2DParams)
    /// `Dense` over the last axis of a flat (C) tensor or of every pixel of an (H,W,C) map
    /// (one GEMM with M = H*W rows); weights `kernel` (C,units) and `bias` (units).
    case dense(units: Int, useBias: Bool = true, activation: Activation = .linear)
    /// `BatchNormalization` at inference; weights gamma/beta (when scale/center), moving stats.
    case batchNorm(epsilon: Float, scale: Bool = true, center: Bool = true)
    /// `LayerNormalization(axis=-1)` over each pixel's channels (or a flat tensor's); weights
    /// gamma/beta (C).
    case layerNormalization(epsilon: Float)
    /// `Activation`, `ReLU(6.)`, ...
    case activation(Activation)
    /// `ZeroPadding2D`.
    case zeroPadding(Padding)
    /// `Cropping2D(((top, bottom), (left, right)))`: drops rows and columns at the borders.
    case cropping2d(Padding)
    /// `Add` of all inputs, then an activation (linear in Keras; set by fusion).
    case add
    /// InceptionResNetV2's `CustomScaleLayer`: `inputs[0] + inputs[1] * scale`, then an
    /// activation (linear in Keras; set by fusion).
    case scaledAdd(scale: Float)
    /// ConvNeXt's `LayerScale`: `x * gamma` per channel; one weight (C), which Keras 3 names
    /// `variable`, `variable_1`, ... by creation order.
    case layerScale
    /// `Multiply` of two inputs: same shapes, or a (1,1,C) gate times an (H,W,C) map.
    case multiply
    /// `Concatenate(axis=-1)`.
    case concat
    case maxPool(PoolParams)
    case averagePool(PoolParams)
    case globalAveragePool(keepDims: Bool)
    case globalMaxPool(keepDims: Bool)
    /// `Rescaling(scale, offset)`: `x * scale + offset`.
    case rescaling(scale: Float, offset: Float)
    /// `Rescaling` with per-channel lists: `x * scale[c] + offset[c]`.
    case channelRescaling(scale: [Float], offset: [Float])
    /// `Normalization(axis=-1)` at inference: `(x - mean) / max(sqrt(variance), 1e-7)`. With nil
    /// mean and variance they are the layer's weights (`mean`, `variance`, `count`, as
    /// EfficientNet's file stores them); else constants from the layer config (no weights).
    case normalization(mean: [Float]? = nil, variance: [Float]? = nil)
    /// `Reshape(target_shape)`: the same floats, another shape.
    case reshape(FeatureShape)
    /// `Dropout`: the identity at inference.
    case dropout
    /// `Flatten`: an (H,W,C) map as one flat (H·W·C) vector in NHWC order, the order of the
    /// floats in memory.
    case flatten

    /// The activation argument of a convolution layer (run value by value in its epilogue).
    var convolutionActivation: Activation? {
        switch self {
        case .conv2d(let p): return p.activation
        case .depthwiseConv2d(let p): return p.activation
        case .separableConv2d(let p): return p.activation
        default: return nil
        }
    }

    /// Whether the layer owns weights (and so appears in the legacy weighted-layer order).
    public var hasWeights: Bool {
        switch self {
        case .conv2d, .depthwiseConv2d, .separableConv2d, .dense, .batchNorm: return true
        case .layerNormalization, .layerScale: return true
        case .normalization(let mean, _): return mean == nil
        default: return false
        }
    }
}

public typealias NodeID = Int

public struct GraphNode: Sendable {
    public let id: NodeID
    /// The Keras layer name, also the weight file's layer name.
    public let name: String
    public let op: GraphOp
    public let inputs: [NodeID]
    public let shape: FeatureShape
    /// The nested model (a Keras `Sequential` used as one layer, as ConvNeXt's stem and
    /// downsampling blocks are) this layer belongs to, or nil for a top-level layer. The weight
    /// file stores such a layer's arrays under the nested model's group, as
    /// `<scope>/<name>/<variable>`, and `model.layers` lists only the nested model.
    public let scope: String?

    /// The layer of the weight file (and of the catalog) holding this node's weights.
    public var weightsLayer: String { scope ?? name }
}

/// A model whose layers are added in Keras' `model.layers` order (a topological order).
public struct Graph: Sendable {
    public let name: String
    public private(set) var nodes: [GraphNode] = []
    /// The node whose value `CompiledGraph.run` returns: the last node unless set.
    public var output: NodeID?

    /// Starts a graph with its input node (`input_layer`) of the given static per-image shape.
    public init(name: String, input: FeatureShape, inputName: String = "input_layer") {
        self.name = name
        nodes.append(
            GraphNode(id: 0, name: inputName, op: .input, inputs: [], shape: input, scope: nil))
    }

    public var input: NodeID { 0 }
    public var outputNode: NodeID { output ?? nodes.count - 1 }
    /// The nodes whose values the caller reads after a run.
    public var outputNodes: [NodeID] { [outputNode] }

    public func shape(_ id: NodeID) -> FeatureShape { nodes[id].shape }

    /// Names of the layers with weights, in node order: for a faithful graph, Keras' legacy
    /// weighted-layer order (the architecture catalog's list). The layers of a nested model
    /// count once, under its name.
    public var weightedLayerNames: [String] {
        var names: [String] = []
        for node in nodes where node.op.hasWeights {
            if node.scope == nil || names.last != node.scope { names.append(node.weightsLayer) }
        }
        return names
    }

    /// Keras' `min_size` of an application: smaller inputs are refused before any layer is built.
    public static func requireInput(height: Int, width: Int, atLeast side: Int) throws {
        guard height >= side, width >= side else {
            throw GraphError.badGraph(
                layer: "input_layer", detail: "input \(height)×\(width) is smaller than \(side)×\(side)")
        }
    }

    /// Keras' `pooling` argument after the last block: nothing, or GlobalAveragePooling2D /
    /// GlobalMaxPooling2D under the family's layer names (the auto names by default).
    @discardableResult
    public mutating func addPooling(
        _ pooling: GlobalPooling, _ x: NodeID, avg: String = "global_average_pooling2d",
        max: String = "global_max_pooling2d"
    ) throws -> NodeID {
        switch pooling {
        case .none: return x
        case .avg: return try add(avg, .globalAveragePool(keepDims: false), x)
        case .max: return try add(max, .globalMaxPool(keepDims: false), x)
        }
    }

    /// Appends a layer and infers its output shape from the static input shapes. `scope` names
    /// the nested model the layer belongs to (`GraphNode.scope`).
    @discardableResult
    public mutating func add(
        _ name: String, _ op: GraphOp, _ inputs: NodeID..., in scope: String? = nil
    ) throws -> NodeID {
        try add(name, op, inputs: inputs, in: scope)
    }

    @discardableResult
    public mutating func add(
        _ name: String, _ op: GraphOp, inputs: [NodeID], in scope: String? = nil
    ) throws -> NodeID {
        for i in inputs where i < 0 || i >= nodes.count {
            throw GraphError.badGraph(layer: name, detail: "input node \(i) does not exist")
        }
        if nodes.contains(where: { $0.name == name }) {
            throw GraphError.badGraph(layer: name, detail: "duplicate layer name")
        }
        let shape = try Graph.inferShape(name, op, inputs.map { nodes[$0].shape })
        let id = nodes.count
        nodes.append(
            GraphNode(id: id, name: name, op: op, inputs: inputs, shape: shape, scope: scope))
        return id
    }

    /// The window a convolution or pool with these parameters slides over `input`.
    static func window(
        _ input: FeatureShape, batch: Int, kernel: (Int, Int), strides: (Int, Int),
        dilation: (Int, Int), padding: PaddingMode
    ) -> Window2D {
        let pad: Padding
        switch padding {
        case .valid: pad = .zero
        case .explicit(let p): pad = p
        case .same:
            pad = .same(
                height: input.height, width: input.width, kernel: kernel, strides: strides,
                dilation: dilation)
        }
        return Window2D(
            batch: batch, height: input.height, width: input.width, channels: input.channels,
            kernel: kernel, strides: strides, dilation: dilation, padding: pad)
    }

    /// Output spatial size, or nil when the window does not fit.
    private static func windowOut(
        _ s: FeatureShape, kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int),
        padding: PaddingMode
    ) -> (Int, Int)? {
        guard kernel.0 > 0, kernel.1 > 0, strides.0 > 0, strides.1 > 0, dilation.0 > 0,
            dilation.1 > 0, !s.flat
        else { return nil }
        switch padding {
        case .same:
            return (
                Padding.same(input: s.height, kernel: kernel.0, stride: strides.0, dilation: dilation.0).out,
                Padding.same(input: s.width, kernel: kernel.1, stride: strides.1, dilation: dilation.1).out
            )
        case .valid, .explicit:
            let p: Padding
            if case .explicit(let e) = padding { p = e } else { p = .zero }
            let h = Padding.valid(
                input: s.height + p.top + p.bottom, kernel: kernel.0, stride: strides.0,
                dilation: dilation.0
            ).out
            let w = Padding.valid(
                input: s.width + p.left + p.right, kernel: kernel.1, stride: strides.1,
                dilation: dilation.1
            ).out
            return h > 0 && w > 0 ? (h, w) : nil
        }
    }

    static func inferShape(_ name: String, _ op: GraphOp, _ ins: [FeatureShape]) throws
        -> FeatureShape
    {
        func fail(_ detail: String) -> GraphError { .badGraph(layer: name, detail: detail) }
        func one() throws -> FeatureShape {
            guard ins.count == 1 else { throw fail("expects 1 input, got \(ins.count)") }
            return ins[0]
        }
        // Softmax normalizes over the channels of a row; the convolution and elementwise
        // kernels apply their activation value by value, so only Dense and Activation take it.
        if let activation = op.convolutionActivation, !activation.isElementwise {
            throw fail("\(activation) is only supported on Dense and Activation layers")
        }
        switch op {
        case .input:
            throw fail("only the graph's first node is an input")
        case .conv2d(let p):
            let s = try one()
            guard p.groups > 0, s.channels % p.groups == 0, p.filters % p.groups == 0 else {
                throw fail("groups \(p.groups) must divide \(s.channels) and \(p.filters)")
            }
            guard
                let (h, w) = windowOut(
                    s, kernel: p.kernel, strides: p.strides, dilation: p.dilation,
                    padding: p.padding)
            else { throw fail("kernel \(p.kernel) does not fit input \(s)") }
            return FeatureShape(height: h, width: w, channels: p.filters)
        case .depthwiseConv2d(let p):
            let s = try one()
            guard p.depthMultiplier > 0,
                let (h, w) = windowOut(
                    s, kernel: p.kernel, strides: p.strides, dilation: p.dilation,
                    padding: p.padding)
            else { throw fail("kernel \(p.kernel) does not fit input \(s)") }
            return FeatureShape(height: h, width: w, channels: s.channels * p.depthMultiplier)
        case .separableConv2d(let p):
            let s = try one()
            guard p.depthMultiplier > 0, p.filters > 0,
                let (h, w) = windowOut(
                    s, kernel: p.kernel, strides: p.strides, dilation: p.dilation,
                    padding: p.padding)
            else { throw fail("kernel \(p.kernel) does not fit input \(s)") }
            return FeatureShape(height: h, width: w, channels: p.filters)
        case .dense(let units, _, _):
            let s = try one()
            guard units > 0 else { throw fail("Dense needs at least 1 unit, got \(units)") }
            return FeatureShape(height: s.height, width: s.width, channels: units, flat: s.flat)
        case .flatten:
            let s = try one()
            return FeatureShape(height: 1, width: 1, channels: s.count, flat: true)
        case .batchNorm, .activation, .rescaling, .dropout:
            return try one()
        case .layerNormalization, .layerScale:
            return try one()
        case .channelRescaling(let scale, let offset):
            let s = try one()
            guard scale.count == s.channels, offset.count == s.channels else {
                throw fail("\(scale.count) scales and \(offset.count) offsets for \(s.channels) channels")
            }
            return s
        case .normalization(let mean, let variance):
            let s = try one()
            guard (mean == nil) == (variance == nil),
                mean.map({ $0.count == s.channels && variance?.count == s.channels }) ?? true
            else { throw fail("mean and variance must both have \(s.channels) values") }
            return s
        case .reshape(let target):
            let s = try one()
            guard target.count == s.count else { throw fail("cannot reshape \(s) to \(target)") }
            return target
        case .zeroPadding(let p):
            let s = try one()
            guard !s.flat else { throw fail("cannot pad a flat tensor") }
            return FeatureShape(
                height: s.height + p.top + p.bottom, width: s.width + p.left + p.right,
                channels: s.channels)
        case .cropping2d(let c):
            let s = try one()
            guard !s.flat, c.top + c.bottom < s.height, c.left + c.right < s.width else {
                throw fail("cropping \(c) leaves nothing of \(s)")
            }
            return FeatureShape(
                height: s.height - c.top - c.bottom, width: s.width - c.left - c.right,
                channels: s.channels)
        case .add:
            guard ins.count >= 2, ins.allSatisfy({ $0 == ins[0] }) else {
                throw fail("adds equal shapes, got \(ins)")
            }
            return ins[0]
        case .scaledAdd:
            guard ins.count == 2, ins[0] == ins[1] else {
                throw fail("adds 2 equal shapes, got \(ins)")
            }
            return ins[0]
        case .multiply:
            guard ins.count == 2 else { throw fail("multiplies 2 inputs, got \(ins.count)") }
            let (a, b) = (ins[0], ins[1])
            if a == b { return a }
            guard a.channels == b.channels, a.height * a.width == 1 || b.height * b.width == 1
            else { throw fail("cannot broadcast \(a) and \(b)") }
            return a.height * a.width == 1 ? b : a
        case .concat:
            guard !ins.isEmpty,
                ins.allSatisfy({ $0.height == ins[0].height && $0.width == ins[0].width })
            else { throw fail("concatenates equal spatial sizes, got \(ins)") }
            return FeatureShape(
                height: ins[0].height, width: ins[0].width,
                channels: ins.reduce(0) { $0 + $1.channels }, flat: ins[0].flat)
        case .maxPool(let p), .averagePool(let p):
            let s = try one()
            guard
                let (h, w) = windowOut(
                    s, kernel: p.pool, strides: p.strides, dilation: (1, 1), padding: p.padding)
            else { throw fail("pool \(p.pool) does not fit input \(s)") }
            return FeatureShape(height: h, width: w, channels: s.channels)
        case .globalAveragePool(let keep), .globalMaxPool(let keep):
            let s = try one()
            return FeatureShape(height: 1, width: 1, channels: s.channels, flat: !keep)
        }
    }
}

/// A graph that cannot be built or loaded. One line each, naming the layer.
public enum GraphError: Error, Equatable, LocalizedError, CustomStringConvertible {
    case badGraph(layer: String, detail: String)
    case missingLayer(model: String, layer: String)
    case missingArray(layer: String, array: String, available: [String])
    case shapeMismatch(layer: String, array: String, expected: [Int], actual: [Int])
    case inputSize(model: String, expected: Int, actual: Int)
    case unsupportedArchitecture(String, supported: [String])
    case unknownLayer(model: String, layer: String, examples: [String])

    public var description: String {
        switch self {
        case .badGraph(let layer, let detail):
            return "layer '\(layer)': \(detail)"
        case .missingLayer(let model, let layer):
            return "\(model): no weights for layer '\(layer)'; the weights are for another model or variant"
        case .missingArray(let layer, let array, let available):
            return "layer '\(layer)' has no '\(array)' array (it has \(available.joined(separator: ", ")))"
        case .shapeMismatch(let layer, let array, let expected, let actual):
            return "layer '\(layer)', array '\(array)': the model expects \(expected), the weights have \(actual)"
        case .inputSize(let model, let expected, let actual):
            return "\(model): input holds \(actual) floats, expected a multiple of \(expected) (one image)"
        case .unknownLayer(let model, let layer, let examples):
            return "\(model) has no layer '\(layer)'; layers are named as in Keras, e.g. \(examples.joined(separator: ", ")) (`extract inspect` on the weights lists the weighted ones)"
        case .unsupportedArchitecture(let id, let supported):
            return "no backbone graph for \(id) yet; these run: \(supported.joined(separator: ", "))"
        }
    }

    public var errorDescription: String? { description }
}
