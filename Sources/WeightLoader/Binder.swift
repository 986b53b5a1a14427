import Foundation

/// A weight array placed in an architecture, values converted to float32.
public struct BoundArray: Sendable {
    /// The architecture's name for it (`conv1_conv/kernel`).
    public let name: String
    public let shape: [Int]
    public let values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

public struct BoundLayer: Sendable {
    public let name: String
    public let className: String
    /// The layer name the file used, which may come from another Keras era.
    public let sourceName: String
    public let arrays: [BoundArray]

    public init(name: String, className: String, sourceName: String, arrays: [BoundArray]) {
        self.name = name
        self.className = className
        self.sourceName = sourceName
        self.arrays = arrays
    }
}

/// How a file's arrays were matched to the architecture.
public enum BindingMethod: Sendable, Equatable, CustomStringConvertible {
    /// The published files and plain saved models: k-th weighted layer to k-th, as Keras does.
    case positional
    /// A backbone nested in a saved model, or a `.weights.h5`: by layer name, auto-named layers
    /// by order within their class.
    case byName(nestedIn: String?)
    /// A Keras 3 file of a model that tracks layers as attributes (a subclassed `keras.Model`,
    /// layers holding sub-layers): by the layer names its `vars` groups record, first in
    /// Keras' visiting order where names repeat. `path` is the group of the model that bound
    /// (`backbone`; nil: the file's layers as a whole), `model` its recorded name.
    case byTrackedName(path: String?, model: String?)
    /// A whole saved model built from its config: each layer's arrays found where the config
    /// says Keras stored them.
    case savedModel

    public var description: String {
        switch self {
        case .positional: return "positional"
        case .byName(let nested): return nested.map { "by name inside '\($0)'" } ?? "by name"
        case .byTrackedName(let path, let model):
            let place = path.map { "inside '\($0)'" + (model.map { " (\($0))" } ?? "") } ?? "across the whole file"
            return "by the layer names of an attribute-tracked layout, \(place)"
        case .savedModel: return "by the saved model's config"
        }
    }

    /// The saved model the backbone was found in, by its recorded name.
    public var nestedIn: String? {
        switch self {
        case .positional, .savedModel: return nil
        case .byName(let nested): return nested
        case .byTrackedName(_, let model): return model
        }
    }
}

/// Which file layer feeds which architecture layer: shapes checked, no values read yet.
public struct BindingPlan: Sendable {
    public let architecture: Architecture
    public let method: BindingMethod
    public let pairs: [(layer: ArchitectureLayer, source: FileLayer)]
    let path: String

    /// How many file layer names equal the architecture's: tells apart architectures with
    /// identical shapes (the fchollet v0.2 ResNet50 from the current one).
    public var nameAgreement: Int { pairs.filter { $0.layer.name == $0.source.name }.count }

    /// Reads every array. Values are converted to float32 by libhdf5.
    public func load() throws -> BoundWeights {
        Tally.shared.count(\.loads)
        let layers = try pairs.map { pair in
            BoundLayer(
                name: pair.layer.name, className: pair.layer.className, sourceName: pair.source.name,
                arrays: try zip(pair.layer.arrays, pair.source.arrays).map { spec, stored in
                    BoundArray(name: spec.path, shape: spec.shape, values: try stored.values())
                })
        }
        return BoundWeights(architecture: architecture, method: method, layers: layers)
    }
}

public struct BoundWeights: Sendable {
    public let architecture: Architecture
    public let method: BindingMethod
    public let layers: [BoundLayer]

    public init(architecture: Architecture, method: BindingMethod, layers: [BoundLayer]) {
        self.architecture = architecture
        self.method = method
        self.layers = layers
    }

    public func layer(_ name: String) -> BoundLayer? { layers.first { $0.name == name } }
}

/// Binds a Keras weight file to an architecture the way Keras' loaders do (shared notes §2.1,
/// §3.2): positionally with a shape check on every array, by name where positions do not apply.
public enum Binder {
    public static func bind(_ file: KerasWeightFile, to architecture: Architecture) throws -> BoundWeights {
        try plan(file, architecture).load()
    }

    public static func plan(_ file: KerasWeightFile, _ arch: Architecture) throws -> BindingPlan {
        let weighted = file.weightedLayers
        switch file.layout {
        case .legacyWeights, .legacyFullModel:
            // Keras zips positionally whenever it loads a legacy file into a model; a backbone
            // nested in a saved model is one layer there, so it can only be found by name.
            let nested = weighted.filter(\.isNested)
            if weighted.count == arch.numWeightedLayers || nested.isEmpty {
                return try positional(weighted, arch, path: file.path)
            }
            return try firstByName(
                nested, arch, file: file, fallback: { try positional(weighted, arch, path: file.path) })
        case .keras3Weights, .keras3Archive:
            if file.tracking == .attributes { return try trackedByName(file, arch) }
            let nested = weighted.filter(\.isNested)
            if nested.isEmpty || weighted.count == arch.numWeightedLayers {
                return try byName(weighted, arch, path: file.path, nestedIn: nil)
            }
            return try firstByName(
                nested, arch, file: file, fallback: { try byName(weighted, arch, path: file.path, nestedIn: nil) })
        }
    }

    /// An attribute-tracked Keras 3 file (`backbone/layers/conv2d/vars/0`, `block1/...`): each
    /// model or layer-holding layer in the order Keras visits them (`_walk_saveable`), then all
    /// the file's layers together, by the names their `vars` groups record. Where two layers
    /// share a name, the first Keras visits binds, as the first model that fits does. When
    /// nothing fits, the error is the one of the candidate whose size is nearest the model's.
    static func trackedByName(_ file: KerasWeightFile, _ arch: Architecture) throws -> BindingPlan {
        var closest: (distance: Int, error: Error)?
        func note(_ error: Error, _ layers: Int) {
            let distance = abs(layers - arch.numWeightedLayers)
            if closest == nil || distance < closest!.distance { closest = (distance, error) }
        }
        for candidate in file.nestedLayers {
            let layers = candidate.preorder.dropFirst().filter { !$0.arrays.isEmpty }
            do {
                return try byName(
                    Array(layers), arch, path: file.path,
                    method: .byTrackedName(path: candidate.path, model: candidate.name))
            } catch { note(error, layers.count) }
        }
        let leaves = file.leafLayers
        do {
            return try byName(leaves, arch, path: file.path, method: .byTrackedName(path: nil, model: nil))
        } catch { note(error, leaves.count) }
        throw closest!.error
    }

    /// Tries each nested model in turn; when none fits, reports the error of the one that came
    /// closest, or of `fallback` when the file has a single candidate.
    static func firstByName(
        _ nested: [FileLayer], _ arch: Architecture, file: KerasWeightFile,
        fallback: () throws -> BindingPlan
    ) throws -> BindingPlan {
        var firstError: Error?
        for candidate in nested {
            do { return try byName(candidate.inner, arch, path: file.path, nestedIn: candidate.name) } catch {
                if firstError == nil { firstError = error }
            }
        }
        if nested.count == 1, let firstError { throw firstError }
        return try fallback()
    }

    static func positional(_ layers: [FileLayer], _ arch: Architecture, path: String) throws -> BindingPlan {
        guard layers.count == arch.layers.count else {
            // Point at the first weighted layer whose arrays disagree, the likely cause.
            let n = min(layers.count, arch.layers.count)
            let index = (0..<n).first { shapes(layers[$0]) != arch.layers[$0].arrays.map(\.shape) } ?? n
            throw WeightLoaderError.layerCountMismatch(
                path: path, architecture: arch.id, expected: arch.layers.count, actual: layers.count,
                firstDifference: index, expectedLayer: index < arch.layers.count ? arch.layers[index].name : "(none)",
                fileLayer: index < layers.count ? layers[index].name : nil)
        }
        let pairs = try zip(arch.layers, layers).map { spec, stored in
            try check(stored, against: spec, arch: arch, path: path)
            return (layer: spec, source: stored)
        }
        return BindingPlan(architecture: arch, method: .positional, pairs: pairs, path: path)
    }

    /// Named layers by name; layers Keras named automatically (`conv2d_7`, whose number depends
    /// on what else the session built) by order within their class, as `.weights.h5` keys are.
    static func byName(
        _ layers: [FileLayer], _ arch: Architecture, path: String, nestedIn: String?
    ) throws -> BindingPlan {
        try byName(layers, arch, path: path, method: .byName(nestedIn: nestedIn))
    }

    static func byName(
        _ layers: [FileLayer], _ arch: Architecture, path: String, method: BindingMethod
    ) throws -> BindingPlan {
        var unused = Array(layers.indices)
        var byName: [String: Int] = [:]
        for (i, layer) in layers.enumerated() where byName[layer.name] == nil { byName[layer.name] = i }
        var chosen = [Int?](repeating: nil, count: arch.layers.count)
        for (k, spec) in arch.layers.enumerated() {
            if let i = byName[spec.name] {
                chosen[k] = i
                unused.removeAll { $0 == i }
            }
        }
        // The rest pair up in order, within a class when the file records classes.
        for (k, spec) in arch.layers.enumerated() where chosen[k] == nil {
            let key = snakeCase(spec.className)
            guard let pick = unused.first(where: { layers[$0].className == nil || layers[$0].className == key }) else {
                throw WeightLoaderError.missingLayer(path: path, architecture: arch.id, layer: spec.name)
            }
            chosen[k] = pick
            unused.removeAll { $0 == pick }
        }
        if !unused.isEmpty {
            throw WeightLoaderError.unusedLayers(
                path: path, architecture: arch.id, layers: unused.map { layers[$0].name })
        }
        let pairs = try zip(arch.layers, chosen).map { spec, index in
            let stored = layers[index!]
            try check(stored, against: spec, arch: arch, path: path)
            return (layer: spec, source: stored)
        }
        return BindingPlan(architecture: arch, method: method, pairs: pairs, path: path)
    }

    static func shapes(_ layer: FileLayer) -> [[Int]] { layer.arrays.map(\.shape) }

    static func check(_ stored: FileLayer, against spec: ArchitectureLayer, arch: Architecture, path: String) throws {
        guard stored.arrays.count == spec.arrays.count else {
            throw WeightLoaderError.arrayCountMismatch(
                path: path, architecture: arch.id, layer: spec.name, fileLayer: stored.name,
                expected: spec.arrays.count, actual: stored.arrays.count)
        }
        for (want, have) in zip(spec.arrays, stored.arrays) {
            guard have.dtype.isNumeric else {
                throw WeightLoaderError.unsupportedDType(path: path, dataset: have.location, dtype: have.dtype.rawValue)
            }
            guard want.shape == have.shape else {
                throw WeightLoaderError.shapeMismatch(
                    path: path, layer: spec.name, array: have.name, expected: want.shape, actual: have.shape)
            }
        }
    }

    /// `plan`, and when the file does not bind but is another known architecture, the error
    /// says which (`wrongArchitecture`) instead of naming only the first mismatch. The one home
    /// of that explanation; detection runs only on this failure path.
    public static func planOrExplain(_ file: KerasWeightFile, _ arch: Architecture) throws -> BindingPlan {
        do {
            return try plan(file, arch)
        } catch {
            if let other = detect(file).first?.architecture.id, other != arch.id {
                throw WeightLoaderError.wrongArchitecture(path: file.path, requested: arch.id, detected: other)
            }
            throw error
        }
    }

    /// Every known architecture the file binds to, best name agreement first (several can fit
    /// when only names differ, as with the two ResNet50 releases).
    public static func detect(_ file: KerasWeightFile, among ids: [String] = ArchitectureCatalog.ids) -> [BindingPlan] {
        Tally.shared.count(\.detections)
        // Cheap prefilter: the file, or a model nested in it, holds exactly the parameters.
        let sizes = Set([file.params] + file.nestedLayers.map(\.params))
        return ids.compactMap { id -> BindingPlan? in
            guard let arch = try? ArchitectureCatalog.architecture(id), sizes.contains(arch.numParams) else {
                return nil
            }
            return try? plan(file, arch)
        }.sorted { $0.nameAgreement > $1.nameAgreement }
    }
}

/// Keras' `naming.to_snake_case` on a class name (`DepthwiseConv2D` -> `depthwise_conv2d`): the
/// key `.weights.h5` stores a layer under.
public func snakeCase(_ name: String) -> String {
    let chars = Array(name.filter { $0.isLetter || $0.isNumber || $0 == "_" })
    var out = ""
    for (i, c) in chars.enumerated() {
        if i > 0, c.isUppercase {
            let prev = chars[i - 1]
            let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
            // "(.)([A-Z][a-z]+)" then "([a-z])([A-Z])" in Keras' two regex passes.
            if nextIsLower || prev.isLowercase { out.append("_") }
        }
        out.append(c)
    }
    return out.lowercased()
}
