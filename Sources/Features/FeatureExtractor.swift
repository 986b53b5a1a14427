// A published model ready to turn pixels into features: the manifest entry (input size,
// preprocessing), the weights bound to its architecture, and the planned graph.

import Backbones
import Foundation
import WeightLoader

public final class FeatureExtractor: @unchecked Sendable {
    public let entry: WeightsEntry
    public let weightsPath: String
    public let inputSize: Int
    public let pooling: GlobalPooling
    /// The layer whose output is taken (`--layer`), nil for the last one.
    public let layer: String?
    /// Whether the model ends in the ImageNet classifier (a top entry): rows are (1000)
    /// probabilities, decoded with `Predictions.top`.
    public var includeTop: Bool { entry.includeTop }
    public let preprocess: PreprocessMode
    public let model: CompiledGraph

    /// Values per image in the output: the pooled width, or H·W·C of the map with `.none`.
    public var width: Int { model.outputShape.count }

    /// One image's output as Keras' predict shapes it, without the batch axis: [C] pooled (or
    /// the classifier's [1000]), [H, W, C] for a feature map (pooling none, --layer).
    public var outputShape: [Int] { model.outputShape.dimensions }

    /// The shape each row is written with: `outputShape`, or [H·W·C] when `flatten` (the same
    /// floats in the same NHWC order, as keras.layers.Flatten gives them).
    public func rowShape(flatten: Bool) -> [Int] { flatten ? [width] : outputShape }

    /// Binds `weightsPath` to `entry`'s architecture (positionally for the published files, by
    /// name for a backbone nested in a saved model) and plans the graph for `inputSize`
    /// (default: the manifest's; at least its minimum).
    public init(
        entry: WeightsEntry, weightsPath: String, inputSize: Int? = nil, pooling: GlobalPooling = .avg,
        layer: String? = nil, preprocess: PreprocessMode? = nil, options: CompiledGraph.Options = .init()
    ) throws {
        let size = inputSize ?? entry.defaultInput
        if let minimum = entry.minInput, size < minimum {
            throw ExtractionError.inputTooSmall(model: entry.model, size: size, minimum: minimum)
        }
        guard let mode = preprocess ?? PreprocessMode(rawValue: entry.preprocess) else {
            throw ExtractionError.unknownPreprocessing(entry.preprocess)
        }
        var entry = entry
        var arch = try ArchitectureCatalog.architecture(entry.architecture)
        let file = try KerasWeightFile.open(weightsPath)
        // Two releases of one model can share shapes and differ in arithmetic (the fchollet v0.2
        // ResNet50: BatchNorm epsilon 1e-3). The file's names say which release it is.
        // (Not for a classifier entry: a features file there is a mistake to report, not a variant.)
        if !entry.includeTop, let best = Binder.detect(file).first, best.architecture.id != arch.id,
           let other = WeightsManifest.shared.entries.first(where: { $0.architecture == best.architecture.id && !$0.includeTop }),
           other.model == entry.model
        {
            entry = other
            arch = best.architecture
        }
        let bound: BoundWeights
        do {
            bound = try Binder.bind(file, to: arch)
        } catch {
            // Say which model the file is when it is another known one.
            if let other = Binder.detect(file).first?.architecture.id, other != arch.id {
                if other + Backbone.topSuffix == arch.id { throw ExtractionError.noClassifier(weightsPath) }
                if other == arch.id + Backbone.topSuffix { throw ExtractionError.classifierWeights(weightsPath) }
                throw WeightLoaderError.wrongArchitecture(path: weightsPath, requested: arch.id, detected: other)
            }
            throw error
        }
        let graph = try layer.map { try Backbone.graph(arch.id, height: size, width: size, layer: $0, pooling: pooling) }
            ?? Backbone.graph(arch.id, height: size, width: size, pooling: pooling)
        if entry.includeTop, size != entry.defaultInput, Backbone.classifierFixesInputSize(graph) {
            throw ExtractionError.classifierInputSize(model: entry.model, size: size, required: entry.defaultInput)
        }
        self.entry = entry
        self.weightsPath = weightsPath
        self.inputSize = size
        self.pooling = pooling
        self.layer = layer
        self.preprocess = mode
        self.model = try CompiledGraph(graph, weights: bound, options: options)
    }

    /// The manifest entry of the architecture a weights file binds to (for `--weights` without
    /// `--model`): the best-matching architecture's include_top=False entry.
    public static func entry(detectedIn weightsPath: String, manifest: WeightsManifest = .shared) throws -> WeightsEntry {
        let file = try KerasWeightFile.open(weightsPath)
        guard let arch = Binder.detect(file).first?.architecture.id else {
            throw ExtractionError.unknownWeights(weightsPath)
        }
        guard let entry = manifest.entries.first(where: { $0.architecture == arch && !$0.includeTop })
            ?? manifest.entries.first(where: { $0.architecture == arch })
        else { throw ExtractionError.unknownWeights(weightsPath) }
        return entry
    }

    /// Preprocessed (inputSize, inputSize, 3) images -> `width` features each, the images shared
    /// among `threads` threads (each row the same bits whatever the thread count).
    public func features(_ input: [Float], threads: Int = 1) throws -> [Float] {
        try model.run(input, threads: threads)
    }
}

public enum ExtractionError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case inputTooSmall(model: String, size: Int, minimum: Int)
    case unknownPreprocessing(String)
    case unknownWeights(String)
    case failedImage(String)
    case classifierInputSize(model: String, size: Int, required: Int)
    /// include_top=True weights where features (include_top=False) were asked for.
    case classifierWeights(String)
    /// include_top=False weights where the classifier was asked for.
    case noClassifier(String)

    public var description: String {
        switch self {
        case .inputTooSmall(let model, let size, let minimum):
            return "\(model) needs an input of at least \(minimum)×\(minimum) (Keras' minimum); --input-size \(size) is smaller"
        case .unknownPreprocessing(let mode):
            return "unknown preprocessing '\(mode)'; use caffe, tf, torch or none"
        case .unknownWeights(let path):
            return "\(path) does not bind to any known architecture; name it with --model (see `extract models`)"
        case .failedImage(let text):
            return text
        case .classifierInputSize(let model, let size, let required):
            return "\(model)'s classifier flattens the last feature map into its first Dense layer, so its weights fit \(required)×\(required) inputs only; --input-size \(size) cannot be used with --include-top"
        case .classifierWeights(let file):
            return "\(file) holds the ImageNet classifier (include_top=True); add --include-top for class probabilities, or use the model's notop weights for features"
        case .noClassifier(let file):
            return "\(file) has no ImageNet classifier (include_top=False weights); --include-top needs the model's published *_tf_dim_ordering_tf_kernels.h5 file"
        }
    }

    public var errorDescription: String? { description }
}
