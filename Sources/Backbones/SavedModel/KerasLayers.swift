import Foundation

// Each Keras layer class a saved model may hold, as the graph op Keras' `call` computes at
// inference, read from the layer's config with Keras' own argument names. Keras 1's names
// (`Convolution2D`, `nb_filter`, `border_mode`, `Merge`) are read where they differ.

/// What one layer of a saved model becomes.
enum LayerPlan {
    /// A graph node.
    case op(GraphOp)
    /// The input itself (`Dropout`, the augmentation layers at inference, a `Resizing` or
    /// `CenterCrop` already at its size): a node that copies, so `--layer` can still name it.
    case identity
    /// Not built: why (`Lambda layers hold Python code`).
    case unsupported(String)
}

enum KerasLayers {
    /// Layers that compute nothing at inference, as Keras' `call(training=False)` returns
    /// its input: dropouts and noises, regularizers, the random augmentation layers.
    static let inert: Set<String> = [
        "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
        "AlphaDropout", "ActivityRegularization", "RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast",
        "RandomTranslation", "RandomBrightness", "RandomHeight", "RandomWidth", "RandomGrayscale", "RandomHue",
        "RandomSaturation", "RandomSharpness", "RandomShear", "RandomColorJitter", "RandomColorDegeneration",
        "RandomPosterization", "RandomInvert", "RandomErasing", "RandomGaussianBlur", "RandomPerspective",
        "RandomElasticTransform", "MixUp", "CutMix", "AugMix", "RandAugment", "Masking",
    ]

    /// Every class `plan` builds (for some settings), besides `inert`.
    static let built: Set<String> = [
        "InputLayer", "Conv2D", "Convolution2D", "DepthwiseConv2D", "SeparableConv2D", "SeparableConvolution2D",
        "Dense",
        "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "BatchNormalization", "LayerNormalization", "Flatten",
        "Reshape", "Permute", "UpSampling2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPooling2D", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Merge",
        "ZeroPadding2D", "Cropping2D", "Rescaling", "Normalization", "Resizing", "CenterCrop",
        "TFOpLambda", "SlicingOpLambda",
    ]

    /// Whether a layer of this class can be built at all (its settings are checked when it is
    /// planned): what is said of a layer no tensor reaches because an earlier one cannot run.
    static func isBuilt(_ layer: LayerConfig) -> Bool {
        if layer.model != nil || inert.contains(layer.className) || built.contains(layer.className) { return true }
        return layer.isOperation
    }

    /// The plan for `layer` called on tensors of `shapes`. `keras3` tells the activation
    /// dialect (`hard_sigmoid` changed meaning in Keras 3).
    static func plan(_ layer: LayerConfig, shapes: [FeatureShape], keras3: Bool) throws -> LayerPlan {
        let c = layer.config
        let where_ = layer.name
        func unsupportedSetting(_ detail: String) -> SavedModelError {
            .unsupportedSetting(layer: "\(where_) (\(layer.className))", detail: detail)
        }
        func channelsLast() throws {
            if let format = c["data_format"] as? String ?? c["dim_ordering"] as? String,
                format != "channels_last", format != "tf", format != "default"
            {
                throw unsupportedSetting("data_format=\"\(format)\"")
            }
        }
        func activation(_ key: String = "activation") throws -> Activation {
            try KerasLayers.activation(c[key], keras3: keras3, layer: "\(where_) (\(layer.className))")
        }
        func lastAxis(_ key: String, default value: Int = -1) throws {
            let axis = intList(c[key]) ?? [value]
            let rank = shapes.first?.rank ?? 3
            guard axis.count == 1, axis[0] == -1 || axis[0] == rank else {
                throw unsupportedSetting("\(key)=\(axis) (only the last axis)")
            }
        }
        switch layer.className {
        case "InputLayer":
            return .identity
        case "Conv2D", "Convolution2D":
            try channelsLast()
            let filters = int(c["filters"] ?? c["nb_filter"]) ?? 0
            let kernel = pair(c["kernel_size"]) ?? (int(c["nb_row"]) ?? 1, int(c["nb_col"]) ?? 1)
            let strides = pair(c["strides"] ?? c["subsample"]) ?? (1, 1)
            let dilation = pair(c["dilation_rate"]) ?? (1, 1)
            let padding = try paddingMode(c["padding"] ?? c["border_mode"], unsupportedSetting)
            return .op(
                .conv2d(
                    Conv2DParams(
                        filters: filters, kernel: kernel, strides: strides, dilation: dilation, padding: padding,
                        groups: int(c["groups"]) ?? 1, useBias: bool(c["use_bias"] ?? c["bias"]) ?? true,
                        activation: try activation())))
        case "DepthwiseConv2D":
            try channelsLast()
            return .op(
                .depthwiseConv2d(
                    DepthwiseParams(
                        kernel: pair(c["kernel_size"]) ?? (1, 1), strides: pair(c["strides"]) ?? (1, 1),
                        dilation: pair(c["dilation_rate"]) ?? (1, 1),
                        padding: try paddingMode(c["padding"], unsupportedSetting),
                        depthMultiplier: int(c["depth_multiplier"]) ?? 1, useBias: bool(c["use_bias"]) ?? true,
                        activation: try activation())))
        case "SeparableConv2D", "SeparableConvolution2D":
            try channelsLast()
            return .op(
                .separableConv2d(
                    SeparableConv2DParams(
                        filters: int(c["filters"] ?? c["nb_filter"]) ?? 0,
                        kernel: pair(c["kernel_size"]) ?? (int(c["nb_row"]) ?? 1, int(c["nb_col"]) ?? 1),
                        strides: pair(c["strides"] ?? c["subsample"]) ?? (1, 1),
                        dilation: pair(c["dilation_rate"]) ?? (1, 1),
                        padding: try paddingMode(c["padding"] ?? c["border_mode"], unsupportedSetting),
                        depthMultiplier: int(c["depth_multiplier"]) ?? 1,
                        useBias: bool(c["use_bias"] ?? c["bias"]) ?? true, activation: try activation())))
        case "Dense":
            return .op(
                .dense(
                    units: int(c["units"] ?? c["output_dim"]) ?? 0, useBias: bool(c["use_bias"] ?? c["bias"]) ?? true,
                    activation: try activation()))
        case "Activation":
            return .op(.activation(try activation()))
        case "ReLU":
            let maxValue = float(c["max_value"])
            let slope = float(c["negative_slope"]) ?? 0
            let threshold = float(c["threshold"]) ?? 0
            if slope == 0 && threshold == 0 {
                if maxValue == nil { return .op(.activation(.relu)) }
                if maxValue == 6 { return .op(.activation(.relu6)) }
            }
            return .op(.activation(.reluClipped(maxValue: maxValue, negativeSlope: slope, threshold: threshold)))
        case "LeakyReLU":
            // tf.keras' `alpha` (default 0.3), Keras 3's `negative_slope` (default 0.3).
            return .op(.activation(.leakyRelu(slope: float(c["negative_slope"] ?? c["alpha"]) ?? 0.3)))
        case "ELU":
            return .op(.activation(.elu(alpha: float(c["alpha"]) ?? 1)))
        case "Softmax":
            try lastAxis("axis")
            return .op(.activation(.softmax))
        case "BatchNormalization":
            try lastAxis("axis")
            return .op(
                .batchNorm(
                    epsilon: float(c["epsilon"]) ?? 1e-3, scale: bool(c["scale"]) ?? true,
                    center: bool(c["center"]) ?? true))
        case "LayerNormalization":
            try lastAxis("axis")
            guard bool(c["scale"]) ?? true, bool(c["center"]) ?? true, bool(c["rms_scaling"]) != true else {
                throw unsupportedSetting("scale=False, center=False or rms_scaling")
            }
            return .op(.layerNormalization(epsilon: float(c["epsilon"]) ?? 1e-3))
        case "Flatten":
            try channelsLast()
            return .op(.flatten)
        case "Reshape":
            guard let target = intList(c["target_shape"]), let shape = shapes.first else {
                throw unsupportedSetting("target_shape missing")
            }
            let known = target.filter { $0 != -1 }.reduce(1, *)
            let dims = target.map { $0 == -1 ? (known > 0 ? shape.count / known : 0) : $0 }
            return .op(.reshape(FeatureShape(dims)))
        case "Permute":
            return .op(.permute(intList(c["dims"]) ?? []))
        case "UpSampling2D":
            try channelsLast()
            let interpolation = c["interpolation"] as? String ?? "nearest"
            guard interpolation == "nearest" || interpolation == "bilinear" else {
                throw unsupportedSetting("interpolation=\"\(interpolation)\"")
            }
            return .op(
                .upSampling2d(UpSamplingParams(size: pair(c["size"]) ?? (2, 2), bilinear: interpolation == "bilinear")))
        case "MaxPooling2D", "AveragePooling2D":
            try channelsLast()
            let pool = pair(c["pool_size"]) ?? (2, 2)
            let params = PoolParams(
                pool: pool, strides: pair(c["strides"]) ?? pool,
                padding: try paddingMode(c["padding"] ?? c["border_mode"], unsupportedSetting))
            return .op(layer.className == "MaxPooling2D" ? .maxPool(params) : .averagePool(params))
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            try channelsLast()
            let keep = bool(c["keepdims"]) ?? false
            return .op(
                layer.className == "GlobalMaxPooling2D"
                    ? .globalMaxPool(keepDims: keep) : .globalAveragePool(keepDims: keep))
        case "Add": return .op(.add)
        case "Subtract": return .op(.subtract)
        case "Multiply": return .op(.multiply)
        case "Average": return .op(.average)
        case "Maximum": return .op(.maximum)
        case "Minimum": return .op(.minimum)
        case "Concatenate":
            try lastAxis("axis")
            return .op(.concat)
        case "Merge":
            // Keras 1's merge layer: `mode` names the operation.
            switch c["mode"] as? String ?? "sum" {
            case "sum": return .op(.add)
            case "mul": return .op(.multiply)
            case "ave": return .op(.average)
            case "max": return .op(.maximum)
            case "concat":
                try lastAxis("concat_axis")
                return .op(.concat)
            case let mode: throw unsupportedSetting("mode=\"\(mode)\"")
            }
        case "ZeroPadding2D":
            try channelsLast()
            return .op(.zeroPadding(try padding(c["padding"], unsupportedSetting)))
        case "Cropping2D":
            try channelsLast()
            return .op(.cropping2d(try padding(c["cropping"], unsupportedSetting)))
        case "Rescaling":
            let scale = floats(c["scale"]) ?? [1]
            let offset = floats(c["offset"]) ?? [0]
            if scale.count == 1 && offset.count == 1 { return .op(.rescaling(scale: scale[0], offset: offset[0])) }
            let n = max(scale.count, offset.count)
            return .op(
                .channelRescaling(
                    scale: scale.count == 1 ? Array(repeating: scale[0], count: n) : scale,
                    offset: offset.count == 1 ? Array(repeating: offset[0], count: n) : offset))
        case "Normalization":
            try lastAxis("axis")
            guard bool(c["invert"]) != true else { throw unsupportedSetting("invert=True") }
            if let mean = floats(c["mean"]), let variance = floats(c["variance"]) {
                return .op(.normalization(mean: mean, variance: variance))
            }
            return .op(.normalization())
        case "Resizing", "CenterCrop":
            guard let shape = shapes.first, shape.isMap, let h = int(c["height"]), let w = int(c["width"]) else {
                throw unsupportedSetting("height and width")
            }
            if shape.height == h && shape.width == w { return .identity }
            if layer.className == "CenterCrop", shape.height >= h, shape.width >= w {
                // Keras' center_crop: the offset rounds down, the extra row or column goes last.
                let top = (shape.height - h) / 2
                let left = (shape.width - w) / 2
                return .op(
                    .cropping2d(
                        Padding(top: top, bottom: shape.height - h - top, left: left, right: shape.width - w - left)))
            }
            throw unsupportedSetting("resizing \(shape.height)×\(shape.width) to \(h)×\(w) inside the model")
        case "Lambda":
            return .unsupported("Lambda layers hold Python code, which is never run")
        default:
            if inert.contains(layer.className) { return .identity }
            return .unsupported("no builder for this class")
        }
    }

    /// A Keras activation by its serialized name (`"relu"`; Keras 3 may write
    /// `{"class_name": "function", "config": "relu"}` or a module path).
    static func activation(_ value: Any?, keras3: Bool, layer: String) throws -> Activation {
        var name = value as? String
        if let dict = value as? [String: Any] {
            name = dict["config"] as? String ?? (dict["config"] as? [String: Any])?["name"] as? String
        }
        guard let name else { return .linear }
        switch name.split(separator: ".").last.map(String.init) ?? name {
        case "linear", "None": return .linear
        case "relu": return .relu
        case "relu6": return .relu6
        case "sigmoid": return .sigmoid
        case "swish", "silu": return .swish
        case "hard_sigmoid": return keras3 ? .hardSigmoid : .hardSigmoidLegacy
        case "hard_swish", "hard_silu": return .hardSwish
        case "gelu": return .gelu
        case "tanh": return .tanh
        case "softmax": return .softmax
        case "elu": return .elu(alpha: 1)
        case "selu": return .selu
        case "softplus": return .softplus
        case "softsign": return .softsign
        case "exponential": return .exponential
        case "leaky_relu": return .leakyRelu(slope: 0.2)
        case "mish": return .mish
        case let other:
            throw SavedModelError.unsupportedSetting(layer: layer, detail: "activation \"\(other)\"")
        }
    }

    static func paddingMode(_ value: Any?, _ fail: (String) -> SavedModelError) throws -> PaddingMode {
        switch value as? String ?? "valid" {
        case "valid": return .valid
        case "same": return .same
        case let other: throw fail("padding=\"\(other)\"")
        }
    }

    /// `ZeroPadding2D`/`Cropping2D`'s argument: `1`, `(1, 2)` or `((t, b), (l, r))`.
    static func padding(_ value: Any?, _ fail: (String) -> SavedModelError) throws -> Padding {
        if let n = int(value) { return Padding(top: n, bottom: n, left: n, right: n) }
        if let list = value as? [Any], list.count == 2 {
            if let a = int(list[0]), let b = int(list[1]) { return Padding(top: a, bottom: a, left: b, right: b) }
            if let rows = intList(list[0]), let cols = intList(list[1]), rows.count == 2, cols.count == 2 {
                return Padding(top: rows[0], bottom: rows[1], left: cols[0], right: cols[1])
            }
        }
        throw fail("padding \(String(describing: value))")
    }

    static func int(_ value: Any?) -> Int? {
        (value as? NSNumber)?.intValue
    }

    static func float(_ value: Any?) -> Float? { (value as? NSNumber)?.floatValue }

    static func bool(_ value: Any?) -> Bool? { (value as? NSNumber)?.boolValue }

    /// `[3, 3]`, or one number for both (`3`).
    static func pair(_ value: Any?) -> (Int, Int)? {
        if let n = int(value) { return (n, n) }
        guard let list = intList(value), list.count == 2 else { return nil }
        return (list[0], list[1])
    }

    static func intList(_ value: Any?) -> [Int]? {
        if let n = int(value) { return [n] }
        guard let list = value as? [Any] else { return nil }
        let ints = list.compactMap { ($0 as? NSNumber)?.intValue }
        return ints.count == list.count ? ints : nil
    }

    /// A number or a list of numbers (Keras 3 `Rescaling(scale=[...])`, Normalization's
    /// `mean`), possibly nested (`[[[0.5, 0.5, 0.5]]]`): flattened.
    static func floats(_ value: Any?) -> [Float]? {
        if let n = value as? NSNumber { return [n.floatValue] }
        guard let list = value as? [Any] else { return nil }
        var out: [Float] = []
        for item in list {
            guard let inner = floats(item) else { return nil }
            out += inner
        }
        return out
    }
}
