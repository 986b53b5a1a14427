// NASNet-A: Learning Transferable Architectures for Scalable Image Recognition (Zoph et al.,
// CVPR 2018, arXiv:1707.07012), as keras-team/keras `keras/src/applications/nasnet.py` builds
// it with include_top=False. Every weighted layer has an explicit Keras name (`normal_conv_1_0`,
// `adjust_conv_1_stem_2`, ...); the unnamed ReLUs, the adjust block's ZeroPadding2D /
// Cropping2D / concatenate and reduction block 4's add carry Keras 3's automatic names. Layers
// are created in code order and sorted into Keras' `model.layers` order.
//
// Each cell takes the previous cell's output `x` and the one before it, `p`; `_adjust_block`
// brings `p` to `x`'s size (two shifted stride-2 paths when the widths differ, a 1×1
// projection when only the channels do), so which layers exist depends on the static input.

public enum NASNet {
    /// The two keras.applications NASNets; the raw value is the architecture catalog id.
    public enum Variant: String, Sendable, CaseIterable {
        case mobile = "NASNetMobile"
        case large = "NASNetLarge"

        /// `NASNet(...)` arguments of `NASNetMobile` / `NASNetLarge`.
        var penultimateFilters: Int { self == .mobile ? 1056 : 4032 }
        var numBlocks: Int { self == .mobile ? 4 : 6 }
        var stemBlockFilters: Int { self == .mobile ? 32 : 96 }
        /// NASNetLarge keeps feeding a reduction cell's `p` (not its input) to the next cell.
        var skipReduction: Bool { self == .large }
        var filterMultiplier: Int { 2 }

        /// The Keras model name (`name=` default of the application function).
        public var modelName: String { self == .mobile ? "nasnet_mobile" : "nasnet_large" }
    }

    /// `BatchNormalization(momentum=0.9997, epsilon=1e-3)`, every NASNet BN.
    static let bn = GraphOp.batchNorm(epsilon: 1e-3)

    /// in (N, height, width, 3) -> out (N, H', W', C), or (N, C) with pooling; C = 1056 (Mobile,
    /// H' 7 at 224) or 4032 (Large, H' 11 at 331). Any input of at least 32×32 (Keras'
    /// `min_size`).
    public static func graph(
        _ variant: Variant, height: Int, width: Int, pooling: GlobalPooling = .none
    ) throws -> Graph {
        try Graph.requireInput(height: height, width: width, atLeast: 32)
        var b = Builder(
            g: Graph(
                name: variant.modelName,
                input: FeatureShape(height: height, width: width, channels: 3)))
        let m = variant.filterMultiplier
        let filters = variant.penultimateFilters / 24

        var x = try b.g.add(
            "stem_conv1",
            .conv2d(
                .init(
                    filters: variant.stemBlockFilters, kernel: (3, 3), strides: (2, 2),
                    useBias: false)),
            b.g.input)
        x = try b.g.add("stem_bn1", bn, x)

        var p: NodeID?
        (x, p) = try b.reductionCell(x, p, filters: filters / (m * m), blockID: "stem_1")
        (x, p) = try b.reductionCell(x, p, filters: filters / m, blockID: "stem_2")
        let n = variant.numBlocks
        for i in 0..<n {
            (x, p) = try b.normalCell(x, p, filters: filters, blockID: "\(i)")
        }
        var p0: NodeID
        (x, p0) = try b.reductionCell(x, p, filters: filters * m, blockID: "reduce_\(n)")
        if !variant.skipReduction { p = p0 }
        for i in 0..<n {
            (x, p) = try b.normalCell(x, p, filters: filters * m, blockID: "\(n + i + 1)")
        }
        (x, p0) = try b.reductionCell(x, p, filters: filters * m * m, blockID: "reduce_\(2 * n)")
        if !variant.skipReduction { p = p0 }
        for i in 0..<n {
            (x, p) = try b.normalCell(x, p, filters: filters * m * m, blockID: "\(2 * n + i + 1)")
        }
        x = try b.relu(x)
        try b.g.addPooling(pooling, x)
        return try b.g.inKerasLayerOrder()
    }

    /// The graph under construction and the automatic-name counters, threaded through the
    /// cell functions as nasnet.py threads its tensors.
    struct Builder {
        var g: Graph
        var names = KerasAutoNames()

        /// `Activation("relu")`, auto-named unless given a name.
        mutating func relu(_ x: NodeID, name: String? = nil) throws -> NodeID {
            try g.add(name ?? names("activation"), .activation(.relu), x)
        }

        /// `Conv2D(filters, (1, 1), padding="same", use_bias=False)`.
        mutating func conv1x1(_ name: String, _ filters: Int, _ x: NodeID) throws -> NodeID {
            let p = Conv2DParams(filters: filters, kernel: (1, 1), padding: .same, useBias: false)
            return try g.add(name, .conv2d(p), x)
        }

        /// `ZeroPadding2D(imagenet_utils.correct_pad(x, kernel))` before a stride-2 "valid"
        /// window: ((k/2 - 1 + H%2, k/2), (k/2 - 1 + W%2, k/2)).
        mutating func correctPad(_ name: String, kernel: Int, _ x: NodeID) throws -> NodeID {
            let s = g.shape(x)
            let pad = ApplicationUtils.correctPad(height: s.height, width: s.width, kernel: kernel)
            return try g.add(name, .zeroPadding(pad), x)
        }

        /// `pool`×`pool` average or max pooling.
        mutating func pool(
            _ name: String, max: Bool = false, _ pool: Int, stride: Int, _ padding: PaddingMode,
            _ x: NodeID
        ) throws -> NodeID {
            let p = PoolParams(pool: (pool, pool), strides: (stride, stride), padding: padding)
            return try g.add(name, max ? .maxPool(p) : .averagePool(p), x)
        }

        /// `_separable_conv_block`: ReLU, [ZeroPadding2D(correct_pad) when strided],
        /// SeparableConv2D + BN, ReLU, SeparableConv2D + BN.
        mutating func separableConvBlock(
            _ ip: NodeID, _ filters: Int, kernel: Int, stride: Int = 1, blockID: String
        ) throws -> NodeID {
            var x = try relu(ip)
            var padding = PaddingMode.same
            if stride == 2 {
                x = try correctPad("separable_conv_1_pad_\(blockID)", kernel: kernel, x)
                padding = .valid
            }
            x = try g.add(
                "separable_conv_1_\(blockID)",
                .separableConv2d(
                    .init(
                        filters: filters, kernel: (kernel, kernel), strides: (stride, stride),
                        padding: padding, useBias: false)),
                x)
            x = try g.add("separable_conv_1_bn_\(blockID)", bn, x)
            x = try relu(x)
            x = try g.add(
                "separable_conv_2_\(blockID)",
                .separableConv2d(
                    .init(
                        filters: filters, kernel: (kernel, kernel), padding: .same, useBias: false)),
                x)
            return try g.add("separable_conv_2_bn_\(blockID)", bn, x)
        }

        /// `_adjust_block`: `p` (nil before the first cell: `ip` itself) brought to `ip`'s width
        /// and `filters` channels. Keras compares the widths only (`p.shape[-2]`).
        mutating func adjustBlock(
            _ p: NodeID?, _ ip: NodeID, filters: Int, blockID: String
        ) throws -> NodeID {
            guard var p else { return ip }
            let (ps, ips) = (g.shape(p), g.shape(ip))
            if ps.width != ips.width {
                // Halve with two 1×1/2 "pools" (subsampling), the second shifted by one pixel
                // (pad bottom/right, crop top/left), each to filters/2 channels.
                p = try relu(p, name: "adjust_relu_1_\(blockID)")
                var p1 = try pool("adjust_avg_pool_1_\(blockID)", 1, stride: 2, .valid, p)
                p1 = try conv1x1("adjust_conv_1_\(blockID)", filters / 2, p1)
                let padBottomRight = Padding(top: 0, bottom: 1, left: 0, right: 1)
                let cropTopLeft = Padding(top: 1, bottom: 0, left: 1, right: 0)
                var p2 = try g.add(names("zero_padding2d"), .zeroPadding(padBottomRight), p)
                p2 = try g.add(names("cropping2d"), .cropping2d(cropTopLeft), p2)
                p2 = try pool("adjust_avg_pool_2_\(blockID)", 1, stride: 2, .valid, p2)
                p2 = try conv1x1("adjust_conv_2_\(blockID)", filters / 2, p2)
                p = try g.add(names("concatenate"), .concat, p1, p2)
                p = try g.add("adjust_bn_\(blockID)", bn, p)
            } else if ps.channels != filters {
                p = try relu(p)
                p = try conv1x1("adjust_conv_projection_\(blockID)", filters, p)
                p = try g.add("adjust_bn_\(blockID)", bn, p)
            }
            return p
        }

        /// `_normal_a_cell`: in x (H, W, C), p -> (x' (H, W, 6·filters), x).
        mutating func normalCell(
            _ ip: NodeID, _ p: NodeID?, filters: Int, blockID id: String
        ) throws -> (NodeID, NodeID) {
            let p = try adjustBlock(p, ip, filters: filters, blockID: id)
            var h = try relu(ip)
            h = try conv1x1("normal_conv_1_\(id)", filters, h)
            h = try g.add("normal_bn_1_\(id)", bn, h)

            let x1_1 = try separableConvBlock(h, filters, kernel: 5, blockID: "normal_left1_\(id)")
            let x1_2 = try separableConvBlock(p, filters, kernel: 3, blockID: "normal_right1_\(id)")
            let x1 = try g.add("normal_add_1_\(id)", .add, x1_1, x1_2)

            let x2_1 = try separableConvBlock(p, filters, kernel: 5, blockID: "normal_left2_\(id)")
            let x2_2 = try separableConvBlock(p, filters, kernel: 3, blockID: "normal_right2_\(id)")
            let x2 = try g.add("normal_add_2_\(id)", .add, x2_1, x2_2)

            var x3 = try pool("normal_left3_\(id)", 3, stride: 1, .same, h)
            x3 = try g.add("normal_add_3_\(id)", .add, x3, p)

            let x4_1 = try pool("normal_left4_\(id)", 3, stride: 1, .same, p)
            let x4_2 = try pool("normal_right4_\(id)", 3, stride: 1, .same, p)
            let x4 = try g.add("normal_add_4_\(id)", .add, x4_1, x4_2)

            var x5 = try separableConvBlock(h, filters, kernel: 3, blockID: "normal_left5_\(id)")
            x5 = try g.add("normal_add_5_\(id)", .add, x5, h)

            let x = try g.add("normal_concat_\(id)", .concat, p, x1, x2, x3, x4, x5)
            return (x, ip)
        }

        /// `_reduction_a_cell`: in x (H, W, C), p -> (x' (⌈H/2⌉, ⌈W/2⌉, 4·filters), x).
        mutating func reductionCell(
            _ ip: NodeID, _ p: NodeID?, filters: Int, blockID id: String
        ) throws -> (NodeID, NodeID) {
            let p = try adjustBlock(p, ip, filters: filters, blockID: id)
            var h = try relu(ip)
            h = try conv1x1("reduction_conv_1_\(id)", filters, h)
            h = try g.add("reduction_bn_1_\(id)", bn, h)
            let h3 = try correctPad("reduction_pad_1_\(id)", kernel: 3, h)

            let x1_1 = try separableConvBlock(
                h, filters, kernel: 5, stride: 2, blockID: "reduction_left1_\(id)")
            let x1_2 = try separableConvBlock(
                p, filters, kernel: 7, stride: 2, blockID: "reduction_right1_\(id)")
            let x1 = try g.add("reduction_add_1_\(id)", .add, x1_1, x1_2)

            // The pools read the explicitly zero-padded h3: padded cells count as zeros.
            let x2_1 = try pool("reduction_left2_\(id)", max: true, 3, stride: 2, .valid, h3)
            let x2_2 = try separableConvBlock(
                p, filters, kernel: 7, stride: 2, blockID: "reduction_right2_\(id)")
            let x2 = try g.add("reduction_add_2_\(id)", .add, x2_1, x2_2)

            let x3_1 = try pool("reduction_left3_\(id)", 3, stride: 2, .valid, h3)
            let x3_2 = try separableConvBlock(
                p, filters, kernel: 5, stride: 2, blockID: "reduction_right3_\(id)")
            let x3 = try g.add("reduction_add3_\(id)", .add, x3_1, x3_2)

            var x4 = try pool("reduction_left4_\(id)", 3, stride: 1, .same, x1)
            x4 = try g.add(names("add"), .add, x2, x4)

            let x5_1 = try separableConvBlock(
                x1, filters, kernel: 3, blockID: "reduction_left4_\(id)")
            let x5_2 = try pool("reduction_right5_\(id)", max: true, 3, stride: 2, .valid, h3)
            let x5 = try g.add("reduction_add4_\(id)", .add, x5_1, x5_2)

            let x = try g.add("reduction_concat_\(id)", .concat, x2, x3, x4, x5)
            return (x, ip)
        }
    }
}
