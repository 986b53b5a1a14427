import Backbones
import Features
import Foundation
import WeightLoader

/// NAME.run.json: everything needed to know how a features file was made and to redo it.
struct RunRecord: Encodable {
    struct Setting<Value: Encodable>: Encodable {
        let value: Value
        let source: String
    }
    /// Every value decided for the model, with where it came from (`SettingSource`).
    struct Decided: Encodable {
        let manifestEntry: Setting<String>
        let alpha: Setting<Double>?
        let rows: Setting<Int>?
        let minimalistic: Setting<Bool>?
        /// [height, width].
        let inputSize: Setting<[Int]>
    }
    struct Model: Encodable {
        let name: String
        let manifestEntry: String
        let architecture: String
        let weightsFile: String
        let weightsHash: String?
        let hashAlgorithm: String?
        /// "published md5 verified", or "no published hash: checked by structure only", ...
        let integrity: String
        /// The saved model's name for the backbone inside it, when the weights are nested.
        let nestedIn: String?
        let decided: Decided
        let warnings: [String]
    }
    struct Input: Encodable {
        /// [height, width], as Keras' input_shape[:2].
        let size: [Int]
        let interpolation: String
        let keepAspectRatio: Bool
        let resize: String
        let exifTranspose: Bool
        /// JPEGs decoded at a reduced DCT scale (`--fast-decode`): not Keras' pixels.
        let fastDecode: Bool
        let preprocessing: String
    }
    struct Skipped: Encodable { let path: String; let reason: String }
    /// What --classes / --classes-from asked for, as given.
    struct Requested: Encodable {
        let option: String
        let file: String?
        let names: [String]
    }
    /// Each class's label and how many rows carry it (0 for a listed class that is absent).
    struct ClassLabel: Encodable { let `class`: String; let label: Int; let images: Int }
    struct Table: Encodable { let file: String; let pathColumn: String; let labelColumn: String? }
    struct Counts: Encodable { let listed: Int; let written: Int; let skipped: Int; let notRead: Int }

    let tool = "extract \(Extract.version)"
    let created: String
    let command: [String]
    /// Where the command ran, and the inputs as absolute paths (the index holds relative ones).
    let workingDirectory: String
    let inputRoots: [String]
    let model: Model
    let input: Input
    let layer: String?
    let pooling: String
    /// "winograd" (stride-1 3×3 convolutions by Winograd F(4×4)/F(2×2)) or "im2col".
    let convolution: String
    /// include_top=True: rows are class probabilities; `top` classes per image were decoded.
    let includeTop: Bool
    let top: Int?
    let features: Int
    /// One image's output as Keras shapes it ([C], or [H, W, C] for a feature map), and whether
    /// the rows were written flattened to [H·W·C] (--flatten).
    let outputShape: [Int]
    let flattened: Bool
    let output: String
    let counts: Counts
    let classes: [String]
    let classesRequested: Requested?
    let classLabels: [ClassLabel]
    let table: Table?
    let skipped: [Skipped]
    let notRead: [Skipped]
    let seconds: Double
    let imagesPerSecond: Double

    init(
        decision: ModelDecision, integrity: String, weightsPath: String, weightsDigest: String?,
        extractor: FeatureExtractor, pipeline: ImagePipeline, dataset: Dataset, inputs: [String],
        summary: ExtractionSummary, output: String, flattened: Bool = false, top: Int? = nil
    ) throws {
        let entry = extractor.entry
        // The cache verified the hash already; a --weights file is hashed here so the record
        // names exactly which file made these features.
        let algorithm = decision.hashAlgorithm
        let digest = try weightsDigest ?? FileHash.hex(of: weightsPath, algorithm: algorithm)
        created = ISO8601DateFormatter().string(from: Date())
        command = CommandLine.arguments
        let cwd = FileManager.default.currentDirectoryPath
        workingDirectory = cwd
        inputRoots = inputs.map { URL(fileURLWithPath: $0, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path }
        let size = [extractor.inputSize.height, extractor.inputSize.width]
        model = Model(
            name: ModelSelection.describe(entry), manifestEntry: entry.id, architecture: entry.architecture,
            weightsFile: weightsPath, weightsHash: digest, hashAlgorithm: algorithm, integrity: integrity,
            nestedIn: decision.nestedIn,
            decided: Decided(
                manifestEntry: Setting(value: entry.id, source: decision.entrySource.rawValue),
                alpha: decision.alpha.map { Setting(value: $0.value, source: $0.source.rawValue) },
                rows: decision.rows.map { Setting(value: $0.value, source: $0.source.rawValue) },
                minimalistic: decision.minimalistic.map { Setting(value: $0.value, source: $0.source.rawValue) },
                inputSize: Setting(value: size, source: decision.inputSize.source.rawValue)),
            warnings: decision.warnings)
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

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self) + Data("\n".utf8)
    }
}
