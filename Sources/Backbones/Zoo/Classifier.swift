// The ImageNet classifier Keras adds with include_top=True. Each family writes its own head in
// its application file (VGG's fully connected layers, MobileNet's 1×1 conv_preds, ...); most
// use the one below, `GlobalAveragePooling2D` then `Dense(classes, activation="softmax")`.

extension Graph {
    /// Classes of the published ImageNet classifiers (`classes=1000`).
    public static let imagenetClasses = 1000

    /// `GlobalAveragePooling2D(name=pool)`, an inert `Dropout(name=dropout)` when given, then
    /// `Dense(classes, activation="softmax", name="predictions")`.
    /// in (H, W, C) -> out (classes) probabilities.
    @discardableResult
    mutating func addAveragePoolClassifier(
        _ x: NodeID, pool: String = "avg_pool", dropout: String? = nil, classes: Int = imagenetClasses
    ) throws -> NodeID {
        var x = try add(pool, .globalAveragePool(keepDims: false), x)
        if let dropout { x = try add(dropout, .dropout, x) }
        return try add("predictions", .dense(units: classes, activation: .softmax), x)
    }
}
