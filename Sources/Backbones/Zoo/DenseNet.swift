// DenseNet: Densely Connected Convolutional Networks (Huang et al., 2017, arXiv:1608.06993), as
// keras-team/keras `keras/src/applications/densenet.py` builds it with include_top=False. Layer
// names are Keras' string literals (the two ZeroPadding2D layers are auto-named); layers are
// created in code order and sorted into Keras' `model.layers` order. The blocks are
// pre-activation (BN -> ReLU -> Conv): those BNs feed a ReLU, not a convolution, so they run as
// a per-channel scale/offset step with the ReLU fused.

public enum DenseNet {
    /// The three keras.applications DenseNets; the raw value is the architecture catalog id.
    public enum Variant: String, Sendable, CaseIterable {
        case densenet121 = "DenseNet121"
        case densenet169 = "DenseNet169"
        case densenet201 = "DenseNet201"

        /// Conv blocks of the dense blocks conv2...conv5.
        public var blocks: [Int] {
            switch self {
            case .densenet121: return [6, 12, 24, 16]
            case .densenet169: return [6, 12, 32, 32]
            case .densenet201: return [6, 12, 48, 32]
            }
        }

        /// The Keras model name (`name=` default of the application function).
        public var modelName: String { rawValue.lowercased() }
    }

    /// `BatchNormalization(epsilon=1.001e-5)`, every DenseNet BN.
    static let bn = GraphOp.batchNorm(epsilon: 1.001e-5)
    /// `growth_rate` of every conv block.
    static let growthRate = 32

    /// in (N, height, width, 3) -> out (N, H', W', C), or (N, C) with pooling, or with
    /// `includeTop` (N, 1000) class probabilities; H' is 7 at 224 and C = 1024, 1664, 1920.
    /// Any input of at least 32×32 (Keras' `min_size`).
    public static func graph(
        _ variant: Variant, height: Int, width: Int, pooling: GlobalPooling = .none,
        includeTop: Bool = false
    ) throws -> Graph {
        try Graph.requireInput(height: height, width: width, atLeast: 32)
        var g = Graph(
            name: variant.modelName, input: FeatureShape(height: height, width: width, channels: 3))
        var names = KerasAutoNames()
        // Stem: explicit zero padding, then "valid" 7×7/2 conv and 3×3/2 max pool (after ReLU,
        // so the padding zeros never win the max).
        var x = try g.add(
            names("zero_padding2d"), .zeroPadding(Padding(top: 3, bottom: 3, left: 3, right: 3)), g.input)
        x = try g.add(
            "conv1_conv", .conv2d(.init(filters: 64, kernel: (7, 7), strides: (2, 2), useBias: false)), x)
        x = try g.add("conv1_bn", bn, x)
        x = try g.add("conv1_relu", .activation(.relu), x)
        x = try g.add(
            names("zero_padding2d"), .zeroPadding(Padding(top: 1, bottom: 1, left: 1, right: 1)), x)
        x = try g.add("pool1", .maxPool(.init(pool: (3, 3), strides: (2, 2))), x)

        for (i, blocks) in variant.blocks.enumerated() {
            for j in 1...blocks { x = try convBlock(&g, x, name: "conv\(i + 2)_block\(j)") }
            if i < 3 { x = try transitionBlock(&g, x, reduction: 0.5, name: "pool\(i + 2)") }
        }
        x = try g.add("bn", bn, x)
        x = try g.add("relu", .activation(.relu), x)
        if includeTop {
            try g.addAveragePoolClassifier(x)
        } else {
            try g.addPooling(pooling, x, avg: "avg_pool", max: "max_pool")
        }
        return try g.inKerasLayerOrder()
    }

    /// `conv_block`: BN + ReLU + 1×1 conv (4·growth) + BN + ReLU + 3×3 "same" conv (growth),
    /// concatenated after the block input.
    static func convBlock(_ g: inout Graph, _ x: NodeID, name: String) throws -> NodeID {
        var x1 = try g.add("\(name)_0_bn", bn, x)
        x1 = try g.add("\(name)_0_relu", .activation(.relu), x1)
        x1 = try g.add(
            "\(name)_1_conv", .conv2d(.init(filters: 4 * growthRate, kernel: (1, 1), useBias: false)), x1)
        x1 = try g.add("\(name)_1_bn", bn, x1)
        x1 = try g.add("\(name)_1_relu", .activation(.relu), x1)
        x1 = try g.add(
            "\(name)_2_conv",
            .conv2d(.init(filters: growthRate, kernel: (3, 3), padding: .same, useBias: false)), x1)
        return try g.add("\(name)_concat", .concat, x, x1)
    }

    /// `transition_block`: BN + ReLU + 1×1 conv to `int(C * reduction)` + 2×2/2 average pool.
    static func transitionBlock(
        _ g: inout Graph, _ x: NodeID, reduction: Double, name: String
    ) throws -> NodeID {
        var y = try g.add("\(name)_bn", bn, x)
        y = try g.add("\(name)_relu", .activation(.relu), y)
        let filters = Int(Double(g.shape(y).channels) * reduction)
        y = try g.add("\(name)_conv", .conv2d(.init(filters: filters, kernel: (1, 1), useBias: false)), y)
        return try g.add("\(name)_pool", .averagePool(.init(pool: (2, 2), strides: (2, 2))), y)
    }
}
