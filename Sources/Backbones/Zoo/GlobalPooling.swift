/// What follows the last block with include_top=False (Keras' `pooling` argument): nothing,
/// `GlobalAveragePooling2D` or `GlobalMaxPooling2D`.
public enum GlobalPooling: String, Sendable, CaseIterable {
    case none
    case avg
    case max
}
