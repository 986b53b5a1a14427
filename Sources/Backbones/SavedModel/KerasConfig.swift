import Foundation
import WeightLoader

// A saved model's config (`model_config` of a full-model `.h5`, `config.json` of a `.keras`)
// read into one dialect-free form. The dialects, from Keras' own `get_config` of each era:
// - Keras 1 / 2.0–2.3, tf.keras 2.x: `inbound_nodes` is a list of nodes, each a list of
//   `[layer, node_index, tensor_index, kwargs]` (tf.keras' TFOpLambda writes one such entry
//   per node, its kwargs holding the call's constants); inputs as `batch_input_shape`; the
//   functional class is `Model` (≤ 2.3) or `Functional` (≥ 2.4); a Keras 2.0–2.1 Sequential's
//   config is the bare list of its layers.
// - Keras 3: `inbound_nodes` is a list of `{"args": [...], "kwargs": {...}}`, tensors written
//   as `{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, tensor]}}`
//   anywhere inside; `batch_shape`; `module` and `registered_name` beside `class_name`;
//   `input_layers`/`output_layers` flat (`["input_layer", 0, 0]`) for a single tensor.
// Node indices count only the nodes a model's config lists for that layer, in list order.

/// A tensor as a config names it: the `tensor`-th output of `layer`'s `node`-th call.
struct TensorRef: Hashable, CustomStringConvertible {
    let layer: String
    let node: Int
    let tensor: Int

    var description: String { node == 0 && tensor == 0 ? layer : "\(layer)[\(node)][\(tensor)]" }
}

/// One call of a layer: its positional arguments (tensors or constants, in order), its
/// keyword arguments as the config stores them (constants of TFOpLambda and Keras 3
/// operations, `training`, ...), and every tensor it reads.
struct LayerCall {
    enum Arg {
        case tensor(TensorRef)
        case constant(Any)
    }

    var args: [Arg]
    var kwargs: [String: Any]

    static var none: LayerCall { LayerCall(args: [], kwargs: [:]) }

    /// The tensors read: the positional ones, then tf.keras' tensor keyword arguments
    /// (`{"y": ["concatenate", 0, 0]}`), in key order.
    var inputs: [TensorRef] {
        args.compactMap { if case .tensor(let t) = $0 { return t } else { return nil } }
            + kwargs.keys.sorted().compactMap { ModelConfigTree.legacyRef(kwargs[$0]) }
    }
}

/// One entry of a model's `layers`.
struct LayerConfig {
    let className: String
    /// Keras 3's `module` (`keras.layers`, `keras.src.ops.numpy`): tells an operation from the
    /// layer of the same class name (`Add`).
    let module: String?

    /// Keras 3 operations (`keras.ops` called on a Keras tensor) serialized among the layers:
    /// by their module, or, in a Keras 3 `.h5` that drops the module, by class with a config
    /// holding no more than a layer name and an axis (a layer's has `trainable` and `dtype`).
    static let operations: Set<String> = [
        "GetItem", "Stack", "TrueDivide", "Divide", "Subtract", "Add", "Multiply", "Maximum", "Minimum", "Relu",
        "Relu6", "Sigmoid", "Tanh", "Silu", "Swish",
    ]

    var isOperation: Bool {
        if let module { return module.hasPrefix("keras.src.ops") || module.hasPrefix("keras.ops") }
        return Self.operations.contains(className) && config["trainable"] == nil && config["dtype"] == nil
    }
    let name: String
    let config: [String: Any]
    let calls: [LayerCall]
    /// The model this layer is, when it is a Functional or Sequential model used as a layer.
    let model: ModelConfigTree?
}

/// A Functional or Sequential model's config, models inside it parsed too.
final class ModelConfigTree {
    let className: String
    let name: String
    let layers: [LayerConfig]
    let inputs: [TensorRef]
    let outputs: [TensorRef]
    /// Sequential: the layers are one chain, fed from the input below.
    let isSequential: Bool
    /// A Sequential without an InputLayer: the input shape its first layer or build config
    /// records (without the batch axis).
    let sequentialInput: [Int?]?

    init(
        className: String, name: String, layers: [LayerConfig], inputs: [TensorRef], outputs: [TensorRef],
        isSequential: Bool, sequentialInput: [Int?]?
    ) {
        self.className = className
        self.name = name
        self.layers = layers
        self.inputs = inputs
        self.outputs = outputs
        self.isSequential = isSequential
        self.sequentialInput = sequentialInput
    }

    static let functionalClasses: Set<String> = ["Functional", "Model"]
    static let sequentialClasses: Set<String> = ["Sequential"]

    /// Whether a `layers` entry of this class is a model of its own.
    static func isModel(_ entry: [String: Any]) -> Bool {
        guard let cls = entry["class_name"] as? String else { return false }
        if functionalClasses.contains(cls) || sequentialClasses.contains(cls) { return true }
        return (entry["config"] as? [String: Any])?["layers"] is [Any]
    }

    /// Parses the whole config text.
    static func parse(_ json: String) throws -> ModelConfigTree {
        guard let data = json.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw SavedModelError.badConfig(detail: "the model config is not a JSON object") }
        return try parse(model: object)
    }

    static func parse(model object: [String: Any]) throws -> ModelConfigTree {
        let cls = object["class_name"] as? String ?? "Model"
        // Keras 2.0–2.1 Sequential: `config` is the list of layers itself.
        let config: [String: Any]
        if let list = object["config"] as? [Any] {
            config = ["layers": list, "name": object["name"] as? String ?? "sequential"]
        } else if let dict = object["config"] as? [String: Any] {
            config = dict
        } else {
            throw SavedModelError.badConfig(detail: "model '\(cls)' has no config")
        }
        let name = config["name"] as? String ?? object["name"] as? String ?? "model"
        guard let entries = config["layers"] as? [[String: Any]] else {
            throw SavedModelError.badConfig(detail: "model '\(name)' lists no layers")
        }
        var layers: [LayerConfig] = []
        for entry in entries {
            guard let layerClass = entry["class_name"] as? String else {
                throw SavedModelError.badConfig(detail: "a layer of '\(name)' has no class_name")
            }
            let layerConfig = entry["config"] as? [String: Any] ?? [:]
            guard let layerName = layerConfig["name"] as? String ?? entry["name"] as? String else {
                throw SavedModelError.badConfig(detail: "a \(layerClass) layer of '\(name)' has no name")
            }
            let calls = try (entry["inbound_nodes"] as? [Any] ?? []).map { try parseCall($0, layer: layerName) }
            let nested = isModel(entry) ? try parse(model: entry) : nil
            layers.append(
                LayerConfig(
                    className: layerClass, module: entry["module"] as? String, name: layerName, config: layerConfig,
                    calls: calls, model: nested))
        }
        let sequential = sequentialClasses.contains(cls) || (config["input_layers"] == nil && cls != "Functional")
        if sequential {
            let first = layers.first
            var input: [Int?]? = nil
            if first?.className != "InputLayer" {
                input =
                    batchShape(first?.config["batch_input_shape"] ?? first?.config["batch_shape"])
                    ?? batchShape((object["build_config"] as? [String: Any])?["input_shape"])
                    ?? batchShape(config["build_input_shape"])
            }
            return ModelConfigTree(
                className: cls, name: name, layers: layers, inputs: [], outputs: [], isSequential: true,
                sequentialInput: input)
        }
        return ModelConfigTree(
            className: cls, name: name, layers: layers, inputs: refs(config["input_layers"]),
            outputs: refs(config["output_layers"]), isSequential: false, sequentialInput: nil)
    }

    /// `[["input_1", 0, 0], ...]` or a single flat `["input_layer", 0, 0]` (Keras 3), or a dict
    /// of them (Keras 3 models built on a dict of inputs: its values, in order).
    static func refs(_ value: Any?) -> [TensorRef] {
        if let single = legacyRef(value) { return [single] }
        if let list = value as? [Any] { return list.flatMap { refs($0) } }
        if let dict = value as? [String: Any] { return dict.keys.sorted().flatMap { refs(dict[$0]) } }
        return []
    }

    /// `["conv1", 0, 0]` or `["conv1", 0, 0, {kwargs}]`.
    static func legacyRef(_ value: Any?) -> TensorRef? {
        guard let list = value as? [Any], list.count >= 3, let layer = list[0] as? String,
            let node = (list[1] as? NSNumber)?.intValue, let tensor = (list[2] as? NSNumber)?.intValue
        else { return nil }
        return TensorRef(layer: layer, node: node, tensor: tensor)
    }

    /// A Keras 3 `__keras_tensor__`.
    static func kerasTensor(_ value: Any?) -> TensorRef? {
        guard let dict = value as? [String: Any], dict["class_name"] as? String == "__keras_tensor__",
            let history = (dict["config"] as? [String: Any])?["keras_history"]
        else { return nil }
        return legacyRef(history)
    }

    /// One entry of `inbound_nodes`, in any dialect.
    static func parseCall(_ node: Any, layer: String) throws -> LayerCall {
        // Keras 3: {"args": [...], "kwargs": {...}}; a list argument of tensors (a merge
        // layer's) counts as its tensors.
        if let dict = node as? [String: Any], dict["args"] != nil || dict["kwargs"] != nil {
            var args: [LayerCall.Arg] = []
            for arg in dict["args"] as? [Any] ?? [] {
                let found = tensors(in: arg)
                args += found.isEmpty ? [.constant(arg)] : found.map { .tensor($0) }
            }
            return LayerCall(args: args, kwargs: dict["kwargs"] as? [String: Any] ?? [:])
        }
        // Legacy: one `[layer, node, tensor, kwargs]`, or a list of them; tf.keras writes a
        // constant first argument as `["_CONSTANT_VALUE", -1, value, kwargs]`.
        guard let list = node as? [Any] else {
            throw SavedModelError.badConfig(detail: "layer '\(layer)' has an inbound node of an unknown form")
        }
        let entries = list.first is String ? [list] : list.compactMap { $0 as? [Any] }
        var args: [LayerCall.Arg] = []
        var kwargs: [String: Any] = [:]
        for entry in entries {
            if entry.first as? String == "_CONSTANT_VALUE", entry.count >= 3 {
                args.append(.constant(entry[2]))
            } else if let ref = legacyRef(entry) {
                args.append(.tensor(ref))
            } else {
                throw SavedModelError.badConfig(detail: "layer '\(layer)' has an inbound tensor of an unknown form")
            }
            if entry.count > 3, let extra = entry[3] as? [String: Any] { kwargs.merge(extra) { a, _ in a } }
        }
        return LayerCall(args: args, kwargs: kwargs)
    }

    /// Every Keras 3 tensor inside a (possibly nested) argument, in order.
    static func tensors(in value: Any) -> [TensorRef] {
        if let ref = kerasTensor(value) { return [ref] }
        if let list = value as? [Any] { return list.flatMap { tensors(in: $0) } }
        return []
    }

    /// `[null, 160, 160, 3]` -> [160, 160, 3]; nil for anything else.
    static func batchShape(_ value: Any?) -> [Int?]? {
        guard let list = value as? [Any], list.count >= 2, !(list.first is [Any]) else { return nil }
        return list.dropFirst().map { ($0 as? NSNumber)?.intValue }
    }
}

/// Why a saved model could not be built: what, where, and what to do.
public enum SavedModelError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The config itself is not what any Keras writes.
    case badConfig(detail: String)
    /// Layers the tool does not build, every one of them (`scope/name (Class)`).
    case unsupportedLayers([String])
    /// A layer whose settings the tool does not build (`padding="causal"`, ...).
    case unsupportedSetting(layer: String, detail: String)
    /// The model's input is not an image (`(None, 20)`), or has no fixed size.
    case input(detail: String)

    public var description: String {
        switch self {
        case .badConfig(let detail): return "the saved model's config cannot be read: \(detail)"
        case .unsupportedLayers(let layers):
            return
                "the saved model has \(layers.count) layer\(layers.count == 1 ? "" : "s") this tool does not build: \(layers.joined(separator: ", ")); Lambda layers hold Python code and are never run. Use --backbone-only for the features of the backbone inside, or --layer NAME for an earlier layer"
        case .unsupportedSetting(let layer, let detail):
            return
                "layer \(layer): \(detail) is not supported; use --backbone-only or --layer NAME for an earlier layer"
        case .input(let detail): return "the saved model's input \(detail)"
        }
    }

    public var errorDescription: String? { description }
}
