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

    /// Values per image in the output: the pooled width, or H·W·C of the map with `.none`; with
    /// several outputs, all of them one after the other (`outputs` order).
    public var width: Int { model.outputShapes.reduce(0) { $0 + $1.count } }

    /// One image's output as Keras' predict shapes it, without the batch axis: [C] pooled (or
    /// the classifier's [1000]), [H, W, C] for a feature map (pooling none, --layer).
    public var outputShape: [Int] { model.outputShape.dimensions }

    /// Each output's name and per-image shape, in `model.outputs` order: one for a backbone or
    /// `--layer`, the saved model's output layers when it has several.
    public var outputs: [(name: String, shape: [Int])] {
        zip(outputNames, model.outputShapes).map { ($0, $1.dimensions) }
    }
    private let outputNames: [String]

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
            var outputs: [NodeID] = []
            for out in graph.outputNodes {
                guard graph.shape(out).isMap, pooling != .none else {
                    outputs.append(out)
                    continue
                }
                let name = graph.nodes[out].name
                outputs.append(
                    try graph.addPooling(
                        pooling, out, avg: "\(name)_global_average_pooling", max: "\(name)_global_max_pooling"))
            }
            graph.outputs = outputs
            outputNames =
                layer.map { [$0] } ?? (whole.outputNames.count == outputs.count ? whole.outputNames : ["features"])
        } else {
            outputNames = ["features"]
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
    /// among `threads` threads (each row the same bits whatever the thread count). With several
    /// outputs, an image's row is its outputs one after the other.
    public func features(_ input: [Float], threads: Int = 1) throws -> [Float] {
        let shapes = model.outputShapes
        guard shapes.count > 1 else { return try model.run(input, threads: threads) }
        let parts = try model.run(inputs: [input], threads: threads)
        let n = input.count / max(model.inputShapes[0].count, 1)
        var rows: [Float] = []
        rows.reserveCapacity(n * width)
        for i in 0..<n {
            for (part, shape) in zip(parts, shapes) { rows += part[i * shape.count..<(i + 1) * shape.count] }
        }
        return rows
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
    /// `--class-names` that cannot name this run's output.
    case classNames(file: String, problem: String)
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
        case .contradiction(let option, let path, let fileSays, let source):
            return
                "\(option) contradicts \(path), which is \(fileSays) (from its \(source.rawValue.replacingOccurrences(of: "file ", with: ""))); drop the option, or use a file that is what you asked for"
        case .classNames(let file, let problem):
            return "--class-names \(file) \(problem)"
        case .noClassifier(let file):
            return
                "\(file) has no ImageNet classifier (include_top=False weights); --include-top needs the model's published *_tf_dim_ordering_tf_kernels.h5 file"
        }
    }

    public var errorDescription: String? { description }
}
