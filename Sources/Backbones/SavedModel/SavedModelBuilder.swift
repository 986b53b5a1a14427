import Foundation
import WeightLoader

// A saved Keras model, whole, as a `Graph`: every layer of its config called as the config
// says (Functional, Sequential, models nested in models, shared layers, several inputs and
// outputs), nothing executed from the file. Layers that cannot be built do not stop the walk:
// every one is collected, and the outputs that need them end in one error naming them all,
// before any image is read. Nested models become scopes, so their layers keep the names the
// weight file stores them under.

/// A saved model built: its graph and what a run needs to know of it.
public struct SavedModelGraph: Sendable {
    public let graph: Graph
    /// The outer model's name (`model`, `functional`, `sequential`).
    public let name: String
    /// Its output layers' names, in `model.outputs` order (the `.npz` array names).
    public let outputNames: [String]
    /// The models nested in it, outermost first (`["mobilenetv2_1.00_160"]`).
    public let nestedModels: [String]
    /// Every layer that could not be built, needed or not (`inspect` lists them).
    public let unsupported: [String]
    /// Keras 3 files: where each weighted layer's `vars` are, by its path in the graph.
    let keras3Groups: [String: String]
    /// The layers (calls) built, for `inspect`'s summary.
    public var layerCount: Int { graph.nodes.count }
}

public enum SavedModelBuilder {
    /// Builds the model `config` describes. `keras3` picks the activation dialect (Keras 3 or
    /// earlier); `inputSize` fills spatial sides the config leaves open (`None`); `layer`
    /// ends the graph at that layer (`dense`, `mobilenetv2_1.00_160/block_13_expand_relu`, or
    /// a nested model's name for its output).
    public static func build(
        config: String, keras3: Bool, inputSize: (height: Int, width: Int)? = nil, layer: String? = nil,
        requireOutputs: Bool = true
    ) throws -> SavedModelGraph {
        let tree = try ModelConfigTree.parse(config)
        var builder = Builder(keras3: keras3, inputSize: inputSize, modelName: tree.name)
        let outputs = try builder.inline(tree, scope: [], inputs: nil)
        guard var graph = builder.graph else { throw SavedModelError.input(detail: "is not declared in its config") }
        let unsupported = builder.unsupported.map(\.description)
        var names = tree.outputs.map(\.layer)
        if names.count != outputs.count { names = outputs.indices.map { $0 == 0 ? tree.name : "\(tree.name)_\($0)" } }
        let wanted: [Value]
        if let layer {
            wanted = [try builder.value(named: layer, graph: graph)]
            names = [layer]
        } else {
            wanted = outputs
        }
        var ids: [NodeID] = []
        for value in wanted {
            switch value {
            case .node(let id): ids.append(id)
            case .channel:
                throw SavedModelError.unsupportedLayers([
                    "\(layer ?? tree.name) (a single channel x[..., k] as an output)"
                ])
            case .missing(let needed):
                // Binding needs only the layers that were built.
                if !requireOutputs { continue }
                throw SavedModelError.unsupportedLayers(
                    builder.unsupported.filter { needed.contains($0.path) }.map(\.description))
            }
        }
        graph.outputs = ids
        return SavedModelGraph(
            graph: graph, name: tree.name, outputNames: names, nestedModels: builder.nested,
            unsupported: unsupported, keras3Groups: builder.groups)
    }
}

/// A tensor while the model is walked: a graph node, or the layers it would need that cannot
/// be built.
enum Value {
    case node(NodeID)
    /// One channel of a map (`x[..., k]`), until a `Stack` gathers channels again.
    case channel(NodeID, Int)
    case missing(Set<String>)
}

struct Unsupported: CustomStringConvertible {
    let path: String
    let className: String
    let reason: String
    var description: String { "\(path) (\(className): \(reason))" }
}

private struct Builder {
    let keras3: Bool
    let inputSize: (height: Int, width: Int)?
    let modelName: String
    var graph: Graph?
    var unsupported: [Unsupported] = []
    var nested: [String] = []
    /// Each nested model call's outputs, by its scope path (`--layer` may name a model).
    var modelOutputs: [[String]: [Value]] = [:]
    /// Keras 3 files: the group each layer's variables are stored in, by the layer's path
    /// (`layers/functional/layers/conv2d_3`).
    var groups: [String: String] = [:]
    /// Values of every call, by path, for `--layer` when the node was not added (identity
    /// layers that were folded, unsupported layers).
    var byPath: [String: Value] = [:]

    init(keras3: Bool, inputSize: (height: Int, width: Int)?, modelName: String) {
        self.keras3 = keras3
        self.inputSize = inputSize
        self.modelName = modelName
    }

    /// Calls `model` inside `scope` on `inputs` (nil for the outer model, whose InputLayers
    /// become the graph's inputs) and gives its outputs.
    mutating func inline(
        _ model: ModelConfigTree, scope: [String], inputs: [Value]?, group: String = ""
    ) throws -> [Value] {
        let keys = Self.keras3Keys(model.layers)
        if model.isSequential {
            var x: Value
            var layers = model.layers[...]
            if let given = inputs {
                guard given.count == 1 else {
                    throw SavedModelError.badConfig(
                        detail: "Sequential '\(model.name)' called on \(given.count) tensors")
                }
                x = given[0]
                if layers.first?.className == "InputLayer" { layers = layers.dropFirst() }
            } else if let first = layers.first, first.className == "InputLayer" {
                x = try addInput(first.name, shape: ModelConfigTree.batchShape(inputShape(of: first)))
                layers = layers.dropFirst()
            } else {
                x = try addInput("input_layer", shape: model.sequentialInput)
            }
            for layer in layers {
                x = try call(
                    layer, LayerCall.none, [x], scope: scope, index: 0, group: group + keys[layer.name, default: ""])[0]
            }
            return [x]
        }
        var produced: [TensorRef: Value] = [:]
        if let inputs {
            guard inputs.count == model.inputs.count else {
                throw SavedModelError.badConfig(
                    detail: "model '\(model.name)' takes \(model.inputs.count) inputs, called on \(inputs.count)")
            }
            for (ref, value) in zip(model.inputs, inputs) { produced[ref] = value }
        } else {
            // The outer model's inputs, in `model.inputs` order.
            for ref in model.inputs {
                guard let layer = model.layers.first(where: { $0.name == ref.layer }) else {
                    throw SavedModelError.badConfig(detail: "input layer '\(ref.layer)' is not among the layers")
                }
                produced[ref] = try addInput(layer.name, shape: ModelConfigTree.batchShape(inputShape(of: layer)))
            }
        }
        // The calls in config order, each once its inputs exist: a shared layer is listed once,
        // before layers that make the input of its later calls (Keras' `process_node` defers
        // the same way).
        let callCount = Dictionary(model.layers.map { ($0.name, $0.calls.count) }, uniquingKeysWith: { a, _ in a })
        func lookup(_ ref: TensorRef) -> Value? {
            if let value = produced[ref] { return value }
            // tf.keras numbers a nested model's nodes with its own construction first
            // (`["mobilenetv2_1.00_160", 1, 0]` for its one call here).
            if callCount[ref.layer] == 1 { return produced[TensorRef(layer: ref.layer, node: 0, tensor: ref.tensor)] }
            return nil
        }
        var pending = model.layers.flatMap { layer in layer.calls.indices.map { (layer, $0) } }
        while !pending.isEmpty {
            var waiting: [(LayerConfig, Int)] = []
            for (layer, k) in pending {
                let call = layer.calls[k]
                let found = call.inputs.map(lookup)
                if found.contains(where: { $0 == nil }) {
                    waiting.append((layer, k))
                    continue
                }
                let outs = try self.call(
                    layer, call, found.map { $0! }, scope: scope, index: k,
                    group: group + keys[layer.name, default: ""])
                for (t, value) in outs.enumerated() {
                    produced[TensorRef(layer: layer.name, node: k, tensor: t)] = value
                }
            }
            if waiting.count == pending.count {
                let (layer, k) = waiting[0]
                let ref = layer.calls[k].inputs.first { lookup($0) == nil }!
                throw SavedModelError.badConfig(
                    detail: "layer '\(layer.name)' reads \(ref), which no layer of '\(model.name)' makes")
            }
            pending = waiting
        }
        return try model.outputs.map { ref in
            guard let value = lookup(ref) else {
                throw SavedModelError.badConfig(detail: "output \(ref) of '\(model.name)' is never made")
            }
            return value
        }
    }

    /// `batch_shape` (Keras 3) or `batch_input_shape` (Keras 2) of an InputLayer.
    func inputShape(of layer: LayerConfig) -> Any? {
        layer.config["batch_shape"] ?? layer.config["batch_input_shape"]
    }

    /// A graph input of `shape` (without the batch axis); open spatial sides take `inputSize`.
    mutating func addInput(_ name: String, shape: [Int?]?) throws -> Value {
        guard let shape, !shape.isEmpty else {
            throw SavedModelError.input(detail: "'\(name)' has no shape in the config")
        }
        var dims: [Int] = []
        for (i, d) in shape.enumerated() {
            if let d { dims.append(d); continue }
            guard shape.count == 3, i < 2, let size = inputSize else {
                throw SavedModelError.input(
                    detail:
                        "'\(name)' has an open size \(shape.map { $0.map(String.init) ?? "None" }); give --input-size")
            }
            dims.append(i == 0 ? size.height : size.width)
        }
        let feature = FeatureShape(dims)
        if graph == nil {
            graph = Graph(name: modelName, input: feature, inputName: name)
            return .node(graph!.input)
        }
        return .node(try graph!.addInput(name, feature))
    }

    /// Keras 3's key for each layer of a model (`saving_lib._save_container_state`): `layers/`
    /// and the snake-case class name, numbered from the second of a class on, in list order.
    static func keras3Keys(_ layers: [LayerConfig]) -> [String: String] {
        var used: [String: Int] = [:]
        var keys: [String: String] = [:]
        for layer in layers where !layer.isOperation {
            let base = snakeCase(layer.className)
            let n = used[base].map { $0 + 1 } ?? 0
            used[base] = n
            keys[layer.name] = "layers/" + (n == 0 ? base : "\(base)_\(n)")
        }
        return keys
    }

    /// One call of `layer` on `ins`: its output values. `group` is the layer's Keras 3 group.
    mutating func call(
        _ layer: LayerConfig, _ call: LayerCall, _ ins: [Value], scope: [String], index: Int, group: String
    ) throws -> [Value] {
        // A shared layer's later calls are nodes of their own; they read the first call's
        // weights (`SavedModelWeights`).
        let name = index == 0 ? layer.name : "\(layer.name):\(index)"
        let path = (scope + [name]).joined(separator: "/")
        let missing = ins.reduce(into: Set<String>()) { acc, v in if case .missing(let m) = v { acc.formUnion(m) } }
        if let model = layer.model {
            if index == 0 { nested.append((scope + [name]).joined(separator: "/")) }
            let outs: [Value]
            if missing.isEmpty {
                outs = try inline(model, scope: scope + [name], inputs: ins, group: group + "/")
            } else {
                outs = Array(repeating: .missing(missing), count: max(model.outputs.count, 1))
            }
            modelOutputs[scope + [name]] = outs
            if let first = outs.first { byPath[path] = first }
            return outs
        }
        if !missing.isEmpty {
            // Listed too, so one error names every layer that cannot run.
            var needed = missing
            if !KerasLayers.isBuilt(layer) {
                let reason =
                    layer.className == "Lambda"
                    ? "Lambda layers hold Python code, which is never run" : "no builder for this class"
                unsupported.append(Unsupported(path: path, className: layer.className, reason: reason))
                needed.insert(path)
            }
            byPath[path] = .missing(needed)
            return [.missing(needed)]
        }
        if layer.className == "Stack" || layer.className == "Concatenate",
            ins.contains(where: { if case .channel = $0 { return true } else { return false } })
        {
            let value = try gather(ins, name: name, path: path, className: layer.className, scope: scope)
            byPath[path] = value
            return [value]
        }
        var nodes: [NodeID] = []
        for v in ins {
            switch v {
            case .node(let id): nodes.append(id)
            case .channel:
                unsupported.append(
                    Unsupported(path: path, className: layer.className, reason: "reads a single channel x[..., k]"))
                byPath[path] = .missing([path])
                return [.missing([path])]
            case .missing: break
            }
        }
        let shapes = nodes.map { graph!.shape($0) }
        let plan: CallPlan
        do {
            plan = try Self.plan(layer, call, shapes: shapes, keras3: keras3)
        } catch SavedModelError.unsupportedSetting(_, let detail) {
            plan = .unsupported(detail)
        }
        let value: Value
        switch plan {
        case .op(let op):
            value = .node(try graph!.add(name, op, inputs: nodes, in: scope))
            groups[path] = group
        case .constantInput(let op, let tensor):
            value = .node(try graph!.add(name, op, inputs: [nodes[tensor]], in: scope))
        case .channel(let tensor, let index):
            value = .channel(nodes[tensor], index)
        case .identity:
            guard nodes.count == 1 else {
                throw SavedModelError.badConfig(detail: "layer '\(path)' takes one tensor, called on \(nodes.count)")
            }
            value = .node(try graph!.add(name, .dropout, inputs: nodes, in: scope))
        case .unsupported(let reason):
            unsupported.append(Unsupported(path: path, className: layer.className, reason: reason))
            value = .missing([path])
        }
        byPath[path] = value
        return [value]
    }

    /// `stack([x[..., 2], x[..., 1], x[..., 0]], axis=-1)` (Keras 3's caffe `preprocess_input`):
    /// every channel of one map, reversed or in order.
    mutating func gather(_ ins: [Value], name: String, path: String, className: String, scope: [String]) throws -> Value
    {
        var source: NodeID?
        var order: [Int] = []
        for v in ins {
            guard case .channel(let id, let k) = v, source == nil || source == id else {
                source = nil; order = []; break
            }
            source = id
            order.append(k)
        }
        if let source {
            let c = graph!.shape(source).channels
            if order == Array((0..<c).reversed()) {
                return .node(try graph!.add(name, .reverseChannels, inputs: [source], in: scope))
            }
            if order == Array(0..<c) { return .node(try graph!.add(name, .dropout, inputs: [source], in: scope)) }
        }
        unsupported.append(
            Unsupported(
                path: path, className: className,
                reason: "gathers channels other than all of one map, in or against order"))
        return .missing([path])
    }

    static func plan(_ layer: LayerConfig, _ call: LayerCall, shapes: [FeatureShape], keras3: Bool) throws -> CallPlan {
        if let op = try OpLayers.plan(layer, call, shapes: shapes) { return op }
        switch try KerasLayers.plan(layer, shapes: shapes, keras3: keras3) {
        case .op(let op): return .op(op)
        case .identity: return .identity
        case .unsupported(let reason): return .unsupported(reason)
        }
    }

    /// The value `--layer` names: `scope/.../name`, a top-level name, a name unique among all
    /// scopes, or a nested model's name (its output).
    func value(named layer: String, graph: Graph) throws -> Value {
        if let value = byPath[layer] { return value }
        let matches = byPath.keys.filter { $0.split(separator: "/").last.map(String.init) == layer }.sorted()
        if matches.count == 1, let value = byPath[matches[0]] { return value }
        let all = byPath.keys.sorted()
        if matches.count > 1 {
            throw GraphError.unknownLayer(
                model: modelName, layer: layer + " (in several models: name one)", examples: matches)
        }
        let near = all.filter { $0.split(separator: "/").last?.hasPrefix(layer.prefix(4)) ?? false }.prefix(8)
        throw GraphError.unknownLayer(
            model: modelName, layer: layer, examples: Array(near.isEmpty ? all.suffix(8) : near))
    }
}
