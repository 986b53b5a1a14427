import Foundation

/// A saved model's config JSON (`model_config` of a full-model `.h5`, `config.json` of a
/// `.keras`): the one place it is parsed. Keras writes `{"class_name": ..., "config": {"name":
/// ..., "layers": [{"class_name": ..., "config": {"name": ...}}, ...]}}` in every era.
public enum ModelConfig {
    /// The parsed JSON object; nil when the text is not a JSON object.
    static func object(_ json: String) -> [String: Any]? {
        guard let data = json.data(using: .utf8) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// The model's top-level layers in stored order: name (`config.name`, else the layer's
    /// `name`; nil when neither) and class. Layers without a class name are left out.
    public static func topLevelLayers(_ json: String) -> [(name: String?, className: String)] {
        guard let object = object(json), let config = object["config"] as? [String: Any],
            let layers = config["layers"] as? [[String: Any]]
        else { return [] }
        return layers.compactMap { layer in
            guard let cls = layer["class_name"] as? String else { return nil }
            return ((layer["config"] as? [String: Any])?["name"] as? String ?? layer["name"] as? String, cls)
        }
    }
}

/// What a saved model's own config (`model_config` of a full-model `.h5`, `config.json` of a
/// `.keras`) says about its input, read as Keras reads it when it rebuilds the model:
/// - Keras 3 InputLayer: `config.batch_shape` (`[null, 160, 160, 3]`);
/// - Keras 2 / tf.keras InputLayer, and the first layer of a Keras 2 Sequential:
///   `config.batch_input_shape`;
/// - a Keras 3 Sequential without an InputLayer: `build_input_shape` (config or build_config).
/// A model nested inside (a keras.applications backbone) carries its own InputLayer.
public struct ModelConfigInput: Sendable, Equatable {
    /// The model (outer, or the nested one) whose InputLayer this is.
    public let model: String
    /// (height, width, channels) without the batch axis; nil where the config says None.
    public let shape: [Int?]

    public init(model: String, shape: [Int?]) {
        self.model = model
        self.shape = shape
    }

    public var height: Int? { shape.count == 3 ? shape[0] : nil }
    public var width: Int? { shape.count == 3 ? shape[1] : nil }
    public var channels: Int? { shape.count == 3 ? shape[2] : nil }
    /// Both spatial sides fixed: the model can only run at this size.
    public var isFixed: Bool { height != nil && width != nil }

    /// The outer model's first input, and, when `nested` names a model inside it, that model's.
    /// A nil result means the config has no readable input shape.
    public static func inputs(
        ofConfig json: String, nested: String? = nil
    ) -> (outer: ModelConfigInput?, nested: ModelConfigInput?) {
        guard let object = ModelConfig.object(json) else { return (nil, nil) }
        let outer = input(of: object)
        var inner: ModelConfigInput?
        if let nested, let layer = findModel(named: nested, in: object) { inner = input(of: layer) }
        return (outer, inner)
    }

    /// `{"class_name": ..., "config": {"name": ..., "layers": [...]}}` -> its first input shape.
    static func input(of model: [String: Any]) -> ModelConfigInput? {
        guard let config = model["config"] as? [String: Any] else { return nil }
        let name = config["name"] as? String ?? (model["name"] as? String ?? "model")
        let layers = config["layers"] as? [[String: Any]] ?? []
        for layer in layers {
            guard let layerConfig = layer["config"] as? [String: Any] else { continue }
            if layer["class_name"] as? String == "InputLayer",
                let shape = batchShape(layerConfig["batch_shape"] ?? layerConfig["batch_input_shape"])
            {
                return ModelConfigInput(model: name, shape: shape)
            }
        }
        // Keras 2 Sequential: the first layer holds batch_input_shape.
        if let first = layers.first?["config"] as? [String: Any],
            let shape = batchShape(first["batch_input_shape"] ?? first["batch_shape"])
        {
            return ModelConfigInput(model: name, shape: shape)
        }
        let build = (model["build_config"] as? [String: Any])?["input_shape"] ?? config["build_input_shape"]
        if let shape = batchShape(build) { return ModelConfigInput(model: name, shape: shape) }
        return nil
    }

    /// `[null, 160, 160, 3]` -> [160, 160, 3]; a nested list (several inputs) takes the first.
    static func batchShape(_ value: Any?) -> [Int?]? {
        guard let list = value as? [Any], !list.isEmpty else { return nil }
        if list.first is [Any] { return batchShape(list.first) }
        return list.dropFirst().map { ($0 as? NSNumber)?.intValue }
    }

    /// Depth-first search for a model layer of that name (a backbone nested one or more deep).
    static func findModel(named name: String, in model: [String: Any]) -> [String: Any]? {
        guard let config = model["config"] as? [String: Any], let layers = config["layers"] as? [[String: Any]] else {
            return nil
        }
        for layer in layers {
            guard let layerConfig = layer["config"] as? [String: Any], layerConfig["layers"] != nil else { continue }
            if layerConfig["name"] as? String == name || layer["name"] as? String == name { return layer }
            if let deeper = findModel(named: name, in: layer) { return deeper }
        }
        return nil
    }
}
