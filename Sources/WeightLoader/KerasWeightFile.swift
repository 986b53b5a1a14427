import Foundation
import HDF5
import ZIPFoundation

/// The four ways Keras stores weights (see shared notes §2.3, §3.1, §3.2).
public enum KerasLayout: String, Sendable, Codable {
    /// `save_weights` to `.h5`: root `layer_names`, one group per layer (the published files).
    case legacyWeights = "legacy-weights"
    /// `model.save("x.h5")`: root `model_config`, the same layout under `model_weights`.
    case legacyFullModel = "legacy-full-model"
    /// Keras 3 `.weights.h5`: `layers/<class>[_N]/vars/<i>`.
    case keras3Weights = "keras3-weights"
    /// Keras 3 `.keras`: a zip of `config.json` and a `.weights.h5` image.
    case keras3Archive = "keras3-archive"
}

/// One stored array: its name as the file spells it, its shape and type; values on demand.
public struct FileArray: Sendable {
    public let name: String
    public let shape: [Int]
    public let dtype: ArrayDType
    let dataset: HDF5Dataset

    public var count: Int { shape.reduce(1, *) }
    /// Dataset path inside the HDF5 file, for error messages.
    public var location: String { dataset.path }

    public func values() throws -> [Float] {
        guard dtype.isNumeric else {
            throw WeightLoaderError.unsupportedDType(
                path: dataset.file.path, dataset: dataset.path, dtype: dtype.rawValue)
        }
        return try readingHDF5 { try dataset.readFloats() }
    }
}

/// A layer as stored. A nested model (a keras.applications backbone inside a user's model) is
/// one layer whose arrays belong to inner layers; `inner` recovers those.
public struct FileLayer: Sendable {
    public let name: String
    /// Class when the layout records it (`.weights.h5` keys, `model_config`), else nil.
    public let className: String?
    public let arrays: [FileArray]
    /// Inner layers of a nested model, in first-appearance order (Keras 3: in the order Keras
    /// visits them); empty for plain layers.
    public let inner: [FileLayer]
    /// Keras 3 files: the HDF5 group the layer is stored at (`backbone/layers/conv2d`).
    public var path: String? = nil

    public var isNested: Bool { !inner.isEmpty }
    /// Legacy files list a nested model's arrays on the layer itself (`inner` regroups the same
    /// arrays); `.weights.h5` keeps them only in the inner layers.
    /// Arrays counted once, with the same rule as `params`.
    public var arrayCount: Int { arrays.isEmpty ? inner.reduce(0) { $0 + $1.arrayCount } : arrays.count }
    public var params: Int { arrays.isEmpty ? inner.reduce(0) { $0 + $1.params } : arrays.reduce(0) { $0 + $1.count } }

    /// This layer and every layer inside it, depth first, parents before children.
    public var preorder: [FileLayer] { [self] + inner.flatMap(\.preorder) }
}

/// How a Keras 3 file records its layers (`saving_lib._walk_saveable`).
public enum Keras3Tracking: String, Sendable, Codable {
    /// Only `layers/` lists: Functional and Sequential models, nested ones included.
    case layerLists = "layer-lists"
    /// Some layers are tracked as attributes (`backbone/layers/...`, `block1/...`): subclassed
    /// models, and layers that hold sub-layers.
    case attributes
}

/// An opened Keras weight file of any layout, read through libhdf5.
public final class KerasWeightFile: @unchecked Sendable {
    public let path: String
    public let layout: KerasLayout
    public let kerasVersion: String?
    public let backend: String?
    /// The model's JSON config (`model_config` attribute or the archive's `config.json`).
    public let modelConfig: String?
    /// Every layer the file lists, weightless ones included, in stored order.
    public let layers: [FileLayer]
    /// Keras 3 files: whether any layer is tracked as an attribute; nil for legacy files.
    public let tracking: Keras3Tracking?
    /// Keras 3 files: the attribute groups, in the order Keras visits them (`backbone`,
    /// `block1`, `layers/conv_block/bn`).
    public let trackedAttributes: [String]
    /// Keeps the HDF5 file open while arrays are read lazily.
    let hdf5: HDF5File

    init(
        path: String, layout: KerasLayout, kerasVersion: String?, backend: String?, modelConfig: String?,
        layers: [FileLayer], hdf5: HDF5File, tracking: Keras3Tracking? = nil, trackedAttributes: [String] = []
    ) {
        self.path = path
        self.tracking = tracking
        self.trackedAttributes = trackedAttributes
        self.layout = layout
        self.kerasVersion = kerasVersion
        self.backend = backend
        self.modelConfig = modelConfig
        self.layers = layers
        self.hdf5 = hdf5
    }

    /// Layers that carry weights, the ones Keras' legacy loader counts.
    public var weightedLayers: [FileLayer] { layers.filter { !$0.arrays.isEmpty || $0.isNested } }
    public var params: Int { layers.reduce(0) { $0 + $1.params } }
    /// Every nested model or layer holding sub-layers, depth first, in stored order.
    public var nestedLayers: [FileLayer] { layers.flatMap(\.preorder).filter(\.isNested) }
    /// Every layer with its own arrays, depth first, in stored order (Keras' tracking order
    /// for Keras 3 files).
    public var leafLayers: [FileLayer] { layers.flatMap(\.preorder).filter { !$0.arrays.isEmpty } }

    /// Opens any Keras weight file, telling the layout from its content, not its name.
    public static func open(_ path: String) throws -> KerasWeightFile {
        try WeightFileGuard.probe?(path)
        Tally.shared.count(\.opens)
        return try readingHDF5 { try openAny(path) }
    }

    static func openAny(_ path: String) throws -> KerasWeightFile {
        if try isZip(path) { return try openArchive(path) }
        let file = try HDF5File(path: path)
        let root = file.root
        if try root.stringListAttribute("layer_names") != nil {
            return try readLegacy(file, group: root, layout: .legacyWeights, configHolder: root)
        }
        if root.isGroup("model_weights") {
            return try readLegacy(
                file, group: root.group("model_weights"), layout: .legacyFullModel, configHolder: root)
        }
        if try looksLikeKeras3(root) {
            return try readKeras3(file, displayPath: path, layout: .keras3Weights, config: nil, version: nil)
        }
        throw WeightLoaderError.unknownLayout(path: path, found: (try? root.childNames()) ?? [])
    }

    static func isZip(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if !FileManager.default.fileExists(atPath: path) { throw WeightLoaderError.fileNotFound(path: path) }
            throw WeightLoaderError.unreadable(path: path)
        }
        defer { try? handle.close() }
        let magic = (try? handle.read(upToCount: 4)) ?? Data()
        return magic == Data([0x50, 0x4B, 0x03, 0x04])
    }

    // MARK: legacy h5 (published files, save_weights, model.save to .h5)

    /// Iterates `layer_names`, then each layer's `weight_names`; never walks the tree, because a
    /// layer name with `/` (DenseNet's `conv1/conv`) shares groups with other layers.
    static func readLegacy(
        _ file: HDF5File, group: HDF5Group, layout: KerasLayout, configHolder: HDF5Group
    ) throws -> KerasWeightFile {
        guard let names = try group.stringListAttribute("layer_names") else {
            throw WeightLoaderError.unknownLayout(path: file.path, found: (try? group.childNames()) ?? [])
        }
        var layers: [FileLayer] = []
        for name in names {
            guard group.isGroup(name) else {
                throw WeightLoaderError.damaged(
                    path: file.path, object: group.child(name),
                    detail: "layer listed in layer_names "
                        + (group.unusableLink(name).map { "is \($0)" } ?? "has no group"))
            }
            let layerGroup = group.group(name)
            let weightNames = try layerGroup.stringListAttribute("weight_names") ?? []
            var arrays: [FileArray] = []
            for weightName in weightNames {
                guard layerGroup.contains(weightName) else {
                    throw WeightLoaderError.damaged(
                        path: file.path, object: layerGroup.child(weightName),
                        detail: "array listed in weight_names is "
                            + (layerGroup.unusableLink(weightName) ?? "missing"))
                }
                let ds = layerGroup.dataset(weightName)
                let (shape, dtype) = try ds.info()
                arrays.append(FileArray(name: weightName, shape: shape, dtype: dtype, dataset: ds))
            }
            layers.append(FileLayer(name: name, className: nil, arrays: arrays, inner: nestedLayers(of: name, arrays)))
        }
        let version = try group.stringAttribute("keras_version") ?? configHolder.stringAttribute("keras_version")
        let backend = try group.stringAttribute("backend") ?? configHolder.stringAttribute("backend")
        let config = try configHolder.stringAttribute("model_config")
        let classes = config.map(layerClasses(fromConfig:)) ?? [:]
        layers = layers.map {
            FileLayer(name: $0.name, className: classes[$0.name], arrays: $0.arrays, inner: $0.inner)
        }
        return KerasWeightFile(
            path: file.path, layout: layout, kerasVersion: version, backend: backend,
            modelConfig: config, layers: layers, hdf5: file)
    }

    /// A nested model stores `inner_layer/variable` names under its own group. Arrays are
    /// grouped by that prefix; within a layer, stored order is kept (trainables, then the rest,
    /// whether or not the backbone was frozen when saved).
    static func nestedLayers(of layerName: String, _ arrays: [FileArray]) -> [FileLayer] {
        var order: [String] = []
        var byPrefix: [String: [FileArray]] = [:]
        for array in arrays {
            let bare = array.name.hasSuffix(":0") ? String(array.name.dropLast(2)) : array.name
            guard let slash = bare.lastIndex(of: "/") else { return [] }
            let prefix = String(bare[..<slash])
            if byPrefix[prefix] == nil { order.append(prefix) }
            byPrefix[prefix, default: []].append(array)
        }
        // A plain layer names its arrays after itself (`conv1_conv/kernel`); only several
        // distinct prefixes, or one that is not the layer's own name, mean a nested model.
        if order.count <= 1 && (order.first == layerName || order.isEmpty) { return [] }
        if order.count == 1, order[0].hasSuffix(layerName) || layerName.hasSuffix(order[0]) { return [] }
        return order.map { FileLayer(name: $0, className: nil, arrays: byPrefix[$0] ?? [], inner: []) }
    }

    /// Layer name -> class name from a legacy `model_config` JSON (top level only).
    static func layerClasses(fromConfig json: String) -> [String: String] {
        var out: [String: String] = [:]
        for layer in ModelConfig.topLevelLayers(json) {
            if let name = layer.name { out[name] = layer.className }
        }
        return out
    }

    // MARK: Keras 3 native

    static func openArchive(_ path: String) throws -> KerasWeightFile {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
            throw WeightLoaderError.notKerasArchive(path: path, detail: "the zip cannot be read: \(error)")
        }
        func member(_ name: String) throws -> Data? {
            guard let entry = archive[name] else { return nil }
            var data = Data()
            do { _ = try archive.extract(entry, skipCRC32: false) { data.append($0) } } catch {
                throw WeightLoaderError.notKerasArchive(path: path, detail: "member \(name) is damaged: \(error)")
            }
            return data
        }
        guard let weights = try member("model.weights.h5") else {
            throw WeightLoaderError.notKerasArchive(path: path, detail: "no model.weights.h5 inside")
        }
        let config = try member("config.json").map { String(decoding: $0, as: UTF8.self) }
        var version: String?
        if let meta = try member("metadata.json"),
            let object = try? JSONSerialization.jsonObject(with: meta) as? [String: Any]
        {
            version = object["keras_version"] as? String
        }
        let file = try HDF5File(bytes: weights, displayPath: path)
        return try readKeras3(file, displayPath: path, layout: .keras3Archive, config: config, version: version)
    }

    /// Walks the tree the way Keras 3 wrote it (`saving_lib._save_state`): every saveable that
    /// has variables, or a name (Keras >= 3.6), is a group holding `vars/0..n`, whose `name`
    /// attribute is the layer's name. A Functional or Sequential model puts its layers in
    /// `layers/<snake class>[_N]`; any other tracked attribute becomes a group named after the
    /// attribute (`backbone/...`, `block1/layers/conv2d/vars/0`), a list attribute one group
    /// of `<snake class>[_N]` members. The root's own `vars` (the model's variables, usually
    /// none) and `optimizer` (training state; Keras loads it only into a compiled model) are
    /// not layers.
    static func readKeras3(
        _ file: HDF5File, displayPath: String, layout: KerasLayout, config: String?, version: String?
    ) throws -> KerasWeightFile {
        var walk = Keras3Walk()
        let layers = try walk.children(of: file.root, path: "", isRoot: true)
        return KerasWeightFile(
            path: displayPath, layout: layout, kerasVersion: version, backend: nil,
            modelConfig: config, layers: layers, hdf5: file,
            tracking: walk.attributes.isEmpty ? .layerLists : .attributes,
            trackedAttributes: walk.attributes)
    }

    /// A Keras 3 file, however its layers are tracked: any `vars` group in it (the root may
    /// hold only attributes of a subclassed model: `backbone`, `block1`, ...).
    static func looksLikeKeras3(_ root: HDF5Group) throws -> Bool {
        if root.isGroup("layers") || root.isGroup("_layer_checkpoint_dependencies") || root.isGroup("vars") {
            return true
        }
        var pending = [root]
        var seen = 0
        while let group = pending.popLast(), seen < 100_000 {
            for name in try group.childNames() where group.isGroup(name) {
                if name == "vars" { return true }
                pending.append(group.group(name))
                seen += 1
            }
        }
        return false
    }

    /// The Keras 3 layers directly under `group` (a `layers/` list of a Functional model, or
    /// any list attribute), in list order as far as the keys tell it: by class, then by the
    /// occurrence number Keras appended (the order between classes is not stored).
    static func readKeras3Layers(_ group: HDF5Group, path: String = "") throws -> [FileLayer] {
        var walk = Keras3Walk()
        return try walk.members(of: group, path: path)
    }

    /// `conv2d_12` -> `conv2d`: the snake-case class name Keras used as the key.
    static func keras3ClassKey(_ key: String) -> String {
        guard let underscore = key.lastIndex(of: "_"), Int(key[key.index(after: underscore)...]) != nil else {
            return key
        }
        return String(key[..<underscore])
    }

    /// Keras' `_name_key` order of attribute names: by code point, private (`_x`) ones last.
    static func attributeOrder(_ a: String, _ b: String) -> Bool {
        func key(_ s: String) -> [UInt32] { (s.hasPrefix("_") ? "~" + s : s).unicodeScalars.map(\.value) }
        return key(a).lexicographicallyPrecedes(key(b))
    }

    /// Keys sort by class, then by the occurrence number Keras appended (`conv2d` = 0).
    /// Sub-lists are `container`, `container_1`, ... and sort the same way.
    static func keras3KeyOrder(_ a: String, _ b: String) -> Bool {
        func split(_ key: String) -> (String, Int) {
            let cls = keras3ClassKey(key)
            return cls == key ? (key, 0) : (cls, Int(key.dropFirst(cls.count + 1)) ?? 0)
        }
        let (ca, ia) = split(a), (cb, ib) = split(b)
        return ca != cb ? ca < cb : ia < ib
    }
}

/// One pass over a Keras 3 weights tree, noting the attribute groups it meets.
struct Keras3Walk {
    /// Paths of the groups that are attributes, not members of a list, in visiting order.
    var attributes: [String] = []
    /// Groups entered so far, and nesting now. A damaged file can link a group into itself
    /// (also under an empty name, which leaves the path as it was); these bounds turn the
    /// endless walk (a stack overflow, found by fuzzing) into a `damaged` error.
    var groupsEntered = 0, depth = 0
    static let maxGroups = 100_000
    /// Far deeper than Keras nests (two levels per nested model).
    static let maxDepth = 64

    /// Call with `defer { depth -= 1 }`.
    mutating func enter(_ group: HDF5Group) throws {
        groupsEntered += 1
        depth += 1
        if groupsEntered > Self.maxGroups || depth > Self.maxDepth {
            throw WeightLoaderError.damaged(
                path: group.file.path, object: group.path,
                detail: "groups nest deeper or more often than in any Keras file (linked into themselves?)")
        }
    }

    /// A saveable's children in the order Keras visits them (`_walk_saveable`): a Functional or
    /// Sequential model's `layers` list first, then its attributes sorted by name. A group that
    /// holds attributes beside `layers` is a subclassed model, whose `layers` property Keras
    /// visits as one more attribute, in its alphabetical place (it holds only the layers no
    /// earlier attribute reached). A layer met twice is stored once, where Keras met it first.
    mutating func children(of group: HDF5Group, path: String, isRoot: Bool = false) throws -> [FileLayer] {
        try enter(group)
        defer { depth -= 1 }
        let names = try group.childNames().filter { group.isGroup($0) }
        let list = ["layers", "_layer_checkpoint_dependencies"].first { names.contains($0) }
        let attributeNames = names.filter { $0 != "vars" && $0 != list && !(isRoot && $0 == "optimizer") }
        let order =
            attributeNames.isEmpty
            ? (list.map { [$0] } ?? [])
            : (attributeNames + (list.map { [$0] } ?? [])).sorted(by: KerasWeightFile.attributeOrder)
        var out: [FileLayer] = []
        for key in order {
            let childPath = path.isEmpty ? key : path + "/" + key
            let child = group.group(key)
            if key == list {
                out += try members(of: child, path: childPath)
            } else {
                attributes.append(childPath)
                // One saveable (it has `vars`, or a list of layers), else a list or dict of them.
                out +=
                    child.isGroup("vars") || child.isGroup("layers")
                    ? [try saveable(child, className: nil, path: childPath)] : try members(of: child, path: childPath)
            }
        }
        return out
    }

    /// A list's members: `<snake class>[_N]` saveables and `container[_N]` sub-lists
    /// (`_save_container_state`).
    mutating func members(of group: HDF5Group, path: String) throws -> [FileLayer] {
        try enter(group)
        defer { depth -= 1 }
        var out: [FileLayer] = []
        for key in try group.childNames().sorted(by: KerasWeightFile.keras3KeyOrder) where group.isGroup(key) {
            let child = group.group(key)
            let childPath = path.isEmpty ? key : path + "/" + key
            let classKey = KerasWeightFile.keras3ClassKey(key)
            if classKey == "container" && !child.isGroup("vars") {
                out += try members(of: child, path: childPath)
            } else {
                out.append(try saveable(child, className: classKey, path: childPath))
            }
        }
        return out
    }

    /// A layer or model: its own arrays `vars/0..n` (`_trainable_variables` then
    /// `_non_trainable_variables`), named by the `name` attribute, and what it tracks.
    mutating func saveable(_ group: HDF5Group, className: String?, path: String) throws -> FileLayer {
        let key = String(path.split(separator: "/").last ?? Substring(path))
        var arrays: [FileArray] = []
        var name = key
        if group.isGroup("vars") {
            let vars = group.group("vars")
            name = try vars.stringAttribute("name") ?? key
            for index in try vars.childNames().compactMap(Int.init).sorted() {
                let ds = vars.dataset(String(index))
                let (shape, dtype) = try ds.info()
                arrays.append(FileArray(name: "\(name)/\(index)", shape: shape, dtype: dtype, dataset: ds))
            }
        }
        let inner = try children(of: group, path: path)
        return FileLayer(
            name: name, className: className, arrays: arrays,
            inner: inner.filter { !$0.arrays.isEmpty || $0.isNested }, path: path)
    }
}
