extension CompiledGraph {
    /// One kernel call. `inputs` and `output` are node ids; `layers` names the graph nodes the
    /// step computes (a folded conv + BN + ReLU lists all three).
    public struct Step: Sendable {
        public enum Kind: Sendable {
            /// The value of input node `output`, copied from the caller's input tensor.
            case copyInput
            /// `kernel` is the (KH*KW*C/groups, K) GEMM operand (`Kernels.conv2dWeights`).
            case conv(Conv2DParams, kernel: GemmWeights, bias: [Float]?)
            /// A stride-1 3×3 `Conv2D` as Winograd F(tile×tile, 3×3); `kernel` is the
            /// transformed kernel, a*a GEMM operands (C, K) (`Kernels.winogradWeights`).
            case winograd(Conv2DParams, tile: Int, kernel: [GemmWeights], bias: [Float]?)
            /// A 1×1 stride-1 `Conv2D` of `map × gate` (inputs: map, gate (1,1,C)) computed as
            /// `map · (diag(gate) · kernel)`: the gate scales the kernel's C rows for each
            /// image instead of the map's H*W*C values.
            case gatedPointwise(Conv2DParams, kernel: GemmWeights, bias: [Float]?)
            case depthwise(DepthwiseParams, kernel: [Float], bias: [Float]?)
            /// `SeparableConv2D`, BN folded into the pointwise kernel and bias.
            case separable(SeparableConv2DParams, depthwise: [Float], pointwise: GemmWeights, bias: [Float]?)
            /// `Dense` over the last axis (every pixel of a map is a row): kernel (C, units), BN or
            /// LayerScale folded in, the activation in its epilogue.
            case dense(units: Int, kernel: [Float], bias: [Float]?, activation: Activation)
            case scaleOffset(scale: [Float]?, offset: [Float]?, activation: Activation)
            /// `LayerNormalization` over each row's channels.
            case layerNorm(epsilon: Float, gamma: [Float], beta: [Float])
            /// Keras `Normalization`: `(x - subtract) / divide` per channel.
            case subtractDivide(subtract: [Float], divide: [Float])
            /// `Reshape`, `Dropout`, `Flatten`: the input's floats unchanged.
            case copy
            case activation(Activation)
            case zeroPadding(Padding)
            case cropping2d(Padding)
            case add(Activation)
            case scaledAdd(scale: Float, activation: Activation)
            case multiply
            case concat
            case maxPool(PoolParams)
            case averagePool(PoolParams)
            case globalAveragePool
            case globalMaxPool
            case subtract
            case average
            case maximum
            case minimum
            /// `Permute`: output axis i is input axis `axes[i]` (0-based, no batch axis).
            case permute(axes: [Int])
            case upSampling2d(UpSamplingParams)
            case constant(ConstantArithmetic)
            case reverseChannels
        }
        public var kind: Kind
        public var inputs: [NodeID]
        public var output: NodeID
        public var layers: [String]
        /// The window a convolution or pool slides over its input, resolved once when planned
        /// (nil for the steps without one).
        public internal(set) var window: Window2D? = nil
    }
}
