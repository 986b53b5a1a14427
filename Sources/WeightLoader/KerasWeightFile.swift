import Foundation
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
            throw WeightLoaderError.unsupportedDType(path: dataset.file.path, dataset: dataset.path, dtype: dtype.rawValue)
        }
        return try dataset.readFloats()
    }
}

/// A layer as stored. A nested model (a keras.applications backbone inside a user's model) is
/// one layer whose arrays belong to inner layers; `inner` recovers those.
public struct FileLayer: Sendable {
    public let name: String
    /// Class when the layout records it (`.weights.h5` keys, `model_config`), else nil.
    public let className: String?
    public let arrays: [FileArray]
    /// Inner layers of a nested model, in first-appearance order; empty for plain layers.
    public let inner: [FileLayer]

    public var isNested: Bool { !inner.isEmpty }
    /// Legacy files list a nested model's arrays on the layer itself (`inner` regroups the same
    /// arrays); `.weights.h5` keeps them only in the inner layers.
    /// Arrays counted once, with the same rule as `params`.
    public var arrayCount: Int { arrays.isEmpty ? inner.reduce(0) { $0 + $1.arrayCount } : arrays.count }
    public var params: Int { arrays.isEmpty ? inner.reduce(0) { $0 + $1.params } : arrays.reduce(0) { $0 + $1.count } }
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
    /// Keeps the HDF5 file open while arrays are read lazily.
    let hdf5: HDF5File

    init(path: String, layout: KerasLayout, kerasVersion: String?, backend: String?, modelConfig: String?,
         layers: [FileLayer], hdf5: HDF5File) {
        self.path = path
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

    /// Opens any Keras weight file, telling the layout from its content, not its name.
    public static func open(_ path: String) throws -> KerasWeightFile {
        if try isZip(path) { return try openArchive(path) }
        let file = try HDF5File(path: path)
        let root = file.root
        if try root.stringListAttribute("layer_names") != nil {
            return try readLegacy(file, group: root, layout: .legacyWeights, configHolder: root)
        }
        if root.isGroup("model_weights") {
            return try readLegacy(file, group: root.group("model_weights"), layout: .legacyFullModel, configHolder: root)
        }
        if root.isGroup("layers") || root.isGroup("_layer_checkpoint_dependencies") {
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
    static func readLegacy(_ file: HDF5File, group: HDF5Group, layout: KerasLayout, configHolder: HDF5Group) throws -> KerasWeightFile {
        guard let names = try group.stringListAttribute("layer_names") else {
            throw WeightLoaderError.unknownLayout(path: file.path, found: (try? group.childNames()) ?? [])
        }
        var layers: [FileLayer] = []
        for name in names {
            guard group.isGroup(name) else {
                throw WeightLoaderError.damaged(path: file.path, object: group.child(name), detail: "layer listed in layer_names has no group")
            }
            let layerGroup = group.group(name)
            let weightNames = try layerGroup.stringListAttribute("weight_names") ?? []
            var arrays: [FileArray] = []
            for weightName in weightNames {
                guard layerGroup.contains(weightName) else {
                    throw WeightLoaderError.damaged(path: file.path, object: layerGroup.child(weightName), detail: "array listed in weight_names is missing")
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
        layers = layers.map { FileLayer(name: $0.name, className: classes[$0.name], arrays: $0.arrays, inner: $0.inner) }
        return KerasWeightFile(path: file.path, layout: layout, kerasVersion: version, backend: backend,
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
        guard let data = json.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let config = object["config"] as? [String: Any],
            let layers = config["layers"] as? [[String: Any]]
        else { return [:] }
        var out: [String: String] = [:]
        for layer in layers {
            guard let cls = layer["class_name"] as? String else { continue }
            let name = (layer["config"] as? [String: Any])?["name"] as? String ?? layer["name"] as? String
            if let name { out[name] = cls }
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
            let object = try? JSONSerialization.jsonObject(with: meta) as? [String: Any] {
            version = object["keras_version"] as? String
        }
        let file = try HDF5File(bytes: weights, displayPath: path)
        return try readKeras3(file, displayPath: path, layout: .keras3Archive, config: config, version: version)
    }

    /// `layers/<snake class>[_N]/vars/0..n`; the real layer name is the `vars` group's `name`
    /// attribute (Keras >= 3.6), else the key stands in. Nested models recurse under `layers/`.
    static func readKeras3(_ file: HDF5File, displayPath: String, layout: KerasLayout, config: String?, version: String?) throws -> KerasWeightFile {
        let root = file.root
        let container = root.isGroup("layers") ? "layers" : "_layer_checkpoint_dependencies"
        let layers = try readKeras3Layers(root.group(container))
        return KerasWeightFile(path: displayPath, layout: layout, kerasVersion: version, backend: nil,
                               modelConfig: config, layers: layers, hdf5: file)
    }

    static func readKeras3Layers(_ group: HDF5Group) throws -> [FileLayer] {
        let keys = try group.childNames().sorted(by: keras3KeyOrder)
        return try keys.map { key in
            let layerGroup = group.group(key)
            var arrays: [FileArray] = []
            var name = key
            if layerGroup.isGroup("vars") {
                let vars = layerGroup.group("vars")
                name = try vars.stringAttribute("name") ?? key
                let indices = try vars.childNames().compactMap(Int.init).sorted()
                for index in indices {
                    let ds = vars.dataset(String(index))
                    let (shape, dtype) = try ds.info()
                    arrays.append(FileArray(name: "\(name)/\(index)", shape: shape, dtype: dtype, dataset: ds))
                }
            }
            let inner = layerGroup.isGroup("layers") ? try readKeras3Layers(layerGroup.group("layers")) : []
            return FileLayer(name: name, className: keras3ClassKey(key), arrays: arrays,
                             inner: inner.filter { !$0.arrays.isEmpty || $0.isNested })
        }
    }

    /// `conv2d_12` -> `conv2d`: the snake-case class name Keras used as the key.
    static func keras3ClassKey(_ key: String) -> String {
        guard let underscore = key.lastIndex(of: "_"), Int(key[key.index(after: underscore)...]) != nil else { return key }
        return String(key[..<underscore])
    }

    /// Keys sort by class, then by the occurrence number Keras appended (`conv2d` = 0).
    static func keras3KeyOrder(_ a: String, _ b: String) -> Bool {
        func split(_ key: String) -> (String, Int) {
            let cls = keras3ClassKey(key)
            return cls == key ? (key, 0) : (cls, Int(key.dropFirst(cls.count + 1)) ?? 0)
        }
        let (ca, ia) = split(a), (cb, ib) = split(b)
        return ca != cb ? ca < cb : ia < ib
    }
}
