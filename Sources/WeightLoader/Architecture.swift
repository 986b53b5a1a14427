import Foundation

/// One array a layer owns, as Keras 3 names it (`conv1_conv/kernel`).
public struct ArchitectureArray: Sendable, Equatable {
    public let path: String
    public let shape: [Int]
    public let dtype: String

    public init(path: String, shape: [Int], dtype: String = "float32") {
        self.path = path
        self.shape = shape
        self.dtype = dtype
    }

    /// The variable's own name (`kernel`), the part after the layer path.
    public var variable: String { String(path.split(separator: "/").last ?? Substring(path)) }
}

/// A layer with weights, in the order Keras' legacy loader binds it.
public struct ArchitectureLayer: Sendable, Equatable {
    public let name: String
    public let className: String
    public let arrays: [ArchitectureArray]

    public init(name: String, className: String, arrays: [ArchitectureArray]) {
        self.name = name
        self.className = className
        self.arrays = arrays
    }
}

/// The ordered weighted layers of one keras.applications configuration, generated from Keras
/// itself by `scripts/gen_catalog.py`. This list is the binding specification: the published
/// files are zipped against it by position, exactly as `load_weights_from_hdf5_group` does.
public struct Architecture: Sendable, Decodable {
    public let id: String
    public let keras: String
    public let inputShape: [Int?]
    public let outputShape: [Int?]
    public let numLayers: Int
    public let numWeightedLayers: Int
    public let numArrays: Int
    public let numParams: Int
    public let autoNamed: [String]
    public let bnEpsilon: Double?
    public let layers: [ArchitectureLayer]

    enum CodingKeys: String, CodingKey {
        case id, keras, layers
        case inputShape = "input_shape", outputShape = "output_shape", numLayers = "num_layers"
        case numWeightedLayers = "num_weighted_layers", numArrays = "num_arrays"
        case numParams = "num_params", autoNamed = "auto_named", bnEpsilon = "bn_epsilon"
    }

    /// An architecture read from a saved model's own config (not the catalog): its weighted
    /// layers in graph order.
    public init(id: String, keras: String, inputShape: [Int?], outputShape: [Int?], layers: [ArchitectureLayer]) {
        self.id = id
        self.keras = keras
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.layers = layers
        numLayers = layers.count
        numWeightedLayers = layers.count
        numArrays = layers.reduce(0) { $0 + $1.arrays.count }
        numParams = layers.reduce(0) { $0 + $1.arrays.reduce(0) { $0 + $1.shape.reduce(1, *) } }
        autoNamed = []
        bnEpsilon = nil
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        keras = try c.decode(String.self, forKey: .keras)
        inputShape = try c.decode([Int?].self, forKey: .inputShape)
        outputShape = try c.decode([Int?].self, forKey: .outputShape)
        numLayers = try c.decode(Int.self, forKey: .numLayers)
        numWeightedLayers = try c.decode(Int.self, forKey: .numWeightedLayers)
        numArrays = try c.decode(Int.self, forKey: .numArrays)
        numParams = try c.decode(Int.self, forKey: .numParams)
        autoNamed = try c.decode([String].self, forKey: .autoNamed)
        bnEpsilon = try c.decodeIfPresent(Double.self, forKey: .bnEpsilon)
        // Compact form: [name, class, [[path, shape, dtype], ...]]
        var list = try c.nestedUnkeyedContainer(forKey: .layers)
        var layers: [ArchitectureLayer] = []
        while !list.isAtEnd {
            var row = try list.nestedUnkeyedContainer()
            let name = try row.decode(String.self)
            let cls = try row.decode(String.self)
            var arrays: [ArchitectureArray] = []
            var arrayList = try row.nestedUnkeyedContainer()
            while !arrayList.isAtEnd {
                var a = try arrayList.nestedUnkeyedContainer()
                arrays.append(
                    ArchitectureArray(
                        path: try a.decode(String.self), shape: try a.decode([Int].self),
                        dtype: try a.decode(String.self)))
            }
            layers.append(ArchitectureLayer(name: name, className: cls, arrays: arrays))
        }
        self.layers = layers
    }

    public var outputWidth: Int? { outputShape.last ?? nil }
}

/// All architectures the project knows, decoded on first use from the generated, embedded data
/// (a CLI must not depend on resource bundles found beside the binary).
public enum ArchitectureCatalog {
    public static var ids: [String] { embeddedJSON.keys.sorted() }

    private static let cache = Cache()

    public static func architecture(_ id: String) throws -> Architecture {
        if let hit = cache.get(id) { return hit }
        guard let key = embeddedJSON.keys.first(where: { $0.lowercased() == id.lowercased() }),
            let json = embeddedJSON[key]
        else { throw WeightLoaderError.unknownArchitecture(name: id, known: ids) }
        do {
            let arch = try JSONDecoder().decode(Architecture.self, from: Data(json.utf8))
            cache.set(id, arch)
            return arch
        } catch {
            preconditionFailure("embedded architecture \(key) does not decode: \(error)")
        }
    }

    public static func all() -> [Architecture] { ids.compactMap { try? architecture($0) } }

    private final class Cache: @unchecked Sendable {
        private var items: [String: Architecture] = [:]
        private let lock = NSLock()
        func get(_ id: String) -> Architecture? { lock.withLock { items[id] } }
        func set(_ id: String, _ a: Architecture) { lock.withLock { items[id] = a } }
    }
}
