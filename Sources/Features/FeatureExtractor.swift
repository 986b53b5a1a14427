// A loaded model planned for one output: the pooling, the layer taken, the preprocessing.
// Several extractors can share one `LoadedModel` (`extract verify` plans one per output).

import Backbones
import Foundation
import WeightLoader

public final class FeatureExtractor: @unchecked Sendable {
    /// What the weights were: the bound arrays themselves are not kept once planned.
    public let source: WeightsSource
    public let pooling: GlobalPooling
    /// The layer whose output is taken (`--layer`), nil for the last one.
    public let layer: String?
    public let preprocess: PreprocessMode
    public let model: CompiledGraph

    public var entry: WeightsEntry { source.entry }
    public var weightsPath: String { source.weightsPath }
    public var inputSize: InputSize { source.inputSize }
    /// Whether the model ends in the ImageNet classifier (a top entry): rows are (1000)
    /// probabilities, decoded with `Predictions.top`.
    public var includeTop: Bool { entry.includeTop }

    /// Values per image in the output: the pooled width, or H·W·C of the map with `.none`.
    public var width: Int { model.outputShape.count }

    /// One image's output as Keras' predict shapes it, without the batch axis: [C] pooled (or
    /// the classifier's [1000]), [H, W, C] for a feature map (pooling none, --layer).
    public var outputShape: [Int] { model.outputShape.dimensions }

    /// The shape each row is written with: `outputShape`, or [H·W·C] when `flatten` (the same
    /// floats in the same NHWC order, as keras.layers.Flatten gives them).
    public func rowShape(flatten: Bool) -> [Int] { flatten ? [width] : outputShape }

    /// Plans `loaded`'s graph at its decided input size; the bound weights are used as they
    /// are (no file is read here). `preprocess` overrides the entry's.
    public init(
        _ loaded: LoadedModel, pooling: GlobalPooling, layer: String? = nil, preprocess: PreprocessMode? = nil,
        options: CompiledGraph.Options = .init()
    ) throws {
        let entry = loaded.entry
        guard let mode = preprocess ?? PreprocessMode(rawValue: entry.preprocess) else {
            throw ExtractionError.unknownPreprocessing(entry.preprocess)
        }
        let size = loaded.inputSize
        let id = loaded.weights.architecture.id
        var graph: Graph
        if let whole = loaded.source.whole {
            graph = try whole.graph(size: size, layer: layer).graph
            if graph.outputNodes.count > 1 {
                throw ExtractionError.severalOutputs(
                    model: whole.name, outputs: graph.outputNodes.map { graph.nodes[$0].path })
            }
            let out = graph.outputNode
            if graph.shape(out).isMap, pooling != .none {
                let name = graph.nodes[out].name
                graph.output = try graph.addPooling(
                    pooling, out, avg: "\(name)_global_average_pooling", max: "\(name)_global_max_pooling")
            }
        } else {
            graph =
                try layer.map {
                    try Backbone.graph(id, height: size.height, width: size.width, layer: $0, pooling: pooling)
                }
                ?? Backbone.graph(id, height: size.height, width: size.width, pooling: pooling)
        }
        self.source = loaded.source
        self.pooling = pooling
        self.layer = layer
        self.preprocess = mode
        self.model = try CompiledGraph(graph, weights: loaded.weights, options: options)
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
    /// A saved model with several outputs, where one array per image was asked for.
    case severalOutputs(model: String, outputs: [String])
    /// A command-line value that disagrees with what the weight file itself says.
    case contradiction(option: String, path: String, fileSays: String, source: SettingSource)

    public var description: String {
        switch self {
        case .inputTooSmall(let model, let size, let minimum):
            return
                "\(model) needs an input of at least \(minimum)×\(minimum) (Keras' minimum); an input of \(size) is smaller"
        case .unknownPreprocessing(let mode):
            return "unknown preprocessing '\(mode)'; use caffe, tf, torch or none"
        case .unknownWeights(let path):
            return "\(path) does not bind to any known architecture; name it with --model (see `extract models`)"
        case .failedImage(let text):
            return text
        case .classifierInputSize(let model, let size, let required):
            return
                "\(model)'s classifier flattens the last feature map into its first Dense layer, so its weights fit \(required)×\(required) inputs only; an input of \(size) cannot be used with --include-top"
        case .classifierWeights(let file):
            return
                "\(file) holds the ImageNet classifier (include_top=True); add --include-top for class probabilities, or use the model's notop weights for features"
        case .noModel:
            return "say which model: --model NAME (see `extract models`) or --weights FILE"
        case .severalOutputs(let model, let outputs):
            return
                "the saved model '\(model)' has \(outputs.count) outputs (\(outputs.joined(separator: ", "))); take one with --layer NAME"
        case .contradiction(let option, let path, let fileSays, let source):
            return
                "\(option) contradicts \(path), which is \(fileSays) (from its \(source.rawValue.replacingOccurrences(of: "file ", with: ""))); drop the option, or use a file that is what you asked for"
        case .noClassifier(let file):
            return
                "\(file) has no ImageNet classifier (include_top=False weights); --include-top needs the model's published *_tf_dim_ordering_tf_kernels.h5 file"
        }
    }

    public var errorDescription: String? { description }
}
