// VGG16 / VGG19: Very Deep Convolutional Networks for Large-Scale Image Recognition
// (Simonyan & Zisserman, 2014, arXiv:1409.1556), as keras-team/keras
// `keras/src/applications/vgg16.py` and `vgg19.py` build them with include_top=False:
// five blocks of 3×3 "same" convolutions with bias and ReLU, each ending in a 2×2/2 max pool;
// include_top=True adds Flatten and three Dense layers.

public enum VGG {
    /// Convolutions per block: VGG16 [2, 2, 3, 3, 3], VGG19 [2, 2, 4, 4, 4].
    public static func convsPerBlock(depth: Int) -> [Int] {
        depth == 19 ? [2, 2, 4, 4, 4] : [2, 2, 3, 3, 3]
    }

    /// in (N, height, width, 3) -> out (N, H/32, W/32, 512) (floor at each pool) or (N, 512),
    /// or with `includeTop` (N, 1000) class probabilities. `depth` is 16 or 19.
    public static func graph(
        depth: Int, height: Int, width: Int, pooling: GlobalPooling = .none, includeTop: Bool = false
    ) throws -> Graph {
        precondition(depth == 16 || depth == 19, "VGG depth must be 16 or 19")
        var g = Graph(
            name: "vgg\(depth)", input: FeatureShape(height: height, width: width, channels: 3))
        let filters = [64, 128, 256, 512, 512]
        var x = g.input
        for (b, n) in convsPerBlock(depth: depth).enumerated() {
            for c in 1...n {
                x = try g.add(
                    "block\(b + 1)_conv\(c)",
                    .conv2d(
                        .init(
                            filters: filters[b], kernel: (3, 3), padding: .same, useBias: true,
                            activation: .relu)),
                    x)
            }
            x = try g.add("block\(b + 1)_pool", .maxPool(PoolParams(pool: (2, 2), strides: (2, 2))), x)
        }
        if includeTop {
            // fc1's kernel has (H/32)·(W/32)·512 rows: the published file fits 224×224 only.
            x = try g.add("flatten", .flatten, x)
            x = try g.add("fc1", .dense(units: 4096, activation: .relu), x)
            x = try g.add("fc2", .dense(units: 4096, activation: .relu), x)
            try g.add("predictions", .dense(units: Graph.imagenetClasses, activation: .softmax), x)
        } else {
            try g.addPooling(pooling, x)
        }
        return g
    }
}
