// A user's own saved model run whole: the layers its config declares (the backbone inside,
// the pooling and the Dense head they trained), on the input its config declares, as
// `model.predict` runs it. Chosen when `--weights` names a file with a config whose model is
// more than a keras.applications backbone saved alone, and neither `--model` nor
// `--backbone-only` asks for the backbone.

import Backbones
import Foundation
import WeightLoader

/// What a whole saved model was built from: enough to build its graph again for another
/// `--layer` without reading the file.
public struct WholeModelSource: Sendable {
    /// The outer model's name in its config (`functional`, `sequential_1`).
    public let name: String
    /// The config text (`model_config`, or the archive's `config.json`).
    public let config: String
    /// Whether Keras 3 wrote the config (activation names changed meaning in Keras 3).
    public let keras3: Bool
    /// The model's output layers, in `model.outputs` order.
    public let outputNames: [String]
    /// Channels per pixel of the model's input: 3 (RGB) or 1 (grayscale, as `color_mode="grayscale"`).
    public let channels: Int
    /// The nested keras.applications backbone whose `preprocess_input` is the default, if any.
    public let backbone: String?
    /// Layers the tool cannot build, whether or not the outputs need them.
    public let unsupported: [String]

    /// The graph ending at `layer` (nil: the model's outputs), its input at `size`.
    public func graph(size: InputSize, layer: String?) throws -> SavedModelGraph {
        try SavedModelBuilder.build(
            config: config, keras3: keras3, inputSize: (size.height, size.width), layer: layer)
    }
}

extension LoadedModel {
    /// The whole saved model in `file`, or nil when the file is a backbone alone (or has no
    /// config), which the catalog path runs with its own options.
    static func whole(
        _ request: ModelRequest, file: KerasWeightFile, path: String
    ) throws -> LoadedModel? {
        guard request.model == nil, !request.backboneOnly, !request.includeTop, let config = file.modelConfig else {
            return nil
        }
        // A backbone inside is found as the catalog finds it; a backbone saved alone runs as today.
        let backbone: ModelDecision?
        do {
            backbone = try ModelDecider.decide(request, weightsPath: path, file: file)
        } catch let error as ExtractionError {
            if case .unknownWeights = error { backbone = nil } else { throw error }
        } catch {
            backbone = nil
        }
        if let backbone, backbone.nestedIn == nil { return nil }

        let keras3 =
            file.layout == .keras3Archive || file.layout == .keras3Weights
            || (file.kerasVersion.map { $0.hasPrefix("3") } ?? false)
        // Sides the config leaves open take --input-size; fixed ones may only be repeated.
        let open = try SavedModelBuilder.build(
            config: config, keras3: keras3, inputSize: request.inputSize.map { ($0.height, $0.width) },
            requireOutputs: false)
        let input = open.graph.shape(open.graph.input)
        guard input.isMap, input.channels == 3 || input.channels == 1 else {
            throw SavedModelError.input(
                detail: "\(input) is not an image (height, width, 3 or 1 channels); this tool feeds images")
        }
        let size = InputSize(height: input.dimensions[0], width: input.dimensions[1])
        let declared = ModelConfigInput.inputs(ofConfig: config).outer
        let fixed = declared?.isFixed ?? false
        if let given = request.inputSize, fixed, given != size {
            throw ExtractionError.contradiction(
                option:
                    "--input-size \(given.height == given.width ? "\(given.height)" : "\(given.height)x\(given.width)")",
                path: path, fileSays: "the input \(size) of '\(open.name)'", source: .modelConfig)
        }
        let weights = try open.bind(file)

        let entry: WeightsEntry
        if let backbone {
            entry = backbone.entry
        } else {
            entry = WeightsEntry(
                id: "saved model '\(open.name)'", model: open.name, architecture: open.name,
                file: URL(fileURLWithPath: path).lastPathComponent, url: "", hash: nil, hashAlgorithm: nil,
                defaultInput: size.height, preprocess: PreprocessMode.none.rawValue,
                weightedLayers: weights.layers.count, params: weights.architecture.numParams)
        }
        let decision = ModelDecision(
            entry: entry, entrySource: backbone?.entrySource ?? .modelConfig,
            inputSize: Decided(size, fixed ? .modelConfig : .commandLine), alpha: backbone?.alpha, rows: nil,
            minimalistic: backbone?.minimalistic, file: file, plan: nil, digest: nil,
            savedInput: declared ?? ModelConfigInput(model: open.name, shape: input.dimensions),
            nestedIn: backbone?.nestedIn, warnings: backbone?.warnings ?? [])
        let digest = try FileHash.hex(of: path, algorithm: decision.hashAlgorithm)
        let whole = WholeModelSource(
            name: open.name, config: config, keras3: keras3, outputNames: open.outputNames, channels: input.channels,
            backbone: backbone?.nestedIn, unsupported: open.unsupported)
        return LoadedModel(
            source: WeightsSource(
                decision: decision, weightsPath: path, digest: digest, integrity: decision.integrity(digest: digest),
                whole: whole),
            weights: weights)
    }
}
