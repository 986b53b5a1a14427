// MobileNetV3 (Howard et al., 2019, "Searching for MobileNetV3", arXiv:1905.02244), as
// keras-team/keras `keras/src/applications/mobilenet_v3.py` builds it with include_top=False and
// include_preprocessing=True. Layer names are Keras' string literals, so they are the weight
// file's group names; the node order is Keras' `model.layers` order. Keras' weightless pieces
// without a name (ReLU, hard_swish Activation, and the `x + 3.0` / `* (1/6)` ops of its
// hard-sigmoid) get Keras 3's auto names in a fresh session (`re_lu_1`, `activation_2`, `add`, ...).

public enum MobileNetV3 {
    public enum Size: String, Sendable, CaseIterable {
        case small = "Small"
        case large = "Large"

        /// `last_point_ch`: the width of the classifier's `conv_2` (alpha <= 1).
        var lastPointChannels: Int { self == .small ? 1024 : 1280 }
    }

    /// The six published configurations (alpha 0.75 and 1.0, minimalistic only at 1.0).
    public struct Variant: Equatable, Sendable {
        public var size: Size
        public var alpha: Double
        public var minimalistic: Bool

        public init(_ size: Size, alpha: Double = 1.0, minimalistic: Bool = false) {
            self.size = size
            self.alpha = alpha
            self.minimalistic = minimalistic
        }

        /// The catalog id: "MobileNetV3Small", "MobileNetV3Large_0.75",
        /// "MobileNetV3Small_minimalistic".
        public var id: String {
            let base = "MobileNetV3\(size.rawValue)"
            if minimalistic { return base + "_minimalistic" }
            return alpha == 1.0 ? base : "\(base)_\(alpha)"
        }

        public static let all: [Variant] = Size.allCases.flatMap { size in
            [Variant(size), Variant(size, alpha: 0.75), Variant(size, minimalistic: true)]
        }

        public init?(id: String) {
            guard let v = Variant.all.first(where: { $0.id == id }) else { return nil }
            self = v
        }
    }

    /// Keras 3's auto names for unnamed layers and ops: the first `re_lu`, then `re_lu_1`, ...
    struct AutoNames {
        private var used: [String: Int] = [:]

        mutating func next(_ base: String) -> String {
            let n = used[base, default: 0]
            used[base] = n + 1
            return n == 0 ? base : "\(base)_\(n)"
        }
    }

    /// `BatchNormalization(epsilon=1e-3, momentum=0.999)`, every MobileNetV3 BN.
    static let bn = GraphOp.batchNorm(epsilon: 1e-3)

    /// The block activations of `mobilenet_v3.py`: `relu` is an unnamed `ReLU()`, `hard_swish`
    /// an unnamed `Activation("hard_swish")` (x * relu6(x + 3) / 6).
    enum BlockActivation {
        case relu
        case hardSwish

        func add(_ g: inout Graph, _ x: NodeID, _ names: inout AutoNames) throws -> NodeID {
            switch self {
            case .relu: return try g.add(names.next("re_lu"), .activation(.relu), x)
            case .hardSwish: return try g.add(names.next("activation"), .activation(.hardSwish), x)
            }
        }
    }

    /// One `_inverted_res_block` call of a `stack_fn`: `expansion` is Keras' float ratio
    /// (72/16, 2.3, ...), `filters` before `depth()`, `se` whether it gets `se_ratio`.
    struct Block {
        let expansion: Double
        let filters: Int
        /// nil: the stack's `kernel` argument (5, or 3 when minimalistic).
        let kernel: Int?
        let stride: Int
        let se: Bool
        /// false: `relu`; true: the stack's `activation` argument (hard_swish or relu).
        let stackActivation: Bool

        init(_ expansion: Double, _ filters: Int, _ kernel: Int?, _ stride: Int, se: Bool, act: Bool) {
            self.expansion = expansion
            self.filters = filters
            self.kernel = kernel
            self.stride = stride
            self.se = se
            self.stackActivation = act
        }
    }

    /// `MobileNetV3Small`'s and `MobileNetV3Large`'s `stack_fn`, block_id = index.
    static func stack(_ size: Size) -> [Block] {
        switch size {
        case .small:
            return [
                Block(1, 16, 3, 2, se: true, act: false),
                Block(72.0 / 16, 24, 3, 2, se: false, act: false),
                Block(88.0 / 24, 24, 3, 1, se: false, act: false),
                Block(4, 40, nil, 2, se: true, act: true),
                Block(6, 40, nil, 1, se: true, act: true),
                Block(6, 40, nil, 1, se: true, act: true),
                Block(3, 48, nil, 1, se: true, act: true),
                Block(3, 48, nil, 1, se: true, act: true),
                Block(6, 96, nil, 2, se: true, act: true),
                Block(6, 96, nil, 1, se: true, act: true),
                Block(6, 96, nil, 1, se: true, act: true),
            ]
        case .large:
            return [
                Block(1, 16, 3, 1, se: false, act: false),
                Block(4, 24, 3, 2, se: false, act: false),
                Block(3, 24, 3, 1, se: false, act: false),
                Block(3, 40, nil, 2, se: true, act: false),
                Block(3, 40, nil, 1, se: true, act: false),
                Block(3, 40, nil, 1, se: true, act: false),
                Block(6, 80, 3, 2, se: false, act: true),
                Block(2.5, 80, 3, 1, se: false, act: true),
                Block(2.3, 80, 3, 1, se: false, act: true),
                Block(2.3, 80, 3, 1, se: false, act: true),
                Block(6, 112, 3, 1, se: true, act: true),
                Block(6, 112, 3, 1, se: true, act: true),
                Block(6, 160, nil, 2, se: true, act: true),
                Block(6, 160, nil, 1, se: true, act: true),
                Block(6, 160, nil, 1, se: true, act: true),
            ]
        }
    }

    /// in (N, height, width, 3) pixels in [0, 255] -> out (N, H', W', C) or (N, C) with pooling;
    /// C = 576 (Small) / 960 (Large) at alpha 1, 432 / 720 at 0.75; with `includeTop` (N, 1000)
    /// class probabilities. Any input of at least 32×32.
    public static func graph(
        _ variant: Variant, height: Int, width: Int, pooling: GlobalPooling = .none,
        includeTop: Bool = false
    ) throws -> Graph {
        var g = Graph(
            name: "MobileNetV3\(variant.size.rawValue)",
            input: FeatureShape(height: height, width: width, channels: 3))
        try Graph.requireInput(height: height, width: width, atLeast: 32)
        var names = AutoNames()
        let (kernel, activation, seRatio): (Int, BlockActivation, Double?) =
            variant.minimalistic ? (3, .relu, nil) : (5, .hardSwish, 0.25)

        // include_preprocessing=True: [0, 255] -> [-1, 1] inside the model.
        var x = try g.add(
            names.next("rescaling"), .rescaling(scale: Float(1.0 / 127.5), offset: -1), g.input)
        x = try g.add(
            "conv",
            .conv2d(.init(filters: 16, kernel: (3, 3), strides: (2, 2), padding: .same, useBias: false)),
            x)
        x = try g.add("conv_bn", bn, x)
        x = try activation.add(&g, x, &names)

        for (blockID, b) in stack(variant.size).enumerated() {
            x = try invertedResBlock(
                &g, x, expansion: b.expansion,
                filters: ApplicationUtils.makeDivisible(Double(b.filters) * variant.alpha, 8),
                kernel: b.kernel ?? kernel, stride: b.stride, seRatio: b.se ? seRatio : nil,
                activation: b.stackActivation ? activation : .relu, blockID: blockID,
                names: &names)
        }

        let lastConvChannels = ApplicationUtils.makeDivisible(Double(g.shape(x).channels * 6), 8)
        x = try g.add(
            "conv_1", .conv2d(.init(filters: lastConvChannels, kernel: (1, 1), padding: .same, useBias: false)), x)
        x = try g.add("conv_1_bn", bn, x)
        x = try activation.add(&g, x, &names)
        if includeTop {
            // A convolutional head on the pooled (1, 1, C) map: conv_2 (with bias) + the stack's
            // activation, Dropout(0.2), the `logits` 1×1 convolution, Flatten, softmax.
            let lastPoint =
                variant.alpha > 1.0
                ? ApplicationUtils.makeDivisible(Double(variant.size.lastPointChannels) * variant.alpha, 8)
                : variant.size.lastPointChannels
            x = try g.add(names.next("global_average_pooling2d"), .globalAveragePool(keepDims: true), x)
            x = try g.add("conv_2", .conv2d(.init(filters: lastPoint, kernel: (1, 1), padding: .same)), x)
            x = try activation.add(&g, x, &names)
            x = try g.add(names.next("dropout"), .dropout, x)
            x = try g.add(
                "logits", .conv2d(.init(filters: Graph.imagenetClasses, kernel: (1, 1), padding: .same)), x)
            x = try g.add(names.next("flatten"), .flatten, x)
            try g.add("predictions", .activation(.softmax), x)
        } else {
            try g.addPooling(pooling, x, avg: "avg_pool", max: "max_pool")
        }
        return g
    }

    /// `_inverted_res_block`: [1×1 expand + BN + activation] (not in block 0), depthwise
    /// (stride 2 after `correct_pad` zero padding, else "same") + BN + activation, [squeeze-
    /// excite], 1×1 linear projection + BN, and a residual `Add` when the shapes allow.
    static func invertedResBlock(
        _ g: inout Graph, _ inputs: NodeID, expansion: Double, filters: Int, kernel: Int,
        stride: Int, seRatio: Double?, activation: BlockActivation, blockID: Int,
        names: inout AutoNames
    ) throws -> NodeID {
        let inFilters = g.shape(inputs).channels
        let expanded = ApplicationUtils.makeDivisible(Double(inFilters) * expansion, 8)
        var prefix = "expanded_conv_"
        var x = inputs
        if blockID != 0 {
            prefix = "expanded_conv_\(blockID)_"
            x = try g.add(
                "\(prefix)expand",
                .conv2d(.init(filters: expanded, kernel: (1, 1), padding: .same, useBias: false)), x)
            x = try g.add("\(prefix)expand_bn", bn, x)
            x = try activation.add(&g, x, &names)
        }
        x = try ApplicationUtils.correctPaddedDepthwise(
            &g, pad: "\(prefix)depthwise_pad", "\(prefix)depthwise", kernel: kernel, stride: stride, x)
        x = try g.add("\(prefix)depthwise_bn", bn, x)
        x = try activation.add(&g, x, &names)
        if let seRatio {
            x = try seBlock(&g, x, filters: expanded, seRatio: seRatio, prefix: prefix, names: &names)
        }
        x = try g.add(
            "\(prefix)project",
            .conv2d(.init(filters: filters, kernel: (1, 1), padding: .same, useBias: false)), x)
        x = try g.add("\(prefix)project_bn", bn, x)
        if stride == 1 && inFilters == filters {
            x = try g.add("\(prefix)add", .add, inputs, x)
        }
        return x
    }

    /// `_se_block`: GAP (keepdims) -> 1×1 conv + bias -> ReLU -> 1×1 conv + bias -> hard sigmoid
    /// -> `Multiply` with the block's map. The hard sigmoid is mobilenet_v3.py's own
    /// `ReLU(6.)(x + 3.) * (1. / 6.)`: an add op, a ReLU(6) layer and a multiply op, kept as three
    /// nodes so the float32 steps are TensorFlow's (a multiply by 1/6, not a division by 6).
    static func seBlock(
        _ g: inout Graph, _ inputs: NodeID, filters: Int, seRatio: Double, prefix: String,
        names: inout AutoNames
    ) throws -> NodeID {
        var x = try g.add("\(prefix)squeeze_excite_avg_pool", .globalAveragePool(keepDims: true), inputs)
        x = try g.add(
            "\(prefix)squeeze_excite_conv",
            .conv2d(
                .init(
                    filters: ApplicationUtils.makeDivisible(Double(filters) * seRatio, 8), kernel: (1, 1),
                    padding: .same)),
            x)
        x = try g.add("\(prefix)squeeze_excite_relu", .activation(.relu), x)
        x = try g.add(
            "\(prefix)squeeze_excite_conv_1",
            .conv2d(.init(filters: filters, kernel: (1, 1), padding: .same)), x)
        // Python evaluates `layers.ReLU(6.0)` before its argument `x + 3.0`, as the names show.
        let reluName = names.next("re_lu")
        x = try g.add(names.next("add"), .rescaling(scale: 1, offset: 3), x)
        x = try g.add(reluName, .activation(.relu6), x)
        x = try g.add(names.next("multiply"), .rescaling(scale: Float(1.0 / 6.0), offset: 0), x)
        return try g.add("\(prefix)squeeze_excite_mul", .multiply, inputs, x)
    }
}
