// ResNet (He et al., 2015, arXiv:1512.03385) and ResNetV2 (He et al., 2016, arXiv:1603.05027),
// as keras-team/keras `keras/src/applications/resnet.py` and `resnet_v2.py` build them with
// include_top=False. Layer names are Keras' string literals, so they are the weight file's group
// names; the node order is Keras' `model.layers` order (within a block the shortcut convolution
// comes after the main branch's second convolution, as Keras sorts layers by depth).

public enum ResNet {
    /// The six keras.applications ResNets; the raw value is the architecture catalog id.
    public enum Variant: String, Sendable, CaseIterable {
        case resnet50 = "ResNet50"
        case resnet101 = "ResNet101"
        case resnet152 = "ResNet152"
        case resnet50V2 = "ResNet50V2"
        case resnet101V2 = "ResNet101V2"
        case resnet152V2 = "ResNet152V2"

        /// ResNetV2: pre-activation blocks (`residual_block_v2`), else `residual_block_v1`.
        public var preact: Bool {
            switch self {
            case .resnet50V2, .resnet101V2, .resnet152V2: return true
            default: return false
            }
        }

        /// The Keras model name (`name=` default of the application function).
        public var modelName: String { rawValue.lowercased() }

        /// (stack name, bottleneck filters, blocks, stride) of conv2...conv5. In v1 the stride
        /// is the first block's (on its first 1×1 conv); in v2 the last block's (on its 3×3).
        public var stacks: [(name: String, filters: Int, blocks: Int, stride: Int)] {
            let (b3, b4): (Int, Int)
            switch self {
            case .resnet50, .resnet50V2: (b3, b4) = (4, 6)
            case .resnet101, .resnet101V2: (b3, b4) = (4, 23)
            case .resnet152, .resnet152V2: (b3, b4) = (8, 36)
            }
            // v1: conv2 stride1=1, the rest 2. v2: conv5 stride1=1, the rest 2.
            return [
                ("conv2", 64, 3, preact ? 2 : 1),
                ("conv3", 128, b3, 2),
                ("conv4", 256, b4, 2),
                ("conv5", 512, 3, preact ? 1 : 2),
            ]
        }
    }

    /// `BatchNormalization(epsilon=1.001e-5)`, every ResNet BN.
    static let bn = GraphOp.batchNorm(epsilon: 1.001e-5)

    /// in (N, height, width, 3) -> out (N, ceil-ish H/32, W/32, 2048), or (N, 2048) with pooling,
    /// or with `includeTop` (N, 1000) class probabilities (`avg_pool` + `predictions`).
    /// Any input of at least 32×32 (Keras' `min_size`).
    public static func graph(
        _ variant: Variant, height: Int, width: Int, pooling: GlobalPooling = .none,
        includeTop: Bool = false
    ) throws -> Graph {
        var g = Graph(
            name: variant.modelName, input: FeatureShape(height: height, width: width, channels: 3))
        try Graph.requireInput(height: height, width: width, atLeast: 32)
        // Stem: conv1 7×7/2 (bias in both versions) after (3,3) zero padding; BN + ReLU only in v1;
        // then 3×3/2 max pool after (1,1) zero padding.
        var x = try g.add("conv1_pad", .zeroPadding(Padding(top: 3, bottom: 3, left: 3, right: 3)), g.input)
        x = try g.add("conv1_conv", .conv2d(.init(filters: 64, kernel: (7, 7), strides: (2, 2))), x)
        if !variant.preact {
            x = try g.add("conv1_bn", bn, x)
            x = try g.add("conv1_relu", .activation(.relu), x)
        }
        x = try g.add("pool1_pad", .zeroPadding(Padding(top: 1, bottom: 1, left: 1, right: 1)), x)
        x = try g.add("pool1_pool", .maxPool(.init(pool: (3, 3), strides: (2, 2))), x)

        var autoPools = 0  // Keras' auto names of the v2 identity-shortcut MaxPooling2D layers
        for stack in variant.stacks {
            for i in 1...stack.blocks {
                let name = "\(stack.name)_block\(i)"
                if variant.preact {
                    let stride = i == stack.blocks ? stack.stride : 1
                    x = try blockV2(
                        &g, x, filters: stack.filters, stride: stride, convShortcut: i == 1,
                        name: name, autoPools: &autoPools)
                } else {
                    x = try blockV1(
                        &g, x, filters: stack.filters, stride: i == 1 ? stack.stride : 1,
                        convShortcut: i == 1, name: name)
                }
            }
        }
        if variant.preact {
            x = try g.add("post_bn", bn, x)
            x = try g.add("post_relu", .activation(.relu), x)
        }
        if includeTop {
            try g.addAveragePoolClassifier(x)
        } else {
            try g.addPooling(pooling, x, avg: "avg_pool", max: "max_pool")
        }
        return g
    }

    /// `residual_block_v1`: 1×1 (stride) + BN + ReLU, 3×3 "same" + BN + ReLU, 1×1 (4·filters)
    /// + BN, added to the shortcut (1×1 conv with stride + BN, or identity), then ReLU.
    static func blockV1(
        _ g: inout Graph, _ input: NodeID, filters: Int, stride: Int, convShortcut: Bool,
        name: String
    ) throws -> NodeID {
        var x = try g.add(
            "\(name)_1_conv", .conv2d(.init(filters: filters, kernel: (1, 1), strides: (stride, stride))), input)
        x = try g.add("\(name)_1_bn", bn, x)
        x = try g.add("\(name)_1_relu", .activation(.relu), x)
        x = try g.add("\(name)_2_conv", .conv2d(.init(filters: filters, kernel: (3, 3), padding: .same)), x)
        x = try g.add("\(name)_2_bn", bn, x)
        x = try g.add("\(name)_2_relu", .activation(.relu), x)
        var shortcut = input
        if convShortcut {
            shortcut = try g.add(
                "\(name)_0_conv",
                .conv2d(.init(filters: 4 * filters, kernel: (1, 1), strides: (stride, stride))), input)
        }
        x = try g.add("\(name)_3_conv", .conv2d(.init(filters: 4 * filters, kernel: (1, 1))), x)
        if convShortcut { shortcut = try g.add("\(name)_0_bn", bn, shortcut) }
        x = try g.add("\(name)_3_bn", bn, x)
        x = try g.add("\(name)_add", .add, shortcut, x)
        return try g.add("\(name)_out", .activation(.relu), x)
    }

    /// `residual_block_v2`: BN + ReLU pre-activation; 1×1 (no bias) + BN + ReLU, (1,1) zero
    /// padding + 3×3 valid with stride (no bias) + BN + ReLU, 1×1 (4·filters, bias); added to
    /// the shortcut: 1×1 conv with stride on the pre-activation, or the raw input, through
    /// `MaxPooling2D(1, strides=stride)` when the stride is 2.
    static func blockV2(
        _ g: inout Graph, _ input: NodeID, filters: Int, stride: Int, convShortcut: Bool,
        name: String, autoPools: inout Int
    ) throws -> NodeID {
        var preact = try g.add("\(name)_preact_bn", bn, input)
        preact = try g.add("\(name)_preact_relu", .activation(.relu), preact)
        var x = try g.add(
            "\(name)_1_conv", .conv2d(.init(filters: filters, kernel: (1, 1), useBias: false)), preact)
        x = try g.add("\(name)_1_bn", bn, x)
        x = try g.add("\(name)_1_relu", .activation(.relu), x)
        x = try g.add("\(name)_2_pad", .zeroPadding(Padding(top: 1, bottom: 1, left: 1, right: 1)), x)
        x = try g.add(
            "\(name)_2_conv",
            .conv2d(.init(filters: filters, kernel: (3, 3), strides: (stride, stride), useBias: false)), x)
        x = try g.add("\(name)_2_bn", bn, x)
        x = try g.add("\(name)_2_relu", .activation(.relu), x)
        var shortcut = input
        if convShortcut {
            shortcut = try g.add(
                "\(name)_0_conv",
                .conv2d(.init(filters: 4 * filters, kernel: (1, 1), strides: (stride, stride))), preact)
        } else if stride > 1 {
            let poolName = autoPools == 0 ? "max_pooling2d" : "max_pooling2d_\(autoPools)"
            autoPools += 1
            shortcut = try g.add(
                poolName, .maxPool(.init(pool: (1, 1), strides: (stride, stride))), input)
        }
        x = try g.add("\(name)_3_conv", .conv2d(.init(filters: 4 * filters, kernel: (1, 1))), x)
        return try g.add("\(name)_out", .add, shortcut, x)
    }

    /// The fchollet v0.2 ResNet50 (keras-applications `resnet50.py`; the file
    /// `resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5` with md5 a268eb85… that old caches
    /// still hold): ResNet50 v1's arithmetic with the Keras 1 names (`res2a_branch2a`,
    /// `bn2a_branch2a`, `bn_conv1`), BatchNormalization's default epsilon 1e-3, and the shortcut
    /// conv after the main path in `model.layers` order.
    public static func graphV02(height: Int, width: Int, pooling: GlobalPooling = .none) throws -> Graph {
        var g = Graph(name: "resnet50", input: FeatureShape(height: height, width: width, channels: 3))
        try Graph.requireInput(height: height, width: width, atLeast: 32)
        let bn: GraphOp = .batchNorm(epsilon: 1e-3)
        var x = try g.add("conv1_pad", .zeroPadding(Padding(top: 3, bottom: 3, left: 3, right: 3)), g.input)
        x = try g.add("conv1", .conv2d(.init(filters: 64, kernel: (7, 7), strides: (2, 2))), x)
        x = try g.add("bn_conv1", bn, x)
        x = try g.add("activation", .activation(.relu), x)
        x = try g.add("pool1_pad", .zeroPadding(Padding(top: 1, bottom: 1, left: 1, right: 1)), x)
        x = try g.add("max_pooling2d", .maxPool(.init(pool: (3, 3), strides: (2, 2))), x)
        var activations = 1  // auto-named Activation layers so far
        func relu(_ input: NodeID) throws -> NodeID {
            defer { activations += 1 }
            return try g.add("activation_\(activations)", .activation(.relu), input)
        }
        // (stage, filters, blocks): conv_block 'a' (stride 2 from stage 3), identity blocks after.
        for (stage, filters, blocks) in [(2, 64, 3), (3, 128, 4), (4, 256, 6), (5, 512, 3)] {
            for b in 0..<blocks {
                let block = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(b)))
                let conv = "res\(stage)\(block)_branch", norm = "bn\(stage)\(block)_branch"
                let stride = b == 0 && stage > 2 ? 2 : 1
                let input = x
                x = try g.add(
                    "\(conv)2a", .conv2d(.init(filters: filters, kernel: (1, 1), strides: (stride, stride))), x)
                x = try g.add("\(norm)2a", bn, x)
                x = try relu(x)
                x = try g.add("\(conv)2b", .conv2d(.init(filters: filters, kernel: (3, 3), padding: .same)), x)
                x = try g.add("\(norm)2b", bn, x)
                x = try relu(x)
                x = try g.add("\(conv)2c", .conv2d(.init(filters: 4 * filters, kernel: (1, 1))), x)
                var shortcut = input
                if b == 0 {
                    shortcut = try g.add(
                        "\(conv)1", .conv2d(.init(filters: 4 * filters, kernel: (1, 1), strides: (stride, stride))),
                        input)
                }
                x = try g.add("\(norm)2c", bn, x)
                if b == 0 { shortcut = try g.add("\(norm)1", bn, shortcut) }
                x = try g.add("add_\(stage)\(block)", .add, x, shortcut)
                x = try relu(x)
            }
        }
        try g.addPooling(pooling, x)
        return g
    }
}
