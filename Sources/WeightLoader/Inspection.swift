import Foundation

/// What `extract inspect` reports about a weight file; also its `--json` form.
public struct InspectReport: Codable, Sendable {
    public struct Array: Codable, Sendable {
        public let name: String
        public let shape: [Int]
        public let dtype: String
    }

    public struct Layer: Codable, Sendable {
        public let name: String
        public let className: String?
        /// Keras 3 files: the group it is stored at (`backbone/layers/conv2d`).
        public let path: String?
        public let arrays: [Array]
        /// For a nested model: its inner layers with weights.
        public let inner: [Layer]?
    }

    /// One node of a saved model's own graph (from `model_config`/`config.json`).
    public struct GraphNode: Codable, Sendable {
        public let name: String
        public let className: String
        public let backbone: String?
    }

    public struct Match: Codable, Sendable {
        public let architecture: String
        public let method: String
        public let nestedIn: String?
        /// Attribute-tracked Keras 3 files: the group of the model that bound (nil: whole file).
        public let path: String?
        public let layers: Int
        public let namesAgreeing: Int
    }

    public let path: String
    public let layout: String
    /// Keras 3 files: "layer-lists" or "attributes" (`Keras3Tracking`).
    public let tracking: String?
    /// Keras 3 files: the groups that are tracked attributes, in Keras' visiting order.
    public let trackedAttributes: [String]?
    public let kerasVersion: String?
    public let backend: String?
    public let bytes: Int
    public let hashes: [String: String]
    public let manifestEntries: [String]
    public let layersListed: Int
    public let weightedLayers: Int
    public let arrays: Int
    public let params: Int
    public let layers: [Layer]
    public let modelGraph: [GraphNode]?
    public let matches: [Match]
}

public enum Inspector {
    /// Reads structure, hashes and the architectures the file binds to. No array values are read.
    public static func inspect(_ path: String, manifest: WeightsManifest = .shared) throws -> InspectReport {
        try inspect(KerasWeightFile.open(path), manifest: manifest)
    }

    /// The same for a file already open (`extract inspect --model` then binds this one).
    public static func inspect(_ file: KerasWeightFile, manifest: WeightsManifest = .shared) throws -> InspectReport {
        let path = file.path
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let md5 = try FileHash.hex(of: path, algorithm: "md5")
        let sha = try FileHash.hex(of: path, algorithm: "sha256")
        let entries = manifest.entries.filter {
            guard let h = $0.hash?.lowercased() else { return false }
            return h == md5 || h == sha
        }
        let plans = Binder.detect(file)
        let matches = plans.map { plan -> InspectReport.Match in
            var path: String?
            if case .byTrackedName(let p, _) = plan.method { path = p }
            return InspectReport.Match(
                architecture: plan.architecture.id, method: plan.method.description, nestedIn: plan.method.nestedIn,
                path: path, layers: plan.pairs.count, namesAgreeing: plan.nameAgreement)
        }
        let weighted = file.weightedLayers
        return InspectReport(
            path: path, layout: file.layout.rawValue, tracking: file.tracking?.rawValue,
            trackedAttributes: file.tracking == nil ? nil : file.trackedAttributes, kerasVersion: file.kerasVersion,
            backend: file.backend,
            bytes: bytes, hashes: ["md5": md5, "sha256": sha], manifestEntries: entries.map(\.id),
            layersListed: file.layers.count, weightedLayers: weighted.count,
            arrays: weighted.reduce(0) { $0 + $1.arrayCount },
            params: file.params,
            layers: weighted.map(describe),
            modelGraph: file.modelConfig.map { graph(fromConfig: $0, nested: matches) },
            matches: matches)
    }

    static func describe(_ layer: FileLayer) -> InspectReport.Layer {
        InspectReport.Layer(
            name: layer.name, className: layer.className, path: layer.path,
            arrays: layer.isNested
                ? [] : layer.arrays.map { .init(name: $0.name, shape: $0.shape, dtype: $0.dtype.rawValue) },
            inner: layer.isNested ? layer.inner.map(describe) : nil)
    }

    /// The saved model's top-level layers, with the known backbone marked where it sits.
    static func graph(fromConfig json: String, nested: [InspectReport.Match]) -> [InspectReport.GraphNode] {
        ModelConfig.topLevelLayers(json).map { layer in
            let name = layer.name ?? "?"
            let backbone = nested.first { $0.nestedIn == name }?.architecture
            return InspectReport.GraphNode(name: name, className: layer.className, backbone: backbone)
        }
    }
}
