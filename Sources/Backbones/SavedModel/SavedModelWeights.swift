import Foundation
import WeightLoader

// A saved model's arrays bound to the graph its config built, once, strictly: every weighted
// layer finds its arrays where Keras stored them, each checked against the shape the graph
// expects, and nothing in the file is left over.
// - Legacy `.h5` (`model.save` of tf.keras 2 or Keras 3, Keras 1–2): the top-level layer's
//   group under `layer_names`; a nested model's layers inside its group, named
//   `<inner scopes>/<layer>/<variable>` (with or without the nested model's own name first);
//   variables by name (`kernel:0`, `moving_mean`), whatever their stored order (an unfrozen
//   model lists all trainable arrays before the non-trainable ones).
// - Keras 3 (`.keras`, `.weights.h5`): the group `layers/<snake class>[_N]/...` Keras' saving
//   library derives from the config's layer lists, variables `vars/0..n` in creation order.
// A file Keras 2 wrote on Theano (`backend` attribute "theano") holds Conv2D kernels for
// Theano's true convolution: each is flipped back to the cross-correlation we (and TensorFlow)
// compute, as Keras' loader does (`convert_kernel` for Conv layers). Depthwise kernels (of
// DepthwiseConv2D and SeparableConv2D) are stored as they are used, and are not flipped; both
// checked against Theano's own predict.

extension SavedModelGraph {
    /// The model's arrays from `file`, bound to the graph's weighted layers.
    public func bind(_ file: KerasWeightFile) throws -> BoundWeights {
        Tally.shared.count(\.loads)
        let keras3 = file.layout == .keras3Archive || file.layout == .keras3Weights
        let theano = file.backend == "theano"
        let all = file.layers.flatMap(\.preorder)
        let byGroup = Dictionary(all.compactMap { l in l.path.map { ($0, l) } }, uniquingKeysWith: { a, _ in a })
        var used = Set<String>()
        var layers: [BoundLayer] = []
        var specs: [ArchitectureLayer] = []
        for node in graph.nodes where node.op.hasWeights {
            let input = graph.shape(node.inputs[0])
            let spec = node.op.weightSpec(input: input)
            let stored: [FileArray]
            let source: String
            if keras3 {
                (stored, source) = try keras3Arrays(node, byGroup: byGroup, file: file)
            } else {
                (stored, source) = try legacyArrays(node, spec, file: file)
            }
            guard stored.count >= spec.count else {
                throw SavedModelWeightError.arrays(
                    path: file.path, layer: node.path, expected: spec.count, found: stored.map(\.name))
            }
            var arrays: [BoundArray] = []
            for (want, have) in zip(spec, stored) {
                guard have.shape == want.shape else {
                    throw WeightLoaderError.shapeMismatch(
                        path: file.path, layer: node.path, array: have.name, expected: want.shape, actual: have.shape)
                }
                guard have.dtype.isNumeric else {
                    throw WeightLoaderError.unsupportedDType(
                        path: file.path, dataset: have.location, dtype: have.dtype.rawValue)
                }
                // Named as `WeightSource` reads them: `<scopes>/<layer>/<variable>`.
                arrays.append(
                    BoundArray(
                        name: (node.scopePath + [node.name, want.names.first ?? "variable"]).joined(separator: "/"),
                        shape: want.shape,
                        values: theano && want.shape.count == 4 && !want.names.contains("depthwise_kernel")
                            ? Self.flippedSpatially(try have.values(), shape: want.shape) : try have.values()))
            }
            used.insert(source)
            specs.append(
                ArchitectureLayer(
                    name: node.path, className: "\(node.op)".prefix { $0 != "(" }.description,
                    arrays: arrays.map { ArchitectureArray(path: $0.name, shape: $0.shape) }))
            // Nested layers are grouped under their outermost model, as `WeightSource` reads.
            if let k = layers.firstIndex(where: { $0.name == node.weightsLayer }) {
                let old = layers[k]
                layers[k] = BoundLayer(
                    name: old.name, className: old.className, sourceName: old.sourceName, arrays: old.arrays + arrays)
            } else {
                layers.append(
                    BoundLayer(name: node.weightsLayer, className: "", sourceName: node.weightsLayer, arrays: arrays))
            }
        }
        let architecture = Architecture(
            id: name, keras: file.kerasVersion ?? "", inputShape: graph.shape(graph.input).dimensions.map { $0 },
            outputShape: graph.shape(graph.outputNode).dimensions.map { $0 }, layers: specs)
        return BoundWeights(architecture: architecture, method: .savedModel, layers: layers)
    }

    /// A shared layer's later calls (`conv:1`) and the scopes of a nested model called again
    /// read the first call's arrays.
    static func base(_ name: String) -> String {
        guard let colon = name.lastIndex(of: ":"), Int(name[name.index(after: colon)...]) != nil else { return name }
        return String(name[..<colon])
    }

    func keras3Arrays(
        _ node: GraphNode, byGroup: [String: FileLayer], file: KerasWeightFile
    ) throws -> ([FileArray], String) {
        guard let group = keras3Groups[node.path] ?? keras3Groups[Self.basePath(node)], let layer = byGroup[group]
        else {
            throw SavedModelWeightError.missing(
                path: file.path, layer: node.path, looked: keras3Groups[node.path] ?? node.path)
        }
        return (layer.arrays, group)
    }

    static func basePath(_ node: GraphNode) -> String {
        (node.scopePath + [node.name]).map(base).joined(separator: "/")
    }

    func legacyArrays(_ node: GraphNode, _ spec: [WeightSpec], file: KerasWeightFile) throws -> ([FileArray], String) {
        let scopes = node.scopePath.map(Self.base)
        let name = Self.base(node.name)
        let top = scopes.first ?? name
        guard let layer = file.layers.first(where: { $0.name == top }) else {
            throw SavedModelWeightError.missing(path: file.path, layer: node.path, looked: top)
        }
        var candidates = layer.arrays
        if !scopes.isEmpty {
            // `<inner scopes>/<layer>/<variable>[:0]`, the outer model's name first or not.
            let tail = Array(scopes.dropFirst()) + [name]
            let paths = candidates.map { a -> [String] in
                var parts = Self.bare(a.name).split(separator: "/").dropLast().map(String.init)
                if parts.first == top, parts.count > tail.count { parts.removeFirst() }
                return parts
            }
            let exact = zip(candidates, paths).filter { $1 == tail }.map(\.0)
            candidates =
                exact.isEmpty
                ? zip(candidates, paths).filter { $1.count >= tail.count && Array($1.suffix(tail.count)) == tail }.map(
                    \.0)
                : exact
        }
        // Each variable by its name; a file without names keeps the stored order.
        var picked: [FileArray] = []
        for want in spec {
            let variable = { (a: FileArray) in String(Self.bare(a.name).split(separator: "/").last ?? "") }
            if let found = candidates.first(where: { want.names.contains(variable($0)) }) {
                picked.append(found)
            } else if picked.count < candidates.count {
                picked.append(candidates[picked.count])
            }
        }
        return (picked, (scopes + [name]).joined(separator: "/"))
    }

    /// A (kh, kw, ...) kernel with both spatial axes reversed: `kernel[::-1, ::-1]`.
    static func flippedSpatially(_ values: [Float], shape: [Int]) -> [Float] {
        let (kh, kw) = (shape[0], shape[1])
        let inner = shape.dropFirst(2).reduce(1, *)
        var out = values
        for y in 0..<kh {
            for x in 0..<kw {
                let from = (y * kw + x) * inner
                let to = ((kh - 1 - y) * kw + (kw - 1 - x)) * inner
                out[to..<to + inner] = values[from..<from + inner]
            }
        }
        return out
    }

    /// `conv/kernel:0` -> `conv/kernel`.
    static func bare(_ name: String) -> String { name.hasSuffix(":0") ? String(name.dropLast(2)) : name }
}

public enum SavedModelWeightError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A weighted layer of the config has no arrays in the file.
    case missing(path: String, layer: String, looked: String)
    case arrays(path: String, layer: String, expected: Int, found: [String])

    public var description: String {
        switch self {
        case .missing(let path, let layer, let looked):
            return
                "\(path): layer \(layer) of the model's config has no weights in the file (looked for \(looked)); the config and the weights disagree: save the model again"
        case .arrays(let path, let layer, let expected, let found):
            return
                "\(path): layer \(layer) needs \(expected) arrays, the file has \(found.count) (\(found.joined(separator: ", "))); the config and the weights disagree: save the model again"
        }
    }

    public var errorDescription: String? { description }
}
