import Foundation

/// One published Keras weight file (`weights-manifest.json`, generated from Keras' sources).
public struct WeightsEntry: Sendable, Codable, Equatable {
    public let id: String
    /// The keras.applications function (`MobileNetV2`).
    public let model: String
    /// The architecture id in `ArchitectureCatalog` its arrays bind to.
    public let architecture: String
    public let includeTop: Bool
    public let alpha: Double?
    public let rows: Int?
    public let variant: String?
    /// The name Keras caches it under in `$KERAS_HOME/models/`.
    public let file: String
    public let url: String
    public let hash: String?
    public let hashAlgorithm: String?
    public let defaultInput: Int
    public let minInput: Int?
    /// caffe, tf, torch, or none (normalization inside the model).
    public let preprocess: String
    public let outputWidth: Int?
    public let bnEpsilon: Double?
    public let weightedLayers: Int
    public let params: Int
    public let notes: String?

    public init(
        id: String, model: String, architecture: String, includeTop: Bool = false, alpha: Double? = nil,
        rows: Int? = nil, variant: String? = nil, file: String, url: String, hash: String?,
        hashAlgorithm: String?, defaultInput: Int, minInput: Int? = nil, preprocess: String,
        outputWidth: Int? = nil, bnEpsilon: Double? = nil, weightedLayers: Int, params: Int, notes: String? = nil
    ) {
        self.id = id; self.model = model; self.architecture = architecture; self.includeTop = includeTop
        self.alpha = alpha; self.rows = rows; self.variant = variant; self.file = file; self.url = url
        self.hash = hash; self.hashAlgorithm = hashAlgorithm; self.defaultInput = defaultInput
        self.minInput = minInput; self.preprocess = preprocess; self.outputWidth = outputWidth
        self.bnEpsilon = bnEpsilon; self.weightedLayers = weightedLayers; self.params = params; self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case id, model, architecture, alpha, rows, variant, file, url, hash, preprocess, params, notes
        case includeTop = "include_top", hashAlgorithm = "hash_algorithm", defaultInput = "default_input"
        case minInput = "min_input", outputWidth = "output_width", bnEpsilon = "bn_epsilon"
        case weightedLayers = "weighted_layers"
    }
}

/// The table of published files, embedded at build time from `weights-manifest.json`.
public struct WeightsManifest: Sendable, Codable {
    public let entries: [WeightsEntry]

    public init(entries: [WeightsEntry]) { self.entries = entries }

    public static let shared: WeightsManifest = {
        do { return try JSONDecoder().decode(WeightsManifest.self, from: Data(embeddedJSON.utf8)) } catch {
            preconditionFailure("embedded weights-manifest.json does not decode: \(error)")
        }
    }()

    public func entry(id: String) -> WeightsEntry? { entries.first { $0.id == id.lowercased() } }

    /// Entries whose hash equals `digest` (md5 or sha256 hex, whichever the entry uses).
    public func entries(withHash digest: String) -> [WeightsEntry] {
        entries.filter { $0.hash?.lowercased() == digest.lowercased() }
    }

    public func entries(forFile name: String) -> [WeightsEntry] { entries.filter { $0.file == name } }
}
