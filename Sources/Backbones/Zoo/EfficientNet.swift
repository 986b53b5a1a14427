import Foundation

// EfficientNet B0–B7 (Tan & Le, 2019, arXiv:1905.11946), as keras-team/keras
// `keras/src/applications/efficientnet.py` builds it with include_top=False and
// weights="imagenet" (the files the extractor serves): that argument adds a third preprocessing
// layer, `Rescaling(1/sqrt(std))`, after the `Normalization` whose mean and variance (= the
// std values, tensorflow/tensorflow#49930) come from the weight file. Layer names are Keras'
// string literals, so they are the weight file's group names; the node order is Keras'
// `model.layers` order.

public enum EfficientNet {
    /// The eight models; the raw value is the catalog id.
    public enum Variant: String, Sendable, CaseIterable {
        case b0 = "EfficientNetB0"
        case b1 = "EfficientNetB1"
        case b2 = "EfficientNetB2"
        case b3 = "EfficientNetB3"
        case b4 = "EfficientNetB4"
        case b5 = "EfficientNetB5"
        case b6 = "EfficientNetB6"
        case b7 = "EfficientNetB7"

        /// (width_coefficient, depth_coefficient, default_size) of `EfficientNetB*`.
        public var scaling: (width: Double, depth: Double, defaultSize: Int) {
            switch self {
            case .b0: return (1.0, 1.0, 224)
            case .b1: return (1.0, 1.1, 240)
            case .b2: return (1.1, 1.2, 260)
            case .b3: return (1.2, 1.4, 300)
            case .b4: return (1.4, 1.8, 380)
            case .b5: return (1.6, 2.2, 456)
            case .b6: return (1.8, 2.6, 528)
            case .b7: return (2.0, 3.1, 600)
            }
        }

        /// The Keras model name (`name=` default), which also names the weight file.
        public var modelName: String { rawValue.lowercased() }
    }

    /// `DEFAULT_BLOCKS_ARGS`: every stage has id_skip=True and se_ratio=0.25.
    static let blocksArgs:
        [(kernel: Int, repeats: Int, filtersIn: Int, filtersOut: Int, expandRatio: Int, strides: Int)] = [
            (3, 1, 32, 16, 1, 1),
            (3, 2, 16, 24, 6, 2),
            (5, 2, 24, 40, 6, 2),
            (3, 3, 40, 80, 6, 2),
            (5, 3, 80, 112, 6, 1),
            (5, 4, 112, 192, 6, 2),
            (3, 1, 192, 320, 6, 1),
        ]
    static let seRatio = 0.25

    /// `IMAGENET_STDDEV_RGB`; the third preprocessing layer scales by `1/sqrt` of each.
    static let imagenetStddevRGB = [0.229, 0.224, 0.225]

    /// `BatchNormalization()` with Keras' default epsilon 1e-3, every EfficientNet BN.
    static let bn = GraphOp.batchNorm(epsilon: 1e-3)

    /// in (N, height, width, 3) pixels in [0, 255] -> out (N, H', W', C) or (N, C) with pooling,
    /// C = round_filters(1280): 1280 (B0, B1) ... 2560 (B7); with `includeTop` (N, 1000) class
    /// probabilities. Any input of at least 32×32.
    public static func graph(
        _ variant: Variant, height: Int, width: Int, pooling: GlobalPooling = .none,
        includeTop: Bool = false
    ) throws -> Graph {
        var g = Graph(
            name: variant.modelName, input: FeatureShape(height: height, width: width, channels: 3))
        try Graph.requireInput(height: height, width: width, atLeast: 32)
        let (widthCoefficient, depthCoefficient, _) = variant.scaling
        func roundFilters(_ filters: Int) -> Int {
            ApplicationUtils.makeDivisible(Double(filters) * widthCoefficient, 8)
        }
        func roundRepeats(_ repeats: Int) -> Int {
            Int((depthCoefficient * Double(repeats)).rounded(.up))
        }

        var x = try g.add("rescaling", .rescaling(scale: Float(1.0 / 255.0), offset: 0), g.input)
        x = try g.add("normalization", .normalization(), x)
        x = try g.add(
            "rescaling_1",
            .channelRescaling(
                scale: imagenetStddevRGB.map { Float(1.0 / $0.squareRoot()) }, offset: [0, 0, 0]),
            x)
        let s = g.shape(x)
        x = try g.add(
            "stem_conv_pad", .zeroPadding(ApplicationUtils.correctPad(height: s.height, width: s.width, kernel: 3)), x)
        x = try g.add(
            "stem_conv",
            .conv2d(.init(filters: roundFilters(32), kernel: (3, 3), strides: (2, 2), useBias: false)), x)
        x = try g.add("stem_bn", bn, x)
        x = try g.add("stem_activation", .activation(.swish), x)

        var b = 0  // running block index; Keras' drop rate is 0.2 * b / blocks
        for (i, args) in blocksArgs.enumerated() {
            let filtersIn = roundFilters(args.filtersIn)
            let filtersOut = roundFilters(args.filtersOut)
            for j in 0..<roundRepeats(args.repeats) {
                // "block1a_", "block2b_", ...
                let name = "block\(i + 1)\(Character(UnicodeScalar(UInt8(97 + j))))_"
                x = try block(
                    &g, x, hasDropout: b > 0, name: name, filtersIn: j > 0 ? filtersOut : filtersIn,
                    filtersOut: filtersOut, kernel: args.kernel, strides: j > 0 ? 1 : args.strides,
                    expandRatio: args.expandRatio)
                b += 1
            }
        }

        x = try g.add(
            "top_conv",
            .conv2d(.init(filters: roundFilters(1280), kernel: (1, 1), padding: .same, useBias: false)), x)
        x = try g.add("top_bn", bn, x)
        x = try g.add("top_activation", .activation(.swish), x)
        if includeTop {
            // dropout_rate is 0.2 (B0) ... 0.5 (B7), never 0, so `top_dropout` always exists.
            try g.addAveragePoolClassifier(x, dropout: "top_dropout")
        } else {
            try g.addPooling(pooling, x, avg: "avg_pool", max: "max_pool")
        }
        return g
    }

    /// `block`: [1×1 expand + BN + swish] (when expand_ratio != 1), depthwise (stride 2 after
    /// `correct_pad` zero padding, else "same") + BN + swish, squeeze-excite (GAP, Reshape to
    /// (1,1,C), 1×1 conv + bias + swish, 1×1 conv + bias + sigmoid, multiply), 1×1 projection +
    /// BN, and when the shapes allow Dropout (inert here) + `add` with the block input.
    static func block(
        _ g: inout Graph, _ inputs: NodeID, hasDropout: Bool, name: String, filtersIn: Int,
        filtersOut: Int, kernel: Int, strides: Int, expandRatio: Int
    ) throws -> NodeID {
        let filters = filtersIn * expandRatio
        var x = inputs
        if expandRatio != 1 {
            x = try g.add(
                "\(name)expand_conv",
                .conv2d(.init(filters: filters, kernel: (1, 1), padding: .same, useBias: false)), x)
            x = try g.add("\(name)expand_bn", bn, x)
            x = try g.add("\(name)expand_activation", .activation(.swish), x)
        }
        x = try ApplicationUtils.correctPaddedDepthwise(
            &g, pad: "\(name)dwconv_pad", "\(name)dwconv", kernel: kernel, stride: strides, x)
        x = try g.add("\(name)bn", bn, x)
        x = try g.add("\(name)activation", .activation(.swish), x)

        // filters_se is computed on the block input's filters, not the expanded ones.
        let filtersSE = max(1, Int(Double(filtersIn) * seRatio))
        var se = try g.add("\(name)se_squeeze", .globalAveragePool(keepDims: false), x)
        se = try g.add("\(name)se_reshape", .reshape(FeatureShape(height: 1, width: 1, channels: filters)), se)
        se = try g.add(
            "\(name)se_reduce",
            .conv2d(.init(filters: filtersSE, kernel: (1, 1), padding: .same, activation: .swish)), se)
        se = try g.add(
            "\(name)se_expand",
            .conv2d(.init(filters: filters, kernel: (1, 1), padding: .same, activation: .sigmoid)), se)
        x = try g.add("\(name)se_excite", .multiply, x, se)

        x = try g.add(
            "\(name)project_conv",
            .conv2d(.init(filters: filtersOut, kernel: (1, 1), padding: .same, useBias: false)), x)
        x = try g.add("\(name)project_bn", bn, x)
        if strides == 1 && filtersIn == filtersOut {
            if hasDropout { x = try g.add("\(name)drop", .dropout, x) }
            x = try g.add("\(name)add", .add, x, inputs)
        }
        return x
    }
}
