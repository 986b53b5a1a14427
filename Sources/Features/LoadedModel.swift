// A model ready to plan: the weight file opened once, its architecture detected once, every
// array read once and bound to the architecture, the file hashed once. Everything that asks a
// question of the weights (is it the classifier? the published file? which input size?) asks
// this value; nothing opens or matches the file again.

import Backbones
import Foundation
import WeightLoader

public struct LoadedModel: Sendable {
    /// Where the weights came from and what was decided: all a plan keeps of them.
    public let source: WeightsSource
    /// Every array, read once; planning copies what it needs, so a plan does not keep these.
    public let weights: BoundWeights

    public var decision: ModelDecision { source.decision }
    public var weightsPath: String { source.weightsPath }
    public var digest: String { source.digest }
    public var integrity: String { source.integrity }
    public var entry: WeightsEntry { source.entry }
    public var inputSize: InputSize { source.inputSize }
    public var hashAlgorithm: String { source.hashAlgorithm }

    /// Decides the model, checks the input size, finds the weights (`--weights`, else the Keras
    /// cache, downloading when `download` allows), then opens, binds and hashes the file once.
    /// `progress(file)` gives what sees a download's bytes (received, total when known).
    public static func load(
        _ request: ModelRequest, download: Bool = true, store: WeightStore = WeightStore(),
        warn: (String) -> Void = { _ in },
        progress: (_ file: String) -> (@Sendable (Int64, Int64?) -> Void)? = { _ in nil }
    ) async throws -> LoadedModel {
        if let path = request.weightsPath, request.model == nil, !request.backboneOnly, !request.includeTop {
            let file = try KerasWeightFile.open(path)
            if let whole = try whole(request, file: file, path: path) {
                whole.decision.warnings.forEach(warn)
                return whole
            }
            let decision = try ModelDecider.decide(request, weightsPath: path, file: file)
            try decision.checkInput()
            decision.warnings.forEach(warn)
            return try bind(decision, path: path, digest: nil)
        }
        let decision = try ModelDecider.decide(request)
        try decision.checkInput()
        decision.warnings.forEach(warn)
        if let path = request.weightsPath {
            return try bind(decision, path: path, digest: nil)
        }
        let found = try await store.locate(decision.entry, download: download, progress: progress(decision.entry.file))
        return try bind(decision, path: found.url.path, digest: found.digest)
    }

    /// The same, for a decision already made (the weights file at `path`).
    public static func bind(_ decision: ModelDecision, path: String, digest known: String?) throws -> LoadedModel {
        let file = try decision.file ?? KerasWeightFile.open(path)
        let weights: BoundWeights
        do {
            weights = try
                (decision.plan
                ?? Binder.planOrExplain(file, ArchitectureCatalog.architecture(decision.entry.architecture))).load()
        } catch WeightLoaderError.wrongArchitecture(_, let requested, let detected)
            where detected.map { $0 + Backbone.topSuffix } == requested
        {
            throw ExtractionError.noClassifier(path)
        } catch WeightLoaderError.wrongArchitecture(_, let requested, let detected)
            where detected == requested + Backbone.topSuffix
        {
            throw ExtractionError.classifierWeights(path)
        }
        let digest = try known ?? decision.digest?.hex ?? FileHash.hex(of: path, algorithm: decision.hashAlgorithm)
        return LoadedModel(
            source: WeightsSource(
                decision: decision, weightsPath: path, digest: digest, integrity: decision.integrity(digest: digest)),
            weights: weights)
    }
}

/// What a set of features was made from: the decided model, the weight file, its digest and
/// how its integrity was established. Small, so an extractor and the run record keep it
/// while the bound arrays are freed once planned.
public struct WeightsSource: Sendable {
    /// What was decided, and from what (the header line and the run record say it).
    public let decision: ModelDecision
    /// The weight file the arrays came from (`--weights`, or the Keras cache's copy).
    public let weightsPath: String
    /// The file's hex digest in `hashAlgorithm`.
    public let digest: String
    /// How the file's integrity was established (`published md5 verified`, ...).
    public let integrity: String
    /// A saved model run whole: what its graph is built from. nil for a backbone.
    public let whole: WholeModelSource?

    public init(
        decision: ModelDecision, weightsPath: String, digest: String, integrity: String, whole: WholeModelSource? = nil
    ) {
        self.decision = decision
        self.weightsPath = weightsPath
        self.digest = digest
        self.integrity = integrity
        self.whole = whole
    }

    public var entry: WeightsEntry { decision.entry }
    public var inputSize: InputSize { decision.inputSize.value }
    public var includeTop: Bool { entry.includeTop }
    public var hashAlgorithm: String { decision.hashAlgorithm }
}
