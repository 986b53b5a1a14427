// Inception v3: Rethinking the Inception Architecture for Computer Vision (Szegedy et al., 2015,
// arXiv:1512.00567), as keras-team/keras `keras/src/applications/inception_v3.py` builds it with
// include_top=False. Only the mixed blocks are named in Keras; every other layer has Keras 3's
// automatic name (conv2d_N, batch_normalization_N, activation_N, ...), so the builder creates
// layers in the file's code order and then sorts them into Keras' `model.layers` order.

public enum InceptionV3 {
    /// in (N, height, width, 3) -> out (N, H', W', 2048), or (N, 2048) with pooling, or with
    /// `includeTop` (N, 1000) class probabilities; H' is 8 at 299. Any input of at least 75×75
    /// (Keras' `min_size`).
    public static func graph(
        height: Int, width: Int, pooling: GlobalPooling = .none, includeTop: Bool = false
    ) throws -> Graph {
        try Graph.requireInput(height: height, width: width, atLeast: 75)
        let input = FeatureShape(height: height, width: width, channels: 3)
        var b = Builder(graph: Graph(name: "inception_v3", input: input))
        var x = try b.conv2dBN(b.graph.input, 32, 3, 3, strides: 2, padding: .valid)
        x = try b.conv2dBN(x, 32, 3, 3, padding: .valid)
        x = try b.conv2dBN(x, 64, 3, 3)
        x = try b.maxPool(x)
        x = try b.conv2dBN(x, 80, 1, 1, padding: .valid)
        x = try b.conv2dBN(x, 192, 3, 3, padding: .valid)
        x = try b.maxPool(x)

        // mixed0...mixed2: 35×35 at 299; the pool branch has 32, 64, 64 filters.
        for (i, poolFilters) in [32, 64, 64].enumerated() {
            let branch1x1 = try b.conv2dBN(x, 64, 1, 1)
            var branch5x5 = try b.conv2dBN(x, 48, 1, 1)
            branch5x5 = try b.conv2dBN(branch5x5, 64, 5, 5)
            var branch3x3dbl = try b.conv2dBN(x, 64, 1, 1)
            branch3x3dbl = try b.conv2dBN(branch3x3dbl, 96, 3, 3)
            branch3x3dbl = try b.conv2dBN(branch3x3dbl, 96, 3, 3)
            var branchPool = try b.averagePool(x)
            branchPool = try b.conv2dBN(branchPool, poolFilters, 1, 1)
            x = try b.graph.add("mixed\(i)", .concat, branch1x1, branch5x5, branch3x3dbl, branchPool)
        }

        // mixed3: 17×17 at 299.
        do {
            let branch3x3 = try b.conv2dBN(x, 384, 3, 3, strides: 2, padding: .valid)
            var branch3x3dbl = try b.conv2dBN(x, 64, 1, 1)
            branch3x3dbl = try b.conv2dBN(branch3x3dbl, 96, 3, 3)
            branch3x3dbl = try b.conv2dBN(branch3x3dbl, 96, 3, 3, strides: 2, padding: .valid)
            let branchPool = try b.maxPool(x)
            x = try b.graph.add("mixed3", .concat, branch3x3, branch3x3dbl, branchPool)
        }

        // mixed4...mixed7: factorized 7×7 branches of 128, 160, 160, 192 filters.
        for (i, f) in [128, 160, 160, 192].enumerated() {
            let branch1x1 = try b.conv2dBN(x, 192, 1, 1)
            var branch7x7 = try b.conv2dBN(x, f, 1, 1)
            branch7x7 = try b.conv2dBN(branch7x7, f, 1, 7)
            branch7x7 = try b.conv2dBN(branch7x7, 192, 7, 1)
            var branch7x7dbl = try b.conv2dBN(x, f, 1, 1)
            branch7x7dbl = try b.conv2dBN(branch7x7dbl, f, 7, 1)
            branch7x7dbl = try b.conv2dBN(branch7x7dbl, f, 1, 7)
            branch7x7dbl = try b.conv2dBN(branch7x7dbl, f, 7, 1)
            branch7x7dbl = try b.conv2dBN(branch7x7dbl, 192, 1, 7)
            var branchPool = try b.averagePool(x)
            branchPool = try b.conv2dBN(branchPool, 192, 1, 1)
            x = try b.graph.add("mixed\(4 + i)", .concat, branch1x1, branch7x7, branch7x7dbl, branchPool)
        }

        // mixed8: 8×8 at 299.
        do {
            var branch3x3 = try b.conv2dBN(x, 192, 1, 1)
            branch3x3 = try b.conv2dBN(branch3x3, 320, 3, 3, strides: 2, padding: .valid)
            var branch7x7x3 = try b.conv2dBN(x, 192, 1, 1)
            branch7x7x3 = try b.conv2dBN(branch7x7x3, 192, 1, 7)
            branch7x7x3 = try b.conv2dBN(branch7x7x3, 192, 7, 1)
            branch7x7x3 = try b.conv2dBN(branch7x7x3, 192, 3, 3, strides: 2, padding: .valid)
            let branchPool = try b.maxPool(x)
            x = try b.graph.add("mixed8", .concat, branch3x3, branch7x7x3, branchPool)
        }

        // mixed9, mixed10: the split 1×3 / 3×1 branches; the second split concat is unnamed.
        for i in 0..<2 {
            let branch1x1 = try b.conv2dBN(x, 320, 1, 1)
            var branch3x3 = try b.conv2dBN(x, 384, 1, 1)
            let branch3x3a = try b.conv2dBN(branch3x3, 384, 1, 3)
            let branch3x3b = try b.conv2dBN(branch3x3, 384, 3, 1)
            branch3x3 = try b.graph.add("mixed9_\(i)", .concat, branch3x3a, branch3x3b)
            var branch3x3dbl = try b.conv2dBN(x, 448, 1, 1)
            branch3x3dbl = try b.conv2dBN(branch3x3dbl, 384, 3, 3)
            let branch3x3dblA = try b.conv2dBN(branch3x3dbl, 384, 1, 3)
            let branch3x3dblB = try b.conv2dBN(branch3x3dbl, 384, 3, 1)
            let concatName = b.names("concatenate")
            branch3x3dbl = try b.graph.add(concatName, .concat, branch3x3dblA, branch3x3dblB)
            var branchPool = try b.averagePool(x)
            branchPool = try b.conv2dBN(branchPool, 192, 1, 1)
            x = try b.graph.add("mixed\(9 + i)", .concat, branch1x1, branch3x3, branch3x3dbl, branchPool)
        }

        if includeTop {
            try b.graph.addAveragePoolClassifier(x)
        } else {
            try b.graph.addPooling(pooling, x)
        }
        return try b.graph.inKerasLayerOrder()
    }

    /// The graph under construction and Keras' automatic names.
    struct Builder {
        var graph: Graph
        var names = KerasAutoNames()

        /// `conv2d_bn`: Conv2D (no bias) + `BatchNormalization(scale=False)` (eps 1e-3) + ReLU.
        mutating func conv2dBN(
            _ x: NodeID, _ filters: Int, _ rows: Int, _ cols: Int, strides: Int = 1,
            padding: PaddingMode = .same
        ) throws -> NodeID {
            var y = try graph.add(
                names("conv2d"),
                .conv2d(
                    .init(
                        filters: filters, kernel: (rows, cols), strides: (strides, strides),
                        padding: padding, useBias: false)),
                x)
            y = try graph.add(names("batch_normalization"), .batchNorm(epsilon: 1e-3, scale: false), y)
            return try graph.add(names("activation"), .activation(.relu), y)
        }

        /// `MaxPooling2D((3, 3), strides=(2, 2))`, "valid".
        mutating func maxPool(_ x: NodeID) throws -> NodeID {
            try graph.add(names("max_pooling2d"), .maxPool(.init(pool: (3, 3), strides: (2, 2))), x)
        }

        /// `AveragePooling2D((3, 3), strides=(1, 1), padding="same")`: padded cells not counted.
        mutating func averagePool(_ x: NodeID) throws -> NodeID {
            try graph.add(
                names("average_pooling2d"),
                .averagePool(.init(pool: (3, 3), strides: (1, 1), padding: .same)), x)
        }
    }
}
