import Foundation
import WeightLoader

/// NAME.run.json: everything needed to know how a features file was made and to redo it.
/// Written by `ExtractionJob`, read back by whatever builds on a features file.
public struct RunRecord: Codable, Equatable, Sendable {
    public struct Setting<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
        public let value: Value
        public let source: String
    }
    /// Every value decided for the model, with where it came from (`SettingSource`).
    public struct Decided: Codable, Equatable, Sendable {
        public let manifestEntry: Setting<String>
        public let alpha: Setting<Double>?
        public let rows: Setting<Int>?
        public let minimalistic: Setting<Bool>?
        /// [height, width].
        public let inputSize: Setting<[Int]>
    }
    public struct Model: Codable, Equatable, Sendable {
        public let name: String
        public let manifestEntry: String
        public let architecture: String
        public let weightsFile: String
        public let weightsHash: String?
        public let hashAlgorithm: String?
        /// "published md5 verified", or "no published hash: checked by structure only", ...
        public let integrity: String
        /// The saved model's name for the backbone inside it, when the weights are nested.
        public let nestedIn: String?
        public let decided: Decided
        public let warnings: [String]
        /// Your own saved model run whole (`--weights` alone): its name, outputs, the backbone
        /// inside it, and its input channels. nil for a backbone's features.
        public var wholeModel: WholeModel? = nil
    }
    public struct WholeModel: Codable, Equatable, Sendable {
        public let name: String
        public let outputs: [String]
        public let backbone: String?
        public let channels: Int
    }
    public struct Input: Codable, Equatable, Sendable {
        /// [height, width], as Keras' input_shape[:2].
        public let size: [Int]
        public let interpolation: String
        public let keepAspectRatio: Bool
        public let resize: String
        public let exifTranspose: Bool
        /// JPEGs decoded at a reduced DCT scale (`--fast-decode`): not Keras' pixels.
        public let fastDecode: Bool
        public let preprocessing: String
    }
    public struct Skipped: Codable, Equatable, Sendable { public let path: String; public let reason: String }
    /// What --classes / --classes-from asked for, as given.
    public struct Requested: Codable, Equatable, Sendable {
        public let option: String
        public let file: String?
        public let names: [String]
    }
    /// Each class's label and how many rows carry it (0 for a listed class that is absent).
    public struct ClassLabel: Codable, Equatable, Sendable {
        public let `class`: String; public let label: Int; public let images: Int
    }
    public struct Table: Codable, Equatable, Sendable {
        public let file: String; public let pathColumn: String; public let labelColumn: String?
    }
    public struct Counts: Codable, Equatable, Sendable {
        public var listed: Int; public var written: Int; public var skipped: Int; public var notRead: Int
    }
    /// Which slice of the image list a shard's run took (`--shard i/n`).
    public struct ShardPart: Codable, Equatable, Sendable {
        public let index: Int
        public let count: Int
        /// Its first image's position in the whole sorted list, and that list's length.
        public let firstImage: Int
        public let listedInAll: Int
    }

    /// The tool's version, as `extract --version` prints it.
    public static let toolVersion = "0.1.0"

    public var tool = "extract \(RunRecord.toolVersion)"
    public var created: String
    public var command: [String]
    /// Where the command ran, and the inputs as absolute paths (the index holds relative ones).
    public let workingDirectory: String
    public let inputRoots: [String]
    public let model: Model
    public let input: Input
    public let layer: String?
    public let pooling: String
    /// "winograd" (stride-1 3×3 convolutions by Winograd F(4×4)/F(2×2)) or "im2col".
    public let convolution: String
    /// include_top=True: rows are class probabilities; `top` classes per image were decoded.
    public let includeTop: Bool
    public let top: Int?
    /// `--class-names`: the file naming a saved model's output classes in the predictions.
    public var classNamesFile: String? = nil
    /// A shard's run: which slice it took. nil for a whole run (and a merged one).
    public var shard: ShardPart? = nil
    public let features: Int
    /// One image's output as Keras shapes it ([C], or [H, W, C] for a feature map), and whether
    /// the rows were written flattened to [H·W·C] (--flatten).
    public let outputShape: [Int]
    public let flattened: Bool
    public var output: String
    public var counts: Counts
    public let classes: [String]
    public let classesRequested: Requested?
    public let classLabels: [ClassLabel]
    public let table: Table?
    public var skipped: [Skipped]
    public let notRead: [Skipped]
    public var seconds: Double
    public var imagesPerSecond: Double

    init(
        source: WeightsSource, extractor: FeatureExtractor, pipeline: ImagePipeline, dataset: Dataset,
        inputs: [String],
        summary: ExtractionSummary, output: String, flattened: Bool, top: Int?, classNames: String? = nil,
        command: [String], shard: ShardPart? = nil
    ) {
        let decision = source.decision
        let entry = extractor.entry
        created = ISO8601DateFormatter().string(from: Date())
        self.command = command
        let cwd = FileManager.default.currentDirectoryPath
        workingDirectory = cwd
        inputRoots = inputs.map {
            URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
        }
        let size = [extractor.inputSize.height, extractor.inputSize.width]
        model = Model(
            name: ModelSelection.describe(entry), manifestEntry: entry.id, architecture: entry.architecture,
            weightsFile: source.weightsPath, weightsHash: source.digest, hashAlgorithm: source.hashAlgorithm,
            integrity: source.integrity, nestedIn: decision.nestedIn,
            decided: Decided(
                manifestEntry: Setting(value: entry.id, source: decision.entrySource.rawValue),
                alpha: decision.alpha.map { Setting(value: $0.value, source: $0.source.rawValue) },
                rows: decision.rows.map { Setting(value: $0.value, source: $0.source.rawValue) },
                minimalistic: decision.minimalistic.map { Setting(value: $0.value, source: $0.source.rawValue) },
                inputSize: Setting(value: size, source: decision.inputSize.source.rawValue)),
            warnings: decision.warnings,
            wholeModel: source.whole.map {
                WholeModel(name: $0.name, outputs: $0.outputNames, backbone: $0.backbone, channels: $0.channels)
            })
        input = Input(
            size: size, interpolation: pipeline.interpolation.rawValue,
            keepAspectRatio: pipeline.keepAspectRatio, resize: pipeline.resize.rawValue,
            exifTranspose: pipeline.exifTranspose, fastDecode: pipeline.fastDecode,
            preprocessing: extractor.preprocess.rawValue)
        layer = extractor.layer
        pooling = extractor.pooling.rawValue
        convolution = extractor.model.options.winograd ? "winograd" : "im2col"
        includeTop = extractor.includeTop
        self.top = top
        self.classNamesFile = classNames
        self.shard = shard
        features = extractor.width
        outputShape = extractor.outputShape
        self.flattened = flattened && outputShape.count > 1
        self.output = output
        counts = Counts(
            listed: dataset.items.count, written: summary.names.count, skipped: summary.skipped.count,
            notRead: dataset.ignored.count)
        classes = dataset.classNames
        classesRequested = dataset.requested.map { Requested(option: $0.option, file: $0.file, names: $0.names) }
        var counts = [Int](repeating: 0, count: dataset.classNames.count)
        for label in summary.labels { counts[label] += 1 }
        classLabels = dataset.classNames.enumerated().map { ClassLabel(class: $1, label: $0, images: counts[$0]) }
        table = dataset.table.map { Table(file: $0.file, pathColumn: $0.pathColumn, labelColumn: $0.labelColumn) }
        skipped = summary.skipped.map { Skipped(path: $0.path, reason: $0.reason) }
        notRead = dataset.ignored.map { Skipped(path: $0.path, reason: $0.reason) }
        seconds = (summary.seconds * 1000).rounded() / 1000
        imagesPerSecond = (summary.imagesPerSecond * 10).rounded() / 10
    }

    /// The record as NAME.run.json holds it: snake_case keys, sorted, pretty-printed.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// sha256 of what decides the rows and files a run writes: the record without its time,
    /// command line, working folder and counts. A resumed run must match the run it continues.
    func settingsDigest() throws -> String {
        guard var fields = try JSONSerialization.jsonObject(with: json()) as? [String: Any] else { return "" }
        for volatile in [
            "created", "command", "working_directory", "counts", "skipped", "class_labels", "seconds",
            "images_per_second",
        ] {
            fields[volatile] = nil
        }
        return FileHash.sha256(try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]))
    }

    /// A record read back from its JSON (`json()`'s form).
    public init(json data: Data) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        self = try decoder.decode(RunRecord.self, from: data)
    }

    /// NAME.run.json beside a features file, or the record file itself.
    public static func read(_ path: String) throws -> RunRecord {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw RunRecordError.unreadable(path, reason: (error as NSError).localizedDescription)
        }
        do { return try RunRecord(json: data) } catch {
            throw RunRecordError.malformed(path, reason: String(describing: error))
        }
    }

    /// Where the record of the features file `output` lives: `feats.npy` -> `feats.run.json`.
    public static func path(forOutput output: String) -> String {
        (output as NSString).deletingPathExtension + ".run.json"
    }
}

public enum RunRecordError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case unreadable(String, reason: String)
    case malformed(String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read the run record \(path): \(reason)"
        case .malformed(let path, let reason):
            return
                "\(path) is not a run record written by extract \(RunRecord.toolVersion) (\(reason)); run the extraction again to rewrite it"
        }
    }

    public var errorDescription: String? { description }
}
