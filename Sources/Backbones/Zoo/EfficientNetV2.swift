import Foundation

// EfficientNetV2 B0–B3, S, M, L (Tan & Le, 2021, arXiv:2104.00298), as keras-team/keras
// `keras/src/applications/efficientnet_v2.py` builds it with include_top=False and
// include_preprocessing=True. Unlike V1 the graph does not depend on `weights`: the B variants'
// Normalization takes constant ImageNet statistics (no weights in the file), S/M/L rescale to
// [-1, 1], and every convolution is "same" (no correct_pad / ZeroPadding2D). Layer names are
// Keras' string literals, so they are the weight file's group names; nodes are added in Keras'
// `model.layers` order.

public enum EfficientNetV2 {
    /// The seven models; the raw value is the catalog id.
    public enum Variant: String, Sendable, CaseIterable {
        case b0 = "EfficientNetV2B0"
        case b1 = "EfficientNetV2B1"
        case b2 = "EfficientNetV2B2"
        case b3 = "EfficientNetV2B3"
        case s = "EfficientNetV2S"
        case m = "EfficientNetV2M"
        case l = "EfficientNetV2L"

        /// (width_coefficient, depth_coefficient, default_size) of `EfficientNetV2*`.
        public var scaling: (width: Double, depth: Double, defaultSize: Int) {
            switch self {
            case .b0: return (1.0, 1.0, 224)
            case .b1: return (1.0, 1.1, 240)
            case .b2: return (1.1, 1.2, 260)
            case .b3: return (1.2, 1.4, 300)
            case .s: return (1.0, 1.0, 384)
            case .m: return (1.0, 1.0, 480)
            case .l: return (1.0, 1.0, 480)
            }
        }

        /// The Keras model name (`name=` default), e.g. "efficientnetv2-b0", "efficientnetv2-s".
        public var modelName: String {
            "efficientnetv2-" + rawValue.dropFirst("EfficientNetV2".count).lowercased()
        }

        /// Keras applies V1's ImageNet mean/std preprocessing to the B variants only
        /// (`name.split("-")[-1].startswith("b")`).
        var isB: Bool { modelName.split(separator: "-").last?.hasPrefix("b") ?? false }

        /// `DEFAULT_BLOCKS_ARGS[name]` (B0–B3 share one table).
        var blocksArgs: [BlockArgs] {
            switch self {
            case .b0, .b1, .b2, .b3: return EfficientNetV2.blocksB
            case .s: return EfficientNetV2.blocksS
            case .m: return EfficientNetV2.blocksM
            case .l: return EfficientNetV2.blocksL
            }
        }
    }

    /// One stage of `DEFAULT_BLOCKS_ARGS`: kernel_size, num_repeat, input_filters,
    /// output_filters, expand_ratio, se_ratio, strides; `fused` is conv_type 1 (FusedMBConvBlock).
    struct BlockArgs {
        let kernel: Int, repeats: Int, filtersIn: Int, filtersOut: Int, expandRatio: Int
        let seRatio: Double, strides: Int, fused: Bool
        init(
            _ kernel: Int, _ repeats: Int, _ filtersIn: Int, _ filtersOut: Int,
            _ expandRatio: Int, _ seRatio: Double, _ strides: Int, fused: Bool
        ) {
            self.kernel = kernel
            self.repeats = repeats
            self.filtersIn = filtersIn
            self.filtersOut = filtersOut
            self.expandRatio = expandRatio
            self.seRatio = seRatio
            self.strides = strides
            self.fused = fused
        }
    }

    static let blocksB: [BlockArgs] = [
        .init(3, 1, 32, 16, 1, 0, 1, fused: true),
        .init(3, 2, 16, 32, 4, 0, 2, fused: true),
        .init(3, 2, 32, 48, 4, 0, 2, fused: true),
        .init(3, 3, 48, 96, 4, 0.25, 2, fused: false),
        .init(3, 5, 96, 112, 6, 0.25, 1, fused: false),
        .init(3, 8, 112, 192, 6, 0.25, 2, fused: false),
    ]
    static let blocksS: [BlockArgs] = [
        .init(3, 2, 24, 24, 1, 0, 1, fused: true),
        .init(3, 4, 24, 48, 4, 0, 2, fused: true),
        .init(3, 4, 48, 64, 4, 0, 2, fused: true),
        .init(3, 6, 64, 128, 4, 0.25, 2, fused: false),
        .init(3, 9, 128, 160, 6, 0.25, 1, fused: false),
        .init(3, 15, 160, 256, 6, 0.25, 2, fused: false),
    ]
    static let blocksM: [BlockArgs] = [
        .init(3, 3, 24, 24, 1, 0, 1, fused: true),
        .init(3, 5, 24, 48, 4, 0, 2, fused: true),
        .init(3, 5, 48, 80, 4, 0, 2, fused: true),
        .init(3, 7, 80, 160, 4, 0.25, 2, fused: false),
        .init(3, 14, 160, 176, 6, 0.25, 1, fused: false),
        .init(3, 18, 176, 304, 6, 0.25, 2, fused: false),
        .init(3, 5, 304, 512, 6, 0.25, 1, fused: false),
    ]
    static let blocksL: [BlockArgs] = [
        .init(3, 4, 32, 32, 1, 0, 1, fused: true),
        .init(3, 7, 32, 64, 4, 0, 2, fused: true),
        .init(3, 7, 64, 96, 4, 0, 2, fused: true),
        .init(3, 10, 96, 192, 4, 0.25, 2, fused: false),
        .init(3, 19, 192, 224, 6, 0.25, 1, fused: false),
        .init(3, 25, 224, 384, 6, 0.25, 2, fused: false),
        .init(3, 7, 384, 640, 6, 0.25, 1, fused: false),
    ]

    /// The B variants' Normalization constants: ImageNet mean and the squared std values
    /// (computed in double, then float32, as Keras casts the Python floats).
    static let imagenetMean: [Float] = [0.485, 0.456, 0.406].map { Float($0) }
    static let imagenetVariance: [Float] =
        [0.229 * 0.229, 0.224 * 0.224, 0.225 * 0.225].map { Float($0) }

    /// `BatchNormalization(momentum=0.9)` with Keras' default epsilon 1e-3, every BN here.
    static let bn = GraphOp.batchNorm(epsilon: 1e-3)

    /// `round_filters` with depth_divisor = min_depth = 8. Unlike V1/MobileNetV2's
    /// `_make_divisible` there is no "no more than 10% down" correction.
    static func roundFilters(_ filters: Int, _ widthCoefficient: Double) -> Int {
        max(8, Int(Double(filters) * widthCoefficient + 4) / 8 * 8)
    }

    /// `round_repeats`: ceil in double, as Python's `math.ceil(depth_coefficient * repeats)`.
    static func roundRepeats(_ repeats: Int, _ depthCoefficient: Double) -> Int {
        Int((depthCoefficient * Double(repeats)).rounded(.up))
    }

    /// in (N, height, width, 3) pixels in [0, 255] -> out (N, H', W', C) or (N, C) with pooling,
    /// C = round_filters(1280): 1280 (B0, B1, S, M, L), 1408 (B2), 1536 (B3). Any input of at
    /// least 32×32; every stride-2 layer is "same", so H' = ceil(H / 32).
    public static func graph(
        _ variant: Variant, height: Int, width: Int, pooling: GlobalPooling = .none
    ) throws -> Graph {
        var g = Graph(
            name: variant.modelName, input: FeatureShape(height: height, width: width, channels: 3))
        try Graph.requireInput(height: height, width: width, atLeast: 32)
        let (widthCoefficient, depthCoefficient, _) = variant.scaling
        let blocksArgs = variant.blocksArgs

        var x: NodeID
        if variant.isB {
            x = try g.add("rescaling", .rescaling(scale: Float(1.0 / 255.0), offset: 0), g.input)
            x = try g.add(
                "normalization", .normalization(mean: imagenetMean, variance: imagenetVariance), x)
        } else {
            x = try g.add("rescaling", .rescaling(scale: Float(1.0 / 128.0), offset: -1), g.input)
        }
        x = try g.add(
            "stem_conv",
            .conv2d(
                .init(
                    filters: roundFilters(blocksArgs[0].filtersIn, widthCoefficient), kernel: (3, 3),
                    strides: (2, 2), padding: .same, useBias: false)),
            x)
        x = try g.add("stem_bn", bn, x)
        x = try g.add("stem_activation", .activation(.swish), x)

        var b = 0  // running block index; Keras' survival_probability is 0.2 * b / blocks
        for (i, args) in blocksArgs.enumerated() {
            let filtersIn = roundFilters(args.filtersIn, widthCoefficient)
            let filtersOut = roundFilters(args.filtersOut, widthCoefficient)
            for j in 0..<roundRepeats(args.repeats, depthCoefficient) {
                // "block1a_", "block2b_", ...
                let name = "block\(i + 1)\(Character(UnicodeScalar(UInt8(97 + j))))_"
                let block = Block(
                    name: name, filtersIn: j > 0 ? filtersOut : filtersIn, filtersOut: filtersOut,
                    kernel: args.kernel, strides: j > 0 ? 1 : args.strides,
                    expandRatio: args.expandRatio, seRatio: args.seRatio, hasDropout: b > 0)
                x = try args.fused ? fusedMBConv(&g, x, block) : mbConv(&g, x, block)
                b += 1
            }
        }

        x = try g.add(
            "top_conv",
            .conv2d(
                .init(
                    filters: roundFilters(1280, widthCoefficient), kernel: (1, 1), padding: .same,
                    useBias: false)),
            x)
        x = try g.add("top_bn", bn, x)
        x = try g.add("top_activation", .activation(.swish), x)
        try g.addPooling(pooling, x, avg: "avg_pool", max: "max_pool")
        return g
    }

    /// One block's arguments after rounding; `hasDropout` is Keras' `if survival_probability:`
    /// (zero only for the model's first block).
    struct Block {
        let name: String, filtersIn: Int, filtersOut: Int, kernel: Int, strides: Int
        let expandRatio: Int, seRatio: Double, hasDropout: Bool
        var filters: Int { filtersIn * expandRatio }
    }

    /// `MBConvBlock`: [1×1 expand + BN + swish] (when expand_ratio != 1), depthwise "same"
    /// (`dwconv2`) + BN + swish, [squeeze-excite], 1×1 projection + BN, [residual].
    static func mbConv(_ g: inout Graph, _ inputs: NodeID, _ p: Block) throws -> NodeID {
        let name = p.name
        var x = inputs
        if p.expandRatio != 1 {
            x = try g.add(
                "\(name)expand_conv",
                .conv2d(.init(filters: p.filters, kernel: (1, 1), padding: .same, useBias: false)), x)
            x = try g.add("\(name)expand_bn", bn, x)
            x = try g.add("\(name)expand_activation", .activation(.swish), x)
        }
        x = try g.add(
            "\(name)dwconv2",
            .depthwiseConv2d(
                .init(
                    kernel: (p.kernel, p.kernel), strides: (p.strides, p.strides), padding: .same,
                    useBias: false)),
            x)
        x = try g.add("\(name)bn", bn, x)
        x = try g.add("\(name)activation", .activation(.swish), x)
        x = try squeezeExcite(&g, x, p)
        x = try g.add(
            "\(name)project_conv",
            .conv2d(.init(filters: p.filtersOut, kernel: (1, 1), padding: .same, useBias: false)), x)
        x = try g.add("\(name)project_bn", bn, x)
        return try residual(&g, x, inputs, p)
    }

    /// `FusedMBConvBlock`: the expand 1×1 and the depthwise merged into one k×k "same" conv
    /// (carrying the stride) + BN + swish, [squeeze-excite], 1×1 projection + BN; with
    /// expand_ratio 1 there is no expansion and the projection is the k×k strided conv, followed
    /// by its own swish (`project_activation`). Then [residual].
    static func fusedMBConv(_ g: inout Graph, _ inputs: NodeID, _ p: Block) throws -> NodeID {
        let name = p.name
        let expands = p.expandRatio != 1
        var x = inputs
        if expands {
            x = try g.add(
                "\(name)expand_conv",
                .conv2d(
                    .init(
                        filters: p.filters, kernel: (p.kernel, p.kernel), strides: (p.strides, p.strides),
                        padding: .same, useBias: false)),
                x)
            x = try g.add("\(name)expand_bn", bn, x)
            x = try g.add("\(name)expand_activation", .activation(.swish), x)
        }
        x = try squeezeExcite(&g, x, p)
        let k = expands ? 1 : p.kernel
        let s = expands ? 1 : p.strides
        x = try g.add(
            "\(name)project_conv",
            .conv2d(
                .init(
                    filters: p.filtersOut, kernel: (k, k), strides: (s, s), padding: .same, useBias: false)),
            x)
        x = try g.add("\(name)project_bn", bn, x)
        if !expands { x = try g.add("\(name)project_activation", .activation(.swish), x) }
        return try residual(&g, x, inputs, p)
    }

    /// `if 0 < se_ratio <= 1`: GAP, Reshape to (1,1,filters), 1×1 conv + bias + swish to
    /// max(1, int(filters_in * se_ratio)) (the block input's width, not the expanded one),
    /// 1×1 conv + bias + sigmoid back to filters, multiply.
    static func squeezeExcite(_ g: inout Graph, _ x: NodeID, _ p: Block) throws -> NodeID {
        guard p.seRatio > 0, p.seRatio <= 1 else { return x }
        let name = p.name
        let filtersSE = max(1, Int(Double(p.filtersIn) * p.seRatio))
        var se = try g.add("\(name)se_squeeze", .globalAveragePool(keepDims: false), x)
        se = try g.add(
            "\(name)se_reshape", .reshape(FeatureShape(height: 1, width: 1, channels: p.filters)), se)
        se = try g.add(
            "\(name)se_reduce",
            .conv2d(.init(filters: filtersSE, kernel: (1, 1), padding: .same, activation: .swish)), se)
        se = try g.add(
            "\(name)se_expand",
            .conv2d(.init(filters: p.filters, kernel: (1, 1), padding: .same, activation: .sigmoid)), se)
        return try g.add("\(name)se_excite", .multiply, x, se)
    }

    /// When the shapes allow: Dropout (inert here, but a named layer `--layer` can pick) + add.
    static func residual(
        _ g: inout Graph, _ x: NodeID, _ inputs: NodeID, _ p: Block
    ) throws -> NodeID {
        guard p.strides == 1, p.filtersIn == p.filtersOut else { return x }
        var x = x
        if p.hasDropout { x = try g.add("\(p.name)drop", .dropout, x) }
        return try g.add("\(p.name)add", .add, x, inputs)
    }
}
