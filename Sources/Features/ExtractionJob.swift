// The main job as one library call: inputs -> a loaded model -> one row per image -> a feature
// file and its run record. `extract run` parses options into this value and calls `run`; any
// other front end (a classifier fitting on fresh features, a resumed or sharded run) does the
// same. What is read and where it goes are checked before any weights are fetched.

import Backbones
import FeatureFiles
import Foundation
import Images
import WeightLoader

/// Where rows go as they are made, and the files that complete them: nothing is visible at
/// `path` before `finish`, and `discard` leaves nothing behind.
public protocol FeatureSink: AnyObject {
    var path: String { get }
    /// One row's shape as written ([C], [H, W, C] or the flattened [H·W·C]).
    var rowShape: [Int] { get }
    /// Rows appended so far.
    var count: Int { get }
    func append(_ row: [Float]) throws
    func finish(names: [String], labels: [Int]?, classNames: [String], record: Data, predictions: String?) throws
    func discard()
}

extension FeatureOutput: FeatureSink {}

/// How pixels are read: `load_img`'s settings, or `tf.image.resize`'s with `.tf`.
public struct ImageSettings: Sendable, Equatable {
    /// nil: the resize's own default (nearest for load_img, bilinear for tf.image.resize).
    public var interpolation: Interpolation?
    public var keepAspectRatio: Bool
    public var resize: ResizeMethod
    public var exifTranspose: Bool
    public var fastDecode: Bool

    public init(
        interpolation: Interpolation? = nil, keepAspectRatio: Bool = false, resize: ResizeMethod = .pil,
        exifTranspose: Bool = false, fastDecode: Bool = false
    ) {
        self.interpolation = interpolation
        self.keepAspectRatio = keepAspectRatio
        self.resize = resize
        self.exifTranspose = exifTranspose
        self.fastDecode = fastDecode
    }

    public var filter: Interpolation { interpolation ?? (resize == .tf ? .bilinear : .nearest) }
}

/// What a running job tells its caller. Every hook may be left out; a quiet front end leaves
/// out `note`.
public struct ExtractionEvents: Sendable {
    /// Header lines, warnings and skipped images, one line each.
    public var note: @Sendable (String) -> Void
    /// A download's progress display for the file named, or nil for none.
    public var download: @Sendable (_ file: String) -> (@Sendable (Int64, Int64?) -> Void)?
    /// The run's progress, once its work folder is taken: what an interrupt leaves
    /// (`RunProgress.leave`).
    public var opened: @Sendable (RunProgress) -> Void
    /// Images done (written or skipped) of the total, after each one.
    public var progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?

    public init(
        note: @escaping @Sendable (String) -> Void = { _ in },
        download: @escaping @Sendable (String) -> (@Sendable (Int64, Int64?) -> Void)? = { _ in nil },
        opened: @escaping @Sendable (RunProgress) -> Void = { _ in },
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) {
        self.note = note
        self.download = download
        self.opened = opened
        self.progress = progress
    }
}

public struct ExtractionJob: Sendable {
    /// Folders, tables, list files or images, as `Dataset.scan` reads them.
    public var inputs: [String]
    /// `--classes`: only these classes, labelled in this order.
    public var classes: ClassList?
    /// `--classes-from`: a previous run's NAME.classes.txt.
    public var classesFrom: String?
    public var columns: TableColumns
    public var model: ModelRequest
    /// Whether a published file missing from the Keras cache may be downloaded.
    public var download: Bool
    /// nil: `avg` for features; the classifier (include_top) has its own.
    public var pooling: GlobalPooling?
    public var layer: String?
    /// A feature map written as (N, H·W·C) rows instead of (N, H, W, C).
    public var flatten: Bool
    public var image: ImageSettings
    /// nil: the model's own `preprocess_input`.
    public var preprocess: PreprocessMode?
    /// With the classifier: classes per image decoded (nil: `defaultTop`).
    public var top: Int?
    /// `--class-names`: a saved model's classes, one per line in output order (the
    /// NAME.classes.txt of the run its training features came from); adds NAME.predictions.csv.
    public var classNames: String?
    public var batchSize: Int
    public var threads: Int
    /// Stop at the first unreadable image instead of skipping it.
    public var strict: Bool
    public var plan: CompiledGraph.Options
    /// NAME.npy, NAME.npz or NAME.h5.
    public var output: String
    /// One slice of the sorted image list (written to NAME.shard-i-of-n.npy), and what chose it.
    public var shard: Shard?
    public var shardSource: String?
    /// The command line the record names.
    public var command: [String]
    /// Discard what an unfinished run writing the same output kept, instead of continuing it.
    public var restart = false

    /// decode_predictions' default.
    public static let defaultTop = 5

    public init(
        inputs: [String], output: String, model: ModelRequest, classes: ClassList? = nil, classesFrom: String? = nil,
        columns: TableColumns = TableColumns(), download: Bool = true, pooling: GlobalPooling? = nil,
        layer: String? = nil, flatten: Bool = false, image: ImageSettings = ImageSettings(),
        preprocess: PreprocessMode? = nil, top: Int? = nil, classNames: String? = nil, batchSize: Int = 32,
        threads: Int = ProcessInfo.processInfo.activeProcessorCount, strict: Bool = false,
        plan: CompiledGraph.Options = .init(), command: [String] = CommandLine.arguments
    ) {
        self.inputs = inputs
        self.output = output
        self.model = model
        self.classes = classes
        self.classesFrom = classesFrom
        self.columns = columns
        self.download = download
        self.pooling = pooling
        self.layer = layer
        self.flatten = flatten
        self.image = image
        self.preprocess = preprocess
        self.top = top
        self.classNames = classNames
        self.batchSize = batchSize
        self.threads = threads
        self.strict = strict
        self.plan = plan
        self.command = command
    }

    /// The pooling the run uses: the classifier's own head, else `pooling`, else avg.
    public var resolvedPooling: GlobalPooling { model.includeTop ? .none : pooling ?? .avg }

    /// The images, labelled as `classes` / `classesFrom` / the table columns say.
    public func scan() throws -> Dataset {
        let requested = try classes ?? classesFrom.map(ClassList.read)
        return try Dataset.scan(inputs, classes: requested, columns: columns)
    }

    /// Where the rows go: `output`, or this shard's name beside it.
    public var destination: String { shard.map { $0.outputPath(output) } ?? output }

    /// Runs the job; on any failure nothing is left at `destination`.
    public func run(_ events: ExtractionEvents = ExtractionEvents()) async throws -> ExtractionResult {
        let listed = try scan()
        let dataset = shard.map { listed.slice($0.range(of: listed.items.count)) } ?? listed
        dataset.warnings.forEach(events.note)
        let output = destination
        try OutputFormat.checkDestination(output)
        let ownClasses = try classNames.map { try ClassList.read($0).names }
        // The loaded arrays live only while the graph is planned.
        let extractor = try await plan(
            LoadedModel.load(
                model, download: download, warn: { events.note("warning: \($0)") }, progress: events.download),
            note: events.note)
        var configured = ImagePipeline(
            height: extractor.inputSize.height, width: extractor.inputSize.width, interpolation: image.filter,
            keepAspectRatio: image.keepAspectRatio, resize: image.resize, exifTranspose: image.exifTranspose,
            fastDecode: image.fastDecode, preprocess: extractor.preprocess)
        if let ownClasses { try checkClassNames(ownClasses, extractor) }
        let decoded = ownClasses.map(Predictions.classes(named:)) ?? (extractor.includeTop ? ImageNetClasses.all : nil)
        configured.channels = extractor.source.whole?.channels ?? 3
        let pipeline = configured
        header(extractor, dataset).forEach(events.note)
        if let shard {
            let rows = shard.range(of: listed.items.count)
            events.note(
                "shard \(shard) (\(shardSource ?? "--shard")): images \(rows.lowerBound)..<\(rows.upperBound) of \(listed.items.count), to \(output); join the shards with `extract merge`"
            )
        }

        let outputs = extractor.outputs.map { (name: $0.name, shape: flatten ? [$0.shape.reduce(1, *)] : $0.shape) }
        let shardPart = shard.map {
            RunRecord.ShardPart(
                index: $0.index, count: $0.count, firstImage: $0.range(of: listed.items.count).lowerBound,
                listedInAll: listed.items.count)
        }
        let topK = top ?? Self.defaultTop
        func record(_ summary: ExtractionSummary) -> RunRecord {
            RunRecord(
                source: extractor.source, extractor: extractor, pipeline: pipeline, dataset: dataset, inputs: inputs,
                summary: summary, output: output, flattened: flatten, top: decoded == nil ? nil : topK,
                classNames: classNames, command: command, shard: shardPart)
        }
        let progress = try RunProgress(
            output: output, settings: try record(ExtractionSummary()).settingsDigest(), images: dataset.digest,
            listed: dataset.items.count, restart: restart)
        events.opened(progress)
        func open(keeping: Int?) throws -> FeatureOutput {
            try FeatureOutput(
                path: output, rowShape: extractor.rowShape(flatten: flatten), expectedRows: dataset.items.count,
                outputs: outputs.count > 1 ? outputs : [], work: progress.folder, keeping: keeping)
        }
        var kept = progress.kept
        var sink: FeatureOutput
        do {
            sink = try open(keeping: kept?.rows)
        } catch OutputError.missingSpool {
            events.note("the rows an earlier run kept in \(progress.folder) are gone; starting from the first image")
            progress.startOver()
            kept = nil
            sink = try open(keeping: nil)
        } catch {
            _ = progress.leave()
            throw error
        }
        do {
            // decode_predictions of each written row, the kept ones read back from the spool.
            var tops: [(name: String, top: [Prediction])] = []
            var resumed = ExtractionSummary()
            if let kept {
                let skipped = Dictionary(uniqueKeysWithValues: kept.skipped.map { ($0.index, $0.reason) })
                for (i, item) in dataset.items[0..<kept.done].enumerated() {
                    if let reason = skipped[i] {
                        resumed.skipped.append((item.name, reason, i))
                        continue
                    }
                    if let decoded {
                        let row = try sink.writtenRow(resumed.names.count)
                        tops.append((item.name, Predictions.top(row, k: topK, classes: decoded)))
                    }
                    resumed.names.append(item.name)
                    if let label = item.label { resumed.labels.append(label) }
                }
                resumed.seconds = kept.seconds
                events.note(
                    "resuming: \(kept.done) of \(dataset.items.count) images were done by an earlier run (kept in \(progress.folder)); --restart starts over"
                )
            }
            let summary = try Extraction.run(
                dataset.items, extractor: extractor, output: sink, load: { try pipeline.load($0) },
                batchSize: batchSize, threads: threads, strict: strict, progress: events.progress,
                warn: events.note,
                written: { name, probabilities in
                    if let decoded { tops.append((name, Predictions.top(probabilities, k: topK, classes: decoded))) }
                }, from: kept?.done ?? 0, kept: resumed,
                checkpoint: { done, summary in
                    try sink.synchronize()
                    var state = progress.state
                    state.done = done
                    state.rows = summary.names.count
                    state.skipped = summary.skipped.map { RunProgress.State.Skip(index: $0.index, reason: $0.reason) }
                    state.seconds = summary.seconds
                    try progress.save(state)
                })
            if summary.names.isEmpty {
                throw ExtractionError.failedImage(
                    "none of the \(dataset.items.count) images could be read; nothing was written")
            }
            let finalRecord = record(summary)
            try sink.finish(
                names: summary.names, labels: dataset.classNames.isEmpty ? nil : summary.labels,
                classNames: dataset.classNames, record: try finalRecord.json(),
                predictions: decoded == nil
                    ? nil
                    : Predictions.csv(names: tops.map(\.name), tops: tops.map(\.top), imageNet: ownClasses == nil))
            progress.finished()
            return ExtractionResult(record: finalRecord, summary: summary, rowShape: sink.rowShape, predictions: tops)
        } catch {
            if let line = progress.leave() { events.note(line) }
            throw error
        }
    }

    /// The extractor for `loaded`: a whole saved model gives its own output (pooled only when
    /// `--pooling` asks), a backbone its pooled features.
    func plan(_ loaded: LoadedModel, note: (String) -> Void) throws -> FeatureExtractor {
        guard let whole = loaded.source.whole else {
            return try FeatureExtractor(
                loaded, pooling: resolvedPooling, layer: layer, preprocess: preprocess, options: plan)
        }
        if whole.backbone == nil, preprocess == nil {
            note(
                "warning: the saved model holds no keras.applications backbone and Keras saves no preprocessing, so pixels go in as 0-255 values (--preprocess none); pass --preprocess if your training code scaled them"
            )
        }
        return try FeatureExtractor(
            loaded, pooling: pooling ?? .none, layer: layer, preprocess: preprocess, options: plan)
    }

    /// `--class-names` names the values of one output, a vector of as many values.
    func checkClassNames(_ names: [String], _ extractor: FeatureExtractor) throws {
        let file = classNames ?? ""
        guard extractor.source.whole != nil else {
            throw ExtractionError.classNames(
                file: file,
                problem:
                    "names the classes of your saved model's output, and this run gives \(extractor.includeTop ? "the ImageNet classifier's probabilities (named already)" : "a backbone's features")"
            )
        }
        let outputs = extractor.outputs
        guard outputs.count == 1, let shape = outputs.first?.shape, shape.count == 1, shape[0] == names.count else {
            let what = outputs.map { "\($0.name) \($0.shape.map(String.init).joined(separator: "×"))" }
            throw ExtractionError.classNames(
                file: file,
                problem:
                    "lists \(names.count) classes, and the model gives \(what.joined(separator: " and ")) values per image; name the classes of one output of that many (--layer NAME picks one)"
            )
        }
    }

    /// What will be run, said before the first image: the model and its output, the decided
    /// settings with their sources, and what will not be read.
    func header(_ extractor: FeatureExtractor, _ dataset: Dataset) -> [String] {
        let source = extractor.source
        var what =
            extractor.includeTop
            ? "\(extractor.width) class probabilities per image"
            : "\(layer.map { "layer \($0), " } ?? "")pooling \(extractor.pooling.rawValue), \(extractor.width) features per image"
        var model =
            source.decision.nestedIn.map { "\(extractor.entry.model) '\($0)' from your saved model" }
            ?? ModelSelection.describe(extractor.entry)
        if let whole = source.whole {
            model =
                "your saved model '\(whole.name)' whole"
                + (whole.backbone.map { " (\(extractor.entry.model) '\($0)' inside)" } ?? "")
            what =
                "\(layer.map { "layer \($0)" } ?? "output \(whole.outputNames.joined(separator: ", "))")\(extractor.pooling == .none ? "" : ", pooling \(extractor.pooling.rawValue)"), \(extractor.width) values per image, preprocessing \(extractor.preprocess.rawValue)"
        }
        var lines = [
            "\(model) at \(extractor.inputSize), \(what); \(dataset.items.count) images"
                + (dataset.classNames.isEmpty ? "" : " in \(dataset.classNames.count) classes"),
            "decided: "
                + source.decision.decidedLine(
                    weights: self.model.weightsPath ?? source.weightsPath, integrity: source.integrity),
        ]
        if image.fastDecode {
            lines.append(
                "--fast-decode: JPEGs are decoded at reduced scale, so these are not the pixels (nor exactly the features) Keras gives"
            )
        }
        if !dataset.ignored.isEmpty {
            lines.append(
                "not read: \(dataset.ignored.count) files (\(dataset.ignored.prefix(3).map(\.path).joined(separator: ", "))\(dataset.ignored.count > 3 ? ", …" : "")); see the run record"
            )
        }
        return lines
    }
}

/// A finished job: the record written beside the features, and what the caller may print.
public struct ExtractionResult: Sendable {
    public let record: RunRecord
    public let summary: ExtractionSummary
    public let rowShape: [Int]
    /// With the classifier: each written image's top classes, in row order.
    public let predictions: [(name: String, top: [Prediction])]
}

extension ModelDecision {
    /// `weights mobilenet_1_0_224_tf_no_top.h5 = MobileNet 1.0 224 (file name) · alpha 1.0 (file
    /// shapes) · input 224×224 (file name) · no published hash: checked by structure only`
    public func decidedLine(weights: String, integrity: String) -> String {
        let file = URL(fileURLWithPath: weights).lastPathComponent
        var parts = ["weights \(file) = \(entry.id) (\(entrySource.rawValue))"]
        if let nestedIn { parts.append("backbone '\(nestedIn)' inside the saved model") }
        parts += settings.map { "\($0.name) \($0.value) (\($0.source.rawValue))" }
        parts.append(integrity)
        return parts.joined(separator: " · ")
    }
}
