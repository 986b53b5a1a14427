// A published model ready to turn pixels into features: the manifest entry (input size,
// preprocessing), the weights bound to its architecture, and the planned graph.

import Backbones
import Foundation
import WeightLoader

public final class FeatureExtractor: @unchecked Sendable {
    public let entry: WeightsEntry
    public let weightsPath: String
    public let inputSize: InputSize
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

    /// A run as decided by `ModelDecider`: the file it opened is bound, not opened again.
    public convenience init(
        decision: ModelDecision, weightsPath: String, pooling: GlobalPooling = .avg, layer: String? = nil,
        preprocess: PreprocessMode? = nil, options: CompiledGraph.Options = .init()
    ) throws {
        try self.init(
            entry: decision.entry, weightsPath: weightsPath, file: decision.file, size: decision.inputSize.value,
            pooling: pooling, layer: layer, preprocess: preprocess, options: options)
    }

    /// A square input of `inputSize` (default: the manifest's).
    public convenience init(
        entry: WeightsEntry, weightsPath: String, inputSize: Int? = nil, pooling: GlobalPooling = .avg,
        layer: String? = nil, preprocess: PreprocessMode? = nil, options: CompiledGraph.Options = .init()
    ) throws {
        try self.init(
            entry: entry, weightsPath: weightsPath, file: nil, size: InputSize(square: inputSize ?? entry.defaultInput),
            pooling: pooling, layer: layer, preprocess: preprocess, options: options)
    }

    /// Binds `weightsPath` (or `file`, when already open) to `entry`'s architecture
    /// (positionally for the published files, by name for a backbone nested in a saved model)
    /// and plans the graph for `size` (at least the model's minimum on each side).
    public init(
        entry: WeightsEntry, weightsPath: String, file: KerasWeightFile?, size: InputSize, pooling: GlobalPooling,
        layer: String?, preprocess: PreprocessMode?, options: CompiledGraph.Options
    ) throws {
        if let minimum = entry.minInput, size.height < minimum || size.width < minimum {
            throw ExtractionError.inputTooSmall(model: entry.model, size: size.description, minimum: minimum)
        }
        guard let mode = preprocess ?? PreprocessMode(rawValue: entry.preprocess) else {
            throw ExtractionError.unknownPreprocessing(entry.preprocess)
        }
        var entry = entry
        var arch = try ArchitectureCatalog.architecture(entry.architecture)
        let file = try file ?? KerasWeightFile.open(weightsPath)
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
        let graph = try layer.map { try Backbone.graph(arch.id, height: size.height, width: size.width, layer: $0, pooling: pooling) }
            ?? Backbone.graph(arch.id, height: size.height, width: size.width, pooling: pooling)
        if entry.includeTop, size != InputSize(square: entry.defaultInput), Backbone.classifierFixesInputSize(graph) {
            throw ExtractionError.classifierInputSize(model: entry.model, size: size.description, required: entry.defaultInput)
        }
        self.entry = entry
        self.weightsPath = weightsPath
        self.inputSize = size
        self.pooling = pooling
        self.layer = layer
        self.preprocess = mode
        self.model = try CompiledGraph(graph, weights: bound, options: options)
    }

    /// The manifest entry a weights file is (for `--weights` without `--model`), as
    /// `ModelDecider` identifies it: features file first, else the classifier file.
    public static func entry(detectedIn weightsPath: String, manifest: WeightsManifest = .shared) throws -> WeightsEntry {
        do {
            return try ModelDecider.decide(ModelRequest(weightsPath: weightsPath), manifest: manifest).entry
        } catch ExtractionError.classifierWeights {
            return try ModelDecider.decide(ModelRequest(includeTop: true, weightsPath: weightsPath), manifest: manifest).entry
        }
    }

    /// Preprocessed (height, width, 3) images -> `width` features each, the images shared
    /// among `threads` threads (each row the same bits whatever the thread count).
    public func features(_ input: [Float], threads: Int = 1) throws -> [Float] {
        try model.run(input, threads: threads)
    }
}

public enum ExtractionError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case inputTooSmall(model: String, size: String, minimum: Int)
    case unknownPreprocessing(String)
    case unknownWeights(String)
    case failedImage(String)
    case classifierInputSize(model: String, size: String, required: Int)
    /// include_top=True weights where features (include_top=False) were asked for.
    case classifierWeights(String)
    /// include_top=False weights where the classifier was asked for.
    case noClassifier(String)
    /// Neither --model nor --weights.
    case noModel
    /// A command-line value that disagrees with what the weight file itself says.
    case contradiction(option: String, path: String, fileSays: String, source: SettingSource)

    public var description: String {
        switch self {
        case .inputTooSmall(let model, let size, let minimum):
            return "\(model) needs an input of at least \(minimum)×\(minimum) (Keras' minimum); an input of \(size) is smaller"
        case .unknownPreprocessing(let mode):
            return "unknown preprocessing '\(mode)'; use caffe, tf, torch or none"
        case .unknownWeights(let path):
            return "\(path) does not bind to any known architecture; name it with --model (see `extract models`)"
        case .failedImage(let text):
            return text
        case .classifierInputSize(let model, let size, let required):
            return "\(model)'s classifier flattens the last feature map into its first Dense layer, so its weights fit \(required)×\(required) inputs only; an input of \(size) cannot be used with --include-top"
        case .classifierWeights(let file):
            return "\(file) holds the ImageNet classifier (include_top=True); add --include-top for class probabilities, or use the model's notop weights for features"
        case .noModel:
            return "say which model: --model NAME (see `extract models`) or --weights FILE"
        case .contradiction(let option, let path, let fileSays, let source):
            return "\(option) contradicts \(path), which is \(fileSays) (from its \(source.rawValue.replacingOccurrences(of: "file ", with: ""))); drop the option, or use a file that is what you asked for"
        case .noClassifier(let file):
            return "\(file) has no ImageNet classifier (include_top=False weights); --include-top needs the model's published *_tf_dim_ordering_tf_kernels.h5 file"
        }
    }

    public var errorDescription: String? { description }
}
