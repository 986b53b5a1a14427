// Every setting of a run decided as Keras decides it, and where each came from. A wrong
// feature matrix with exit status 0 is the worst outcome this tool can have, so nothing is
// guessed silently: the order is
//   1. the saved model's own input (InputLayer `batch_shape`/`batch_input_shape` in its config);
//   2. the published file's identity: manifest entry by hash where one is published, else by
//      the exact file name, else by the `_224_`/`_0.75_160_` tokens in it;
//   3. the file's shapes (alpha, minimalistic, which architecture at all);
//   4. the command line, which may add what the file does not say but never contradict it;
//   5. Keras' own default (MobileNet's `rows = 224`, EfficientNetB3's 300, ...), with a warning
//      when the file could have been another variant.

import Backbones
import Foundation
import WeightLoader

/// Where a decided setting came from; said in the header line and the run record.
public enum SettingSource: String, Sendable, Codable, Equatable {
    case commandLine = "command line"
    case modelConfig = "model config"
    case fileHash = "file hash"
    case fileName = "file name"
    case fileShapes = "file shapes"
    case kerasDefault = "Keras default"
}

public struct Decided<Value: Sendable & Equatable>: Sendable, Equatable {
    public let value: Value
    public let source: SettingSource

    public init(_ value: Value, _ source: SettingSource) {
        self.value = value
        self.source = source
    }
}

/// A model input size: `224`, or `160x224` (height × width, as Keras' `input_shape=(160, 224, 3)`).
public struct InputSize: Sendable, Equatable, Codable, CustomStringConvertible {
    public let height: Int
    public let width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    public init(square side: Int) { self.init(height: side, width: side) }

    /// `224`, `160x224` or `160×224`; nil for anything else.
    public init?(parsing text: String) {
        let parts = text.lowercased().replacingOccurrences(of: "×", with: "x").split(
            separator: "x", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let h = Int(parts[0]), let w = Int(parts[parts.count - 1]), h > 0, w > 0
        else {
            return nil
        }
        self.init(height: h, width: w)
    }

    public var isSquare: Bool { height == width }
    /// `224×224`, `160×224`.
    public var description: String { "\(height)×\(width)" }
}

/// What the user asked for: the options that pick a model, verbatim (nil: not given).
public struct ModelRequest: Sendable, Equatable {
    public var model: String?
    public var alpha: Double?
    public var rows: Int?
    public var minimalistic: Bool
    public var includeTop: Bool
    public var weightsPath: String?
    public var inputSize: InputSize?
    /// A saved model's backbone only (`--backbone-only`), not the whole model.
    public var backboneOnly: Bool

    public init(
        model: String? = nil, alpha: Double? = nil, rows: Int? = nil, minimalistic: Bool = false,
        includeTop: Bool = false, weightsPath: String? = nil, inputSize: InputSize? = nil, backboneOnly: Bool = false
    ) {
        self.model = model; self.alpha = alpha; self.rows = rows; self.minimalistic = minimalistic
        self.includeTop = includeTop; self.weightsPath = weightsPath; self.inputSize = inputSize
        self.backboneOnly = backboneOnly
    }
}

/// The decided model: which published file (manifest entry) the weights are, every variant
/// parameter and the input size, each with its source.
public struct ModelDecision: Sendable {
    public let entry: WeightsEntry
    /// How the manifest entry (the published file) was identified.
    public let entrySource: SettingSource
    public let inputSize: Decided<InputSize>
    public let alpha: Decided<Double>?
    /// The training size of the published MobileNet v1/v2 file (`_224_`), which picks the file.
    public let rows: Decided<Int>?
    public let minimalistic: Decided<Bool>?
    /// The `--weights` file, opened once; nil when the weights come from the Keras cache.
    public let file: KerasWeightFile?
    /// How `file` binds to `entry`'s architecture, found when the file was detected (bound
    /// from this plan, never matched again).
    public let plan: BindingPlan?
    /// The `--weights` file's digest when it was hashed to identify it (algorithm, hex).
    public let digest: (algorithm: String, hex: String)?
    /// A saved model's own input, from its config, when the config fixes one.
    public let savedInput: ModelConfigInput?
    /// The saved model's name for the backbone inside it, when the weights are nested.
    public let nestedIn: String?
    /// One line each for values that are only a guess.
    public let warnings: [String]

    /// Every decided value with its source, for the header line: `alpha 1.0 (file shapes)`.
    public var settings: [(name: String, value: String, source: SettingSource)] {
        var out: [(String, String, SettingSource)] = []
        if let alpha { out.append(("alpha", String(alpha.value), alpha.source)) }
        if let rows { out.append(("weights for", "\(rows.value)×\(rows.value)", rows.source)) }
        if let minimalistic { out.append(("minimalistic", minimalistic.value ? "yes" : "no", minimalistic.source)) }
        out.append(("input", inputSize.value.description, inputSize.source))
        return out
    }

    /// The decided input fits the model: at least Keras' minimum on each side, and with the
    /// classifier, the one size its weights fit where they fix it (VGG's fc1). Asked before
    /// any weights are fetched; the one home of both checks.
    public func checkInput() throws {
        let size = inputSize.value
        let trained = InputSize(square: entry.defaultInput)
        if entry.includeTop, size != trained,
            Backbone.classifierFixesInputSize(
                try Backbone.graph(entry.architecture, height: trained.height, width: trained.width))
        {
            throw ExtractionError.classifierInputSize(
                model: entry.model, size: size.description, required: entry.defaultInput)
        }
        if let minimum = entry.minInput, size.height < minimum || size.width < minimum {
            throw ExtractionError.inputTooSmall(model: entry.model, size: size.description, minimum: minimum)
        }
    }

    /// A saved model of the user's own (a backbone inside, or an input in its config).
    public var isSavedModel: Bool { nestedIn != nil || savedInput != nil }

    /// How the weights' integrity was established, said instead of a blanket "hash-checked":
    /// `digest` is the file's hex digest in the entry's algorithm (nil: not hashed).
    public func integrity(digest: String?) -> String {
        if isSavedModel { return "a saved model of your own: checked by structure only" }
        guard let hash = entry.hash?.lowercased() else { return "no published hash: checked by structure only" }
        let algorithm = FileHash.algorithm(forHash: hash, declared: entry.hashAlgorithm)
        if digest?.lowercased() == hash { return "published \(algorithm) verified" }
        return "not the published file (its \(algorithm) differs): checked by structure only"
    }

    /// The entry's hash algorithm, or sha256 for files Keras publishes no hash for.
    public var hashAlgorithm: String {
        digest?.algorithm ?? entry.hash.map { FileHash.algorithm(forHash: $0, declared: entry.hashAlgorithm) }
            ?? "sha256"
    }
}

public enum ModelDecider {
    /// Keras' rule for MobileNet v1/v2 (`mobilenet.py`, `mobilenet_v2.py`): the file is the one
    /// trained at the input size when that is square and published, else the 224 one.
    static func kerasRows(for size: InputSize?, among rows: Set<Int>) -> Int? {
        guard let size, size.isSquare, rows.contains(size.height) else { return nil }
        return size.height
    }

    public static func decide(_ request: ModelRequest, manifest: WeightsManifest = .shared) throws -> ModelDecision {
        if let path = request.weightsPath { return try decide(request, weightsPath: path, manifest: manifest) }
        guard let model = request.model else { throw ExtractionError.noModel }
        return try decideCached(request, model: model, manifest: manifest)
    }

    /// `--model` alone: the published file Keras would download for these options.
    static func decideCached(_ request: ModelRequest, model: String, manifest: WeightsManifest) throws -> ModelDecision
    {
        let family = try ModelSelection.family(model, in: manifest)
        let published = Set(family.compactMap(\.rows))
        let rowsFromSize = request.rows == nil ? kerasRows(for: request.inputSize, among: published) : nil
        let entry = try ModelSelection(
            name: model, alpha: request.alpha, rows: request.rows ?? rowsFromSize,
            minimalistic: request.minimalistic, includeTop: request.includeTop
        ).resolve(in: manifest)
        let alpha = entry.alpha.map { Decided($0, request.alpha != nil ? .commandLine : .kerasDefault) }
        let rows = entry.rows.map {
            Decided($0, request.rows != nil || rowsFromSize != nil ? .commandLine : .kerasDefault)
        }
        let size =
            request.inputSize.map { Decided($0, .commandLine) }
            ?? Decided(InputSize(square: entry.rows ?? entry.defaultInput), rows?.source ?? .kerasDefault)
        return ModelDecision(
            entry: entry, entrySource: .commandLine, inputSize: size, alpha: alpha, rows: rows,
            minimalistic: minimalisticSetting(entry, family: family, given: request.minimalistic),
            file: nil, plan: nil, digest: nil, savedInput: nil, nestedIn: nil, warnings: [])
    }

    static func minimalisticSetting(_ entry: WeightsEntry, family: [WeightsEntry], given: Bool) -> Decided<Bool>? {
        guard family.contains(where: { $0.variant == "minimalistic" }) else { return nil }
        return Decided(entry.variant == "minimalistic", given ? .commandLine : .kerasDefault)
    }

    /// `--weights FILE`, with or without `--model`: the file decides what it is.
    static func decide(
        _ request: ModelRequest, weightsPath path: String, manifest: WeightsManifest = .shared,
        file opened: KerasWeightFile? = nil
    ) throws -> ModelDecision {
        let file = try opened ?? KerasWeightFile.open(path)
        let plans = Binder.detect(file)
        guard let best = plans.first else {
            // Nothing known binds: with --model, the binder's own error says what disagrees.
            if let model = request.model {
                let wanted = try ModelSelection(
                    name: model, alpha: request.alpha, rows: request.rows, minimalistic: request.minimalistic,
                    includeTop: request.includeTop
                ).resolve(in: manifest)
                _ = try Binder.plan(file, ArchitectureCatalog.architecture(wanted.architecture))
            }
            throw ExtractionError.unknownWeights(path)
        }
        let architecture = best.architecture.id
        let candidates = manifest.entries.filter { $0.architecture == architecture }
        guard let first = candidates.first else { throw ExtractionError.unknownWeights(path) }
        if first.includeTop != request.includeTop {
            throw first.includeTop ? ExtractionError.classifierWeights(path) : ExtractionError.noClassifier(path)
        }
        var family = manifest.entries.filter { $0.model == first.model }
        if let model = request.model {
            family = try ModelSelection.family(model, in: manifest, includingOldReleases: true)
            guard family.contains(where: { $0.architecture == architecture }) else {
                let wanted = family.first { $0.includeTop == request.includeTop } ?? family[0]
                throw WeightLoaderError.wrongArchitecture(
                    path: path, requested: wanted.architecture, detected: architecture)
            }
        }
        let name = URL(fileURLWithPath: path).lastPathComponent

        // Variant parameters the shapes fix: the command line may repeat them, not contradict.
        if let alpha = request.alpha, let fileAlpha = first.alpha, abs(alpha - fileAlpha) > 1e-9 {
            throw ExtractionError.contradiction(
                option: "--alpha \(alpha)", path: path, fileSays: "alpha \(fileAlpha)", source: .fileShapes)
        }
        if request.minimalistic, first.variant != "minimalistic" {
            throw ExtractionError.contradiction(
                option: "--minimalistic", path: path, fileSays: "the full (not minimalistic) \(first.model)",
                source: .fileShapes)
        }

        // A saved model's own input: the outer model's, else the nested backbone's.
        var nestedIn: String?
        if case .byName(let nested) = best.method { nestedIn = nested }
        var savedInput: ModelConfigInput?
        if let config = file.modelConfig {
            let inputs = ModelConfigInput.inputs(ofConfig: config, nested: nestedIn)
            savedInput = [inputs.outer, inputs.nested].compactMap { $0 }.first { $0.isFixed }
        }

        // Which published file among those of identical shapes (MobileNet's four sizes per alpha).
        var entry = first
        var entrySource = SettingSource.fileShapes
        var digest: (algorithm: String, hex: String)?
        var warnings: [String] = []
        if candidates.count > 1 {
            var found: (WeightsEntry, SettingSource)?
            let hashed = candidates.filter { $0.hash != nil }
            if !hashed.isEmpty {
                var digests: [String: String] = [:]
                for c in hashed {
                    let algorithm = FileHash.algorithm(forHash: c.hash!, declared: c.hashAlgorithm)
                    let hex = try digests[algorithm] ?? FileHash.hex(of: path, algorithm: algorithm)
                    digests[algorithm] = hex
                    if hex == c.hash!.lowercased() {
                        found = (c, .fileHash)
                        digest = (algorithm, hex)
                        break
                    }
                }
            }
            if found == nil, let byName = candidates.first(where: { $0.file == name }) { found = (byName, .fileName) }
            if found == nil {
                let tokens = Set(name.split(whereSeparator: { "_-.".contains($0) }).map(String.init))
                let byTokens = candidates.filter { c in c.rows.map { tokens.contains(String($0)) } ?? false }
                if byTokens.count == 1 { found = (byTokens[0], .fileName) }
            }
            if found == nil, let saved = savedInput, let h = saved.height, saved.width == h,
                let c = candidates.first(where: { $0.rows == h })
            {
                found = (c, .modelConfig)
            }
            if found == nil,
                let rows = request.rows ?? kerasRows(for: request.inputSize, among: Set(candidates.compactMap(\.rows))),
                let c = candidates.first(where: { $0.rows == rows })
            {
                found = (c, .commandLine)
            }
            if let found {
                (entry, entrySource) = found
            } else {
                entry = candidates.first { $0.rows == 224 } ?? first
                entrySource = .kerasDefault
                let sizes = candidates.compactMap(\.rows).map(String.init).joined(separator: ", ")
                warnings.append(
                    "\(name): its shapes fit the \(first.model) files trained at \(sizes) alike, and neither its name nor a hash says which; taken as the \(entry.rows.map { "\($0)×\($0)" } ?? "default") one (Keras' default). Pass --rows N if it is another"
                )
            }
        }
        if let rows = request.rows, let fileRows = entry.rows, rows != fileRows, entrySource != .kerasDefault {
            throw ExtractionError.contradiction(
                option: "--rows \(rows)", path: path,
                fileSays: "the \(entry.model) file trained at \(fileRows)×\(fileRows)", source: entrySource)
        }

        // The input size: the saved model's own, else the file's training size, else Keras'.
        let size: Decided<InputSize>
        if let given = request.inputSize {
            if let saved = savedInput, let h = saved.height, let w = saved.width,
                given != InputSize(height: h, width: w)
            {
                throw ExtractionError.contradiction(
                    option:
                        "--input-size \(given.height == given.width ? "\(given.height)" : "\(given.height)x\(given.width)")",
                    path: path, fileSays: "the input \(h)×\(w) of '\(saved.model)'", source: .modelConfig)
            }
            size = Decided(given, .commandLine)
        } else if let saved = savedInput, let h = saved.height, let w = saved.width {
            size = Decided(InputSize(height: h, width: w), .modelConfig)
        } else if let rows = entry.rows {
            size = Decided(InputSize(square: rows), entrySource)
        } else {
            size = Decided(InputSize(square: entry.defaultInput), .kerasDefault)
        }

        let alpha = entry.alpha.map { Decided($0, SettingSource.fileShapes) }
        // Which published file it is means nothing for a saved model's own weights.
        let rows = savedInput != nil || nestedIn != nil ? nil : entry.rows.map { Decided($0, entrySource) }
        var minimalistic: Decided<Bool>?
        if family.contains(where: { $0.variant == "minimalistic" }) {
            minimalistic = Decided(entry.variant == "minimalistic", .fileShapes)
        }
        return ModelDecision(
            entry: entry, entrySource: entrySource, inputSize: size, alpha: alpha, rows: rows,
            minimalistic: minimalistic, file: file, plan: best, digest: digest, savedInput: savedInput,
            nestedIn: nestedIn,
            warnings: warnings)
    }
}
