/// The per-image shape of a tensor: Keras' shape without the batch axis, of any rank the Keras
/// layers produce: (C) after a global pool or Flatten, (T, C) for a sequence of tokens,
/// (H, W, C) for a map. The last axis is the channels: Dense, normalizations and per-channel
/// scales act on it, every other axis indexes rows of C floats (NHWC order in memory).
public struct FeatureShape: Equatable, Sendable, CustomStringConvertible {
    /// The Keras shape without the batch axis: `[H, W, C]`, `[T, C]` or `[C]`.
    public let dimensions: [Int]

    public init(_ dimensions: [Int]) {
        precondition(!dimensions.isEmpty, "a tensor has at least one axis")
        self.dimensions = dimensions
    }

    /// (H, W, C), or (C) when `flat` (then H and W must be 1).
    public init(height: Int, width: Int, channels: Int, flat: Bool = false) {
        self.init(flat ? [channels] : [height, width, channels])
    }

    public var rank: Int { dimensions.count }
    public var channels: Int { dimensions[rank - 1] }
    /// Rows of a map; 1 below rank 3 (the axes before the last two, multiplied, above it).
    public var height: Int { rank < 3 ? 1 : dimensions[0..<(rank - 2)].reduce(1, *) }
    /// Columns of a map, the T of a (T, C) sequence; 1 for a flat tensor.
    public var width: Int { rank < 2 ? 1 : dimensions[rank - 2] }
    /// A rank-1 (C) tensor.
    public var flat: Bool { rank == 1 }
    /// A map that spatial layers (convolutions, pools, padding) slide over.
    public var isMap: Bool { rank == 3 }

    /// Floats per image.
    public var count: Int { dimensions.reduce(1, *) }

    public var description: String { "(\(dimensions.map(String.init).joined(separator: ",")))" }
}
