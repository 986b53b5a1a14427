import ArgumentParser
import FeatureFiles
import Features
import Foundation
import Heads

/// `extract classify --head head.json imgs/ -o preds.csv`: new images through the extraction the
/// head was fitted on, then the head.
struct Classify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify new images with a head from `extract fit`: no other option needed.",
        discussion: """
            The head records the extraction its training features came from (weights file and \
            its hash, input size, image reading, preprocessing, layer, pooling); the images are \
            read and run exactly so, then classified. Writes the same CSV as `extract predict` \
            (row, path, class, probability or score, then the next classes up to --top). Images \
            in class sub-folders named as the head's classes are scored: the accuracy is printed.

            Example:
              extract --model mobilenet train/ -o feats.npy
              extract fit feats.npy -o head.json
              extract classify --head head.json new_photos/ -o preds.csv
            """
    )

    @Option(help: ArgumentHelp("The head `extract fit` wrote.", valueName: "head.json"))
    var head: String

    @Argument(
        help: ArgumentHelp(
            "A folder of images (class sub-folders are scored), a table, a list file, or image files.",
            valueName: "input"))
    var inputs: [String] = []

    @Option(
        name: [.short, .customLong("output")],
        help: ArgumentHelp("Where to write the predictions.", valueName: "preds.csv"))
    var output: String

    @Option(help: "Classes per image, most likely first (default: up to 5).")
    var top: Int?

    @Option(help: "Threads decoding images and running the model (default: the CPU count).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "No progress display and no warnings; errors are still printed.")
    var quiet = false

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give a folder of images, a list file or image files") }
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() async throws {
        do {
            try await classify()
        } catch {
            throw fail(error)
        }
    }

    func classify() async throws {
        let headFile = try HeadFile.read(head)
        guard let text = headFile.fittedOn.runRecord else {
            throw HeadError.headFile(
                head,
                "was fitted on \(headFile.fittedOn.path), which has no run record beside it, so how its features were made is unknown; extract the new images yourself and use `extract predict`"
            )
        }
        let fitted = try RunRecord(json: Data(text.utf8))
        let (file, record) = try await Scratch.extract(like: fitted, inputs: inputs, threads: threads, quiet: quiet)
        try HeadCheck.features(
            headFile, head: head, width: file.rowWidth, record: record, path: inputs.joined(separator: " "))
        let rows = Rows(file)
        let csv = PredictionTable.csv(
            headFile, scores: headFile.head.scores(rows), paths: file.paths, count: rows.count, top: top)
        try Atomic.write(Data(csv.utf8), to: output)
        if !quiet {
            var summary = "wrote \(output): \(rows.count) images classified into \(headFile.classes.count) classes"
            if let labels = file.labels {
                // Class folders named as the head's classes: score them.
                let predicted = headFile.head.predict(rows)
                let known = labels.indices.filter { headFile.classes.contains(file.classNames[labels[$0]]) }
                let right = known.filter { headFile.classes[predicted[$0]] == file.classNames[labels[$0]] }.count
                if !known.isEmpty {
                    summary += String(
                        format: "; accuracy %.4f on the %d images in class folders",
                        Double(right) / Double(known.count), known.count)
                }
            }
            note(summary)
        }
    }
}

/// New images through the extraction a run record describes, into a scratch folder that is gone
/// afterwards; the features and their record read back as any features file.
enum Scratch {
    static func extract(
        like record: RunRecord, inputs: [String], threads: Int, quiet: Bool
    ) async throws -> (FeatureFile, RunRecord) {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("extract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let features = scratch.appendingPathComponent("features.npy").path
        let job = try ExtractionJob(repeating: record, inputs: inputs, output: features, threads: threads)
        _ = try await job.run(Terminal.events(quiet: quiet, protect: { _ in }))
        return (try FeatureFile.read(features), try RunRecord.read(RunRecord.path(forOutput: features)))
    }
}
