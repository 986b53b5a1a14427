import Foundation

// ConvNeXt Tiny–XLarge (Liu et al., 2022, "A ConvNet for the 2020s", arXiv:2201.03545), as
// keras-team/keras `keras/src/applications/convnext.py` builds it with include_top=False and
// include_preprocessing=True (the published notop files). Layer names are Keras' string
// literals; the stem and the three downsampling blocks are nested `Sequential` models, so their
// layers carry the nested model's name as `scope` (the file stores their weights under it).
// The residual sums are `inputs + x` in Keras, i.e. `Add` operations auto-named `add`,
// `add_1`, ...

public enum ConvNeXt {
    /// The five models; the raw value is the catalog id.
    public enum Variant: String, Sendable, CaseIterable {
        case tiny = "ConvNeXtTiny"
        case small = "ConvNeXtSmall"
        case base = "ConvNeXtBase"
        case large = "ConvNeXtLarge"
        case xlarge = "ConvNeXtXLarge"

        /// `MODEL_CONFIGS`: blocks per stage and the stage widths (`projection_dims`).
        public var config: (depths: [Int], projectionDims: [Int]) {
            switch self {
            case .tiny: return ([3, 3, 9, 3], [96, 192, 384, 768])
            case .small: return ([3, 3, 27, 3], [96, 192, 384, 768])
            case .base: return ([3, 3, 27, 3], [128, 256, 512, 1024])
            case .large: return ([3, 3, 27, 3], [192, 384, 768, 1536])
            case .xlarge: return ([3, 3, 27, 3], [256, 512, 1024, 2048])
            }
        }

        /// The Keras model name (`name=` default), the prefix of every named layer.
        public var modelName: String {
            switch self {
            case .tiny: return "convnext_tiny"
            case .small: return "convnext_small"
            case .base: return "convnext_base"
            case .large: return "convnext_large"
            case .xlarge: return "convnext_xlarge"
            }
        }
    }

    /// `PreStem`'s constant `Normalization` (no weights in the file): ImageNet mean and variance
    /// in pixel units, computed in Double as Python does and rounded to float32 as Keras casts.
    static let imagenetMean: [Float] = ([0.485 * 255, 0.456 * 255, 0.406 * 255] as [Double])
        .map { Float($0) }
    static let imagenetVariance: [Float] = ([0.229 * 255, 0.224 * 255, 0.225 * 255] as [Double])
        .map { Float($0 * $0) }

    /// Every ConvNeXt `LayerNormalization` uses epsilon 1e-6.
    static let layerNorm = GraphOp.layerNormalization(epsilon: 1e-6)

    /// in (N, height, width, 3) pixels in [0, 255] -> out (N, H/32, W/32, C) or (N, C) with
    /// pooling, C = 768 (Tiny, Small), 1024, 1536, 2048 (XLarge). Any input of at least 32×32.
    /// Keras ends the notop model with an unnamed `LayerNormalization` AFTER the optional
    /// pooling: over each pixel's channels without pooling, over the pooled vector with it.
    public static func graph(
        _ variant: Variant, height: Int, width: Int, pooling: GlobalPooling = .none
    ) throws -> Graph {
        let name = variant.modelName
        var g = Graph(name: name, input: FeatureShape(height: height, width: width, channels: 3))
        try Graph.requireInput(height: height, width: width, atLeast: 32)
        let (depths, dims) = variant.config
        var autoNames = KerasAutoNames()

        var x = try g.add(
            "\(name)_prestem_normalization",
            .normalization(mean: imagenetMean, variance: imagenetVariance), g.input)
        let stem = "\(name)_stem"
        x = try g.add(
            "\(name)_stem_conv", .conv2d(.init(filters: dims[0], kernel: (4, 4), strides: (4, 4))),
            x, in: stem)
        x = try g.add("\(name)_stem_layernorm", layerNorm, x, in: stem)
        for i in 0..<4 {
            if i > 0 {
                let downsampling = "\(name)_downsampling_block_\(i - 1)"
                x = try g.add(
                    "\(name)_downsampling_layernorm_\(i - 1)", layerNorm, x, in: downsampling)
                x = try g.add(
                    "\(name)_downsampling_conv_\(i - 1)",
                    .conv2d(.init(filters: dims[i], kernel: (2, 2), strides: (2, 2))), x,
                    in: downsampling)
            }
            for j in 0..<depths[i] {
                x = try block(
                    &g, x, projectionDim: dims[i], name: "\(name)_stage_\(i)_block_\(j)",
                    addName: autoNames("add"))
            }
        }
        x = try g.addPooling(pooling, x)
        try g.add("layer_normalization", layerNorm, x)
        return g
    }

    /// `ConvNeXtBlock`: 7×7 depthwise (a Conv2D with groups = C, "same"), LayerNormalization,
    /// Dense 4C ("pointwise_conv_1"), exact GELU, Dense C, LayerScale, then
    /// `Activation("linear")` (the inference form of StochasticDepth with rate 0, as every
    /// application builds it) and the residual sum with the block input.
    static func block(
        _ g: inout Graph, _ inputs: NodeID, projectionDim c: Int, name: String, addName: String
    ) throws -> NodeID {
        var x = try g.add(
            "\(name)_depthwise_conv",
            .conv2d(.init(filters: c, kernel: (7, 7), padding: .same, groups: c)), inputs)
        x = try g.add("\(name)_layernorm", layerNorm, x)
        x = try g.add("\(name)_pointwise_conv_1", .dense(units: 4 * c), x)
        x = try g.add("\(name)_gelu", .activation(.gelu), x)
        x = try g.add("\(name)_pointwise_conv_2", .dense(units: c), x)
        x = try g.add("\(name)_layer_scale", .layerScale, x)
        x = try g.add("\(name)_identity", .activation(.linear), x)
        return try g.add(addName, .add, inputs, x)
    }
}
