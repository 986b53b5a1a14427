/// One variable a layer owns, as Keras creates it: its name (after the last '/' of the stored
/// path; alternatives an older Keras wrote come after Keras 3's) and its shape.
public struct WeightSpec: Equatable, Sendable {
    /// Accepted variable names, Keras 3's first; empty: the layer's only array, whatever its
    /// name (`LayerScale`'s is an auto name, `variable`, `variable_1`, ...).
    public let names: [String]
    public let shape: [Int]

    public init(_ names: [String], _ shape: [Int]) {
        self.names = names
        self.shape = shape
    }
}

extension GraphOp {
    /// The variables the layer owns for an input of shape `input`, in Keras' `layer.weights`
    /// order (the order of a legacy file's `weight_names`): what binding reads and checks.
    public func weightSpec(input s: FeatureShape) -> [WeightSpec] {
        let c = s.channels
        switch self {
        case .conv2d(let p):
            return [WeightSpec(["kernel"], [p.kernel.0, p.kernel.1, c / max(p.groups, 1), p.filters])]
                + (p.useBias ? [WeightSpec(["bias"], [p.filters])] : [])
        case .depthwiseConv2d(let p):
            return [WeightSpec(["kernel", "depthwise_kernel"], [p.kernel.0, p.kernel.1, c, p.depthMultiplier])]
                + (p.useBias ? [WeightSpec(["bias"], [c * p.depthMultiplier])] : [])
        case .separableConv2d(let p):
            return [
                WeightSpec(["depthwise_kernel"], [p.kernel.0, p.kernel.1, c, p.depthMultiplier]),
                WeightSpec(["pointwise_kernel"], [1, 1, c * p.depthMultiplier, p.filters]),
            ] + (p.useBias ? [WeightSpec(["bias"], [p.filters])] : [])
        case .dense(let units, let useBias, _):
            return [WeightSpec(["kernel"], [c, units])] + (useBias ? [WeightSpec(["bias"], [units])] : [])
        case .batchNorm(_, let scale, let center):
            return (scale ? [WeightSpec(["gamma"], [c])] : []) + (center ? [WeightSpec(["beta"], [c])] : [])
                + [WeightSpec(["moving_mean"], [c]), WeightSpec(["moving_variance"], [c])]
        case .layerNormalization:
            return [WeightSpec(["gamma"], [c]), WeightSpec(["beta"], [c])]
        case .layerScale:
            return [WeightSpec([], [c])]
        case .normalization(let mean, _) where mean == nil:
            // `count` is stored too; inference does not read it.
            return [WeightSpec(["mean"], [c]), WeightSpec(["variance"], [c])]
        default:
            return []
        }
    }
}
