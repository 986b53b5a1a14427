// Inception-ResNet v2: Inception-v4, Inception-ResNet and the Impact of Residual Connections on
// Learning (Szegedy et al., 2016, arXiv:1602.07261), as keras-team/keras
// `keras/src/applications/inception_resnet_v2.py` builds it with include_top=False. Named
// layers (mixed_5b, block35_1_mixed, block35_1_conv, block35_1_ac, conv_7b, ...) carry Keras'
// names; the rest have Keras 3's automatic names (conv2d_N, batch_normalization_N,
// activation_N, custom_scale_layer_N, ...). Layers are created in code order and sorted into
// Keras' `model.layers` order.

public enum InceptionResNetV2 {
    /// in (N, height, width, 3) -> out (N, H', W', 1536), or (N, 1536) with pooling, or with
    /// `includeTop` (N, 1000) class probabilities; H' is 8 at 299. Any input of at least 75×75
    /// (Keras' `min_size`).
    public static func graph(
        height: Int, width: Int, pooling: GlobalPooling = .none, includeTop: Bool = false
    ) throws -> Graph {
        try Graph.requireInput(height: height, width: width, atLeast: 75)
        var b = Builder(
            graph: Graph(
                name: "inception_resnet_v2", input: FeatureShape(height: height, width: width, channels: 3)))
        // Stem: 35×35×192 at 299.
        var x = try b.conv2dBN(b.graph.input, 32, 3, strides: 2, padding: .valid)
        x = try b.conv2dBN(x, 32, 3, padding: .valid)
        x = try b.conv2dBN(x, 64, 3)
        x = try b.maxPool(x)
        x = try b.conv2dBN(x, 80, 1, padding: .valid)
        x = try b.conv2dBN(x, 192, 3, padding: .valid)
        x = try b.maxPool(x)

        // Mixed 5b (Inception-A): 35×35×320.
        do {
            let branch0 = try b.conv2dBN(x, 96, 1)
            var branch1 = try b.conv2dBN(x, 48, 1)
            branch1 = try b.conv2dBN(branch1, 64, 5)
            var branch2 = try b.conv2dBN(x, 64, 1)
            branch2 = try b.conv2dBN(branch2, 96, 3)
            branch2 = try b.conv2dBN(branch2, 96, 3)
            let poolName = b.names("average_pooling2d")
            var branchPool = try b.graph.add(
                poolName, .averagePool(.init(pool: (3, 3), strides: (1, 1), padding: .same)), x)
            branchPool = try b.conv2dBN(branchPool, 64, 1)
            x = try b.graph.add("mixed_5b", .concat, branch0, branch1, branch2, branchPool)
        }
        for i in 1...10 { x = try b.residualBlock(x, .block35, index: i, scale: 0.17) }

        // Mixed 6a (Reduction-A): 17×17×1088.
        do {
            let branch0 = try b.conv2dBN(x, 384, 3, strides: 2, padding: .valid)
            var branch1 = try b.conv2dBN(x, 256, 1)
            branch1 = try b.conv2dBN(branch1, 256, 3)
            branch1 = try b.conv2dBN(branch1, 384, 3, strides: 2, padding: .valid)
            let branchPool = try b.maxPool(x)
            x = try b.graph.add("mixed_6a", .concat, branch0, branch1, branchPool)
        }
        for i in 1...20 { x = try b.residualBlock(x, .block17, index: i, scale: 0.1) }

        // Mixed 7a (Reduction-B): 8×8×2080.
        do {
            var branch0 = try b.conv2dBN(x, 256, 1)
            branch0 = try b.conv2dBN(branch0, 384, 3, strides: 2, padding: .valid)
            var branch1 = try b.conv2dBN(x, 256, 1)
            branch1 = try b.conv2dBN(branch1, 288, 3, strides: 2, padding: .valid)
            var branch2 = try b.conv2dBN(x, 256, 1)
            branch2 = try b.conv2dBN(branch2, 288, 3)
            branch2 = try b.conv2dBN(branch2, 320, 3, strides: 2, padding: .valid)
            let branchPool = try b.maxPool(x)
            x = try b.graph.add("mixed_7a", .concat, branch0, branch1, branch2, branchPool)
        }
        for i in 1...9 { x = try b.residualBlock(x, .block8, index: i, scale: 0.2) }
        // The last block8 adds its full residual and has no ReLU.
        x = try b.residualBlock(x, .block8, index: 10, scale: 1.0, activation: false)

        x = try b.conv2dBN(x, 1536, 1, name: "conv_7b")
        if includeTop {
            try b.graph.addAveragePoolClassifier(x)
        } else {
            try b.graph.addPooling(pooling, x)
        }
        return try b.graph.inKerasLayerOrder()
    }

    /// `inception_resnet_block`'s `block_type`.
    enum BlockType: String {
        case block35, block17, block8
    }

    /// The graph under construction and Keras' automatic names.
    struct Builder {
        var graph: Graph
        var names = KerasAutoNames()

        /// `conv2d_bn`: Conv2D ("same" unless given), then, without a bias,
        /// `BatchNormalization(scale=False)` (eps 1e-3), then ReLU when `activation`. A named
        /// call names its layers `name`, `name_bn`, `name_ac`.
        mutating func conv2dBN(
            _ x: NodeID, _ filters: Int, _ kernel: Int, strides: Int = 1,
            padding: PaddingMode = .same, activation: Bool = true, useBias: Bool = false,
            name: String? = nil
        ) throws -> NodeID {
            try conv2dBN(
                x, filters, (kernel, kernel), strides: strides, padding: padding,
                activation: activation, useBias: useBias, name: name)
        }

        mutating func conv2dBN(
            _ x: NodeID, _ filters: Int, _ kernel: (Int, Int), strides: Int = 1,
            padding: PaddingMode = .same, activation: Bool = true, useBias: Bool = false,
            name: String? = nil
        ) throws -> NodeID {
            let convName = name ?? names("conv2d")
            var y = try graph.add(
                convName,
                .conv2d(
                    .init(
                        filters: filters, kernel: kernel, strides: (strides, strides), padding: padding,
                        useBias: useBias)),
                x)
            if !useBias {
                let bnName = name.map { "\($0)_bn" } ?? names("batch_normalization")
                y = try graph.add(bnName, .batchNorm(epsilon: 1e-3, scale: false), y)
            }
            if activation {
                let acName = name.map { "\($0)_ac" } ?? names("activation")
                y = try graph.add(acName, .activation(.relu), y)
            }
            return y
        }

        /// `MaxPooling2D(3, strides=2)`, "valid".
        mutating func maxPool(_ x: NodeID) throws -> NodeID {
            let poolName = names("max_pooling2d")
            return try graph.add(poolName, .maxPool(.init(pool: (3, 3), strides: (2, 2))), x)
        }

        /// `inception_resnet_block`: parallel branches, concatenated (`<block>_mixed`), a 1×1
        /// up-projection with bias and no BN (`<block>_conv`) back to the input's channels,
        /// `CustomScaleLayer(scale)([x, up])` = `x + up * scale`, then ReLU (`<block>_ac`).
        mutating func residualBlock(
            _ x: NodeID, _ type: BlockType, index: Int, scale: Float, activation: Bool = true
        ) throws -> NodeID {
            var branches: [NodeID]
            switch type {
            case .block35:
                let branch0 = try conv2dBN(x, 32, 1)
                var branch1 = try conv2dBN(x, 32, 1)
                branch1 = try conv2dBN(branch1, 32, 3)
                var branch2 = try conv2dBN(x, 32, 1)
                branch2 = try conv2dBN(branch2, 48, 3)
                branch2 = try conv2dBN(branch2, 64, 3)
                branches = [branch0, branch1, branch2]
            case .block17:
                let branch0 = try conv2dBN(x, 192, 1)
                var branch1 = try conv2dBN(x, 128, 1)
                branch1 = try conv2dBN(branch1, 160, (1, 7))
                branch1 = try conv2dBN(branch1, 192, (7, 1))
                branches = [branch0, branch1]
            case .block8:
                let branch0 = try conv2dBN(x, 192, 1)
                var branch1 = try conv2dBN(x, 192, 1)
                branch1 = try conv2dBN(branch1, 224, (1, 3))
                branch1 = try conv2dBN(branch1, 256, (3, 1))
                branches = [branch0, branch1]
            }
            let blockName = "\(type.rawValue)_\(index)"
            let mixed = try graph.add("\(blockName)_mixed", .concat, inputs: branches)
            let up = try conv2dBN(
                mixed, graph.shape(x).channels, 1, activation: false, useBias: true,
                name: "\(blockName)_conv")
            let scaleName = names("custom_scale_layer")
            var y = try graph.add(scaleName, .scaledAdd(scale: scale), x, up)
            if activation { y = try graph.add("\(blockName)_ac", .activation(.relu), y) }
            return y
        }
    }
}
