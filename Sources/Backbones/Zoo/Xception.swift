// Xception: Deep Learning with Depthwise Separable Convolutions (Chollet, 2017, arXiv:1610.02357),
// as keras-team/keras `keras/src/applications/xception.py` builds it with include_top=False.
// The main path's layers carry Keras' names; the strided residual Conv2D/BatchNormalization
// pairs and the Add layers have Keras 3's automatic names (conv2d, batch_normalization, add, ...).
// Layers are created in code order and sorted into Keras' `model.layers` order.

public enum Xception {
    /// `BatchNormalization(axis=-1)`: Keras' default epsilon 1e-3, with gamma.
    static let bn = GraphOp.batchNorm(epsilon: 1e-3)

    /// in (N, height, width, 3) -> out (N, H', W', 2048), or (N, 2048) with pooling, or with
    /// `includeTop` (N, 1000) class probabilities; H' is 10 at 299. Any input of at least 71×71
    /// (Keras' `min_size`).
    public static func graph(
        height: Int, width: Int, pooling: GlobalPooling = .none, includeTop: Bool = false
    ) throws -> Graph {
        try Graph.requireInput(height: height, width: width, atLeast: 71)
        var g = Graph(name: "xception", input: FeatureShape(height: height, width: width, channels: 3))
        var names = KerasAutoNames()

        // Entry flow stem: two 3×3 "valid" convolutions, the first strided.
        var x = try g.add(
            "block1_conv1",
            .conv2d(.init(filters: 32, kernel: (3, 3), strides: (2, 2), useBias: false)), g.input)
        x = try g.add("block1_conv1_bn", bn, x)
        x = try g.add("block1_conv1_act", .activation(.relu), x)
        x = try g.add("block1_conv2", .conv2d(.init(filters: 64, kernel: (3, 3), useBias: false)), x)
        x = try g.add("block1_conv2_bn", bn, x)
        x = try g.add("block1_conv2_act", .activation(.relu), x)

        // Blocks 2-4 and 13: [ReLU] sepconv + BN, ReLU, sepconv + BN, 3×3/2 "same" max pool,
        // added to a strided 1×1 convolution of the block input. Block 2 has no leading ReLU
        // (its input is already block1_conv2_act) and names its second ReLU `block2_sepconv2_act`.
        for (block, f1, f2) in [(2, 128, 128), (3, 256, 256), (4, 728, 728), (13, 728, 1024)] {
            let prefix = "block\(block)"
            var residual = try g.add(
                names("conv2d"),
                .conv2d(
                    .init(
                        filters: f2, kernel: (1, 1), strides: (2, 2), padding: .same, useBias: false)),
                x)
            residual = try g.add(names("batch_normalization"), bn, residual)
            var y = x
            if block != 2 { y = try g.add("\(prefix)_sepconv1_act", .activation(.relu), y) }
            y = try g.add("\(prefix)_sepconv1", sepconv(f1), y)
            y = try g.add("\(prefix)_sepconv1_bn", bn, y)
            y = try g.add("\(prefix)_sepconv2_act", .activation(.relu), y)
            y = try g.add("\(prefix)_sepconv2", sepconv(f2), y)
            y = try g.add("\(prefix)_sepconv2_bn", bn, y)
            y = try g.add(
                "\(prefix)_pool", .maxPool(.init(pool: (3, 3), strides: (2, 2), padding: .same)), y)
            x = try g.add(names("add"), .add, y, residual)

            // Middle flow after block 4: eight identity-residual blocks of three ReLU-sepconv-BN.
            guard block == 4 else { continue }
            for i in 5...12 {
                let prefix = "block\(i)"
                var y = x
                for j in 1...3 {
                    y = try g.add("\(prefix)_sepconv\(j)_act", .activation(.relu), y)
                    y = try g.add("\(prefix)_sepconv\(j)", sepconv(728), y)
                    y = try g.add("\(prefix)_sepconv\(j)_bn", bn, y)
                }
                x = try g.add(names("add"), .add, y, x)
            }
        }

        // Exit flow: sepconv + BN + ReLU twice, no residual.
        for (j, filters) in [(1, 1536), (2, 2048)] {
            x = try g.add("block14_sepconv\(j)", sepconv(filters), x)
            x = try g.add("block14_sepconv\(j)_bn", bn, x)
            x = try g.add("block14_sepconv\(j)_act", .activation(.relu), x)
        }
        if includeTop {
            try g.addAveragePoolClassifier(x)
        } else {
            try g.addPooling(pooling, x)
        }
        return try g.inKerasLayerOrder()
    }

    /// `SeparableConv2D(filters, (3, 3), padding="same", use_bias=False)`.
    static func sepconv(_ filters: Int) -> GraphOp {
        .separableConv2d(.init(filters: filters, kernel: (3, 3), padding: .same, useBias: false))
    }
}
