/// Keras' `padding` argument of a convolution or pool; "same" is resolved against the static
/// input size when the node is added (TensorFlow rule, odd pixel bottom/right).
public enum PaddingMode: Equatable, Sendable {
    case valid
    case same
    case explicit(Padding)
}

public struct Conv2DParams: Equatable, Sendable {
    public var filters: Int
    public var kernel: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: PaddingMode
    public var groups: Int
    public var useBias: Bool
    public var activation: Activation

    public init(
        filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
        dilation: (Int, Int) = (1, 1), padding: PaddingMode = .valid, groups: Int = 1,
        useBias: Bool = true, activation: Activation = .linear
    ) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.groups = groups
        self.useBias = useBias
        self.activation = activation
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.filters == b.filters && a.kernel == b.kernel && a.strides == b.strides
            && a.dilation == b.dilation && a.padding == b.padding && a.groups == b.groups
            && a.useBias == b.useBias && a.activation == b.activation
    }
}

public struct DepthwiseParams: Equatable, Sendable {
    public var kernel: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: PaddingMode
    public var depthMultiplier: Int
    public var useBias: Bool
    public var activation: Activation

    public init(
        kernel: (Int, Int), strides: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1),
        padding: PaddingMode = .valid, depthMultiplier: Int = 1, useBias: Bool = true,
        activation: Activation = .linear
    ) {
        self.kernel = kernel
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.useBias = useBias
        self.activation = activation
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.kernel == b.kernel && a.strides == b.strides && a.dilation == b.dilation
            && a.padding == b.padding && a.depthMultiplier == b.depthMultiplier
            && a.useBias == b.useBias && a.activation == b.activation
    }
}

/// Keras `SeparableConv2D`: a depthwise convolution (strides, dilation, padding) then a 1×1
/// pointwise convolution to `filters`, the bias and the activation.
public struct SeparableConv2DParams: Equatable, Sendable {
    public var filters: Int
    public var kernel: (Int, Int)
    public var strides: (Int, Int)
    public var dilation: (Int, Int)
    public var padding: PaddingMode
    public var depthMultiplier: Int
    public var useBias: Bool
    public var activation: Activation

    public init(
        filters: Int, kernel: (Int, Int), strides: (Int, Int) = (1, 1),
        dilation: (Int, Int) = (1, 1), padding: PaddingMode = .valid, depthMultiplier: Int = 1,
        useBias: Bool = true, activation: Activation = .linear
    ) {
        self.filters = filters
        self.kernel = kernel
        self.strides = strides
        self.dilation = dilation
        self.padding = padding
        self.depthMultiplier = depthMultiplier
        self.useBias = useBias
        self.activation = activation
    }

    /// The depthwise half, without bias or activation (both belong to the pointwise half).
    public var depthwise: DepthwiseParams {
        DepthwiseParams(
            kernel: kernel, strides: strides, dilation: dilation, padding: padding,
            depthMultiplier: depthMultiplier, useBias: false)
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.filters == b.filters && a.kernel == b.kernel && a.strides == b.strides
            && a.dilation == b.dilation && a.padding == b.padding
            && a.depthMultiplier == b.depthMultiplier && a.useBias == b.useBias
            && a.activation == b.activation
    }
}

public struct PoolParams: Equatable, Sendable {
    public var pool: (Int, Int)
    public var strides: (Int, Int)
    public var padding: PaddingMode

    public init(pool: (Int, Int), strides: (Int, Int)? = nil, padding: PaddingMode = .valid) {
        self.pool = pool
        self.strides = strides ?? pool
        self.padding = padding
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.pool == b.pool && a.strides == b.strides && a.padding == b.padding
    }
}

/// Keras `UpSampling2D(size, interpolation)`: each pixel repeated `size` times (nearest), or
/// `tf.image.resize(method="bilinear")` to `size` times the input (half-pixel centers, no
/// antialiasing).
public struct UpSamplingParams: Equatable, Sendable {
    /// (rows, columns) factors.
    public var size: (Int, Int)
    public var bilinear: Bool

    public init(size: (Int, Int), bilinear: Bool = false) {
        self.size = size
        self.bilinear = bilinear
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.size == b.size && a.bilinear == b.bilinear
    }
}

/// A tensor and a constant, elementwise: tf.keras' `TFOpLambda` nodes of a saved model
/// (`tf.math.truediv(x, 127.5)`, `tf.math.subtract(x, 1.0)`, `tf.nn.bias_add(x, mean)`, ...).
/// The constant is one value (a scalar) or one per channel (the last axis), broadcast over
/// every other axis.
public struct ConstantArithmetic: Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// `x + c`, `x - c`, `c - x`, `x * c`, `x / c` (a true division, as TensorFlow divides,
        /// not a product by 1/c), `c / x`, `max(x, c)`, `min(x, c)`.
        case add, subtract, reverseSubtract, multiply, divide, reverseDivide, maximum, minimum
    }
    public var kind: Kind
    /// One value (a scalar) or one per channel (last axis).
    public var values: [Float]

    public init(_ kind: Kind, _ values: [Float]) {
        self.kind = kind
        self.values = values
    }
}

/// What a node computes: one Keras layer.
public enum GraphOp: Equatable, Sendable {
    /// The model input (`InputLayer`).
    case input
    /// `Conv2D`; weights `kernel` (KH,KW,C/groups,K) and `bias` (K).
    case conv2d(Conv2DParams)
    /// `DepthwiseConv2D`; weights `kernel` (KH,KW,C,M) and `bias` (C*M).
    case depthwiseConv2d(DepthwiseParams)
    /// `SeparableConv2D`; weights `depthwise_kernel` (KH,KW,C,M), `pointwise_kernel`
    /// (1,1,C*M,K) and `bias` (K).
    case separableConv2d(SeparableConv2DParams)
    /// `Dense` over the last axis of a flat (C) tensor or of every pixel of an (H,W,C) map
    /// (one GEMM with M = H*W rows); weights `kernel` (C,units) and `bias` (units).
    case dense(units: Int, useBias: Bool = true, activation: Activation = .linear)
    /// `BatchNormalization` at inference; weights gamma/beta (when scale/center), moving stats.
    case batchNorm(epsilon: Float, scale: Bool = true, center: Bool = true)
    /// `LayerNormalization(axis=-1)` over each pixel's channels (or a flat tensor's); weights
    /// gamma/beta (C).
    case layerNormalization(epsilon: Float)
    /// `Activation`, `ReLU(6.)`, ...
    case activation(Activation)
    /// `ZeroPadding2D`.
    case zeroPadding(Padding)
    /// `Cropping2D(((top, bottom), (left, right)))`: drops rows and columns at the borders.
    case cropping2d(Padding)
    /// `Add` of all inputs, then an activation (linear in Keras; set by fusion).
    case add
    /// InceptionResNetV2's `CustomScaleLayer`: `inputs[0] + inputs[1] * scale`, then an
    /// activation (linear in Keras; set by fusion).
    case scaledAdd(scale: Float)
    /// ConvNeXt's `LayerScale`: `x * gamma` per channel; one weight (C), which Keras 3 names
    /// `variable`, `variable_1`, ... by creation order.
    case layerScale
    /// `Multiply` of two inputs: same shapes, or a (1,1,C) gate times an (H,W,C) map.
    case multiply
    /// `Concatenate(axis=-1)`.
    case concat
    case maxPool(PoolParams)
    case averagePool(PoolParams)
    case globalAveragePool(keepDims: Bool)
    case globalMaxPool(keepDims: Bool)
    /// `Rescaling(scale, offset)`: `x * scale + offset`.
    case rescaling(scale: Float, offset: Float)
    /// `Rescaling` with per-channel lists: `x * scale[c] + offset[c]`.
    case channelRescaling(scale: [Float], offset: [Float])
    /// `Normalization(axis=-1)` at inference: `(x - mean) / max(sqrt(variance), 1e-7)`. With nil
    /// mean and variance they are the layer's weights (`mean`, `variance`, `count`, as
    /// EfficientNet's file stores them); else constants from the layer config (no weights).
    case normalization(mean: [Float]? = nil, variance: [Float]? = nil)
    /// `Reshape(target_shape)`: the same floats, another shape.
    case reshape(FeatureShape)
    /// `Dropout`: the identity at inference.
    case dropout
    /// `Flatten`: an (H,W,C) map as one flat (H·W·C) vector in NHWC order, the order of the
    /// floats in memory.
    case flatten
    /// `Subtract`: `inputs[0] - inputs[1]`, equal shapes.
    case subtract
    /// `Average`: the inputs summed in order, then divided by their count (as Keras does, not
    /// a sum of scaled inputs), equal shapes.
    case average
    /// `Maximum` / `Minimum` of all inputs, elementwise, equal shapes.
    case maximum
    case minimum
    /// `Permute(dims)`: dims are 1-based axes without the batch axis (`(2, 1)` swaps the two
    /// axes of a (T, C) tensor), for rank 2 and 3.
    case permute([Int])
    /// `UpSampling2D` of an (H, W, C) map.
    case upSampling2d(UpSamplingParams)
    /// A tensor and a constant (`ConstantArithmetic`), any rank.
    case constant(ConstantArithmetic)
    /// `x[..., ::-1]`: the last axis reversed (tf.keras' caffe-style `preprocess_input`, RGB to
    /// BGR, saved as a `SlicingOpLambda`).
    case reverseChannels

    /// The activation argument of a convolution layer (run value by value in its epilogue).
    var convolutionActivation: Activation? {
        switch self {
        case .conv2d(let p): return p.activation
        case .depthwiseConv2d(let p): return p.activation
        case .separableConv2d(let p): return p.activation
        default: return nil
        }
    }

    /// Whether the layer owns weights (and so appears in the legacy weighted-layer order).
    public var hasWeights: Bool {
        switch self {
        case .conv2d, .depthwiseConv2d, .separableConv2d, .dense, .batchNorm: return true
        case .layerNormalization, .layerScale: return true
        case .normalization(let mean, _): return mean == nil
        default: return false
        }
    }
}
