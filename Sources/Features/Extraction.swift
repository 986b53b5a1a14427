// The main job: a list of images -> one features row each, in the list's order. Images are
// decoded, resized and preprocessed in batches on `threads` threads while the previous batch
// runs through the model, so decoding hides behind inference. An image that cannot be read is
// skipped with a warning (or ends the run with `strict`); the output keeps the input order.

import Dispatch
import FeatureFiles
import Foundation
import WeightLoader

public struct ExtractionSummary: Sendable {
    /// Row i's image name and label.
    public var names: [String] = []
    public var labels: [Int] = []
    /// Each skipped image, its reason, and its position in the list.
    public var skipped: [(path: String, reason: String, index: Int)] = []
    public var seconds: Double = 0
    public init() {}

    public var imagesPerSecond: Double { seconds > 0 ? Double(names.count) / seconds : 0 }
}

public enum Extraction {
    /// Runs `items` through `extractor`, appending rows to `output` (not finished here).
    /// `load` turns a path into the model's preprocessed input; `warn` gets one line per skip;
    /// `written` sees each written row with its image name; `progress` (done, total) each image.
    /// A resumed run starts at item `first` with what the earlier run's rows made (`kept`, its
    /// seconds included); `checkpoint` (done, summary so far) follows each batch.
    public static func run(
        _ items: [Dataset.Item], extractor: FeatureExtractor, output: FeatureSink,
        load: @escaping @Sendable (String) throws -> [Float], batchSize: Int = 32, threads: Int = 1,
        strict: Bool = false, progress: ((_ done: Int, _ total: Int) -> Void)? = nil, warn: (String) -> Void = { _ in },
        written: (String, [Float]) -> Void = { _, _ in }, from first: Int = 0, kept: ExtractionSummary = .init(),
        checkpoint: ((_ done: Int, _ summary: ExtractionSummary) throws -> Void)? = nil
    ) throws -> ExtractionSummary {
        let start = ContinuousClock.now
        var summary = kept
        func elapsed() -> Double { kept.seconds + (ContinuousClock.now - start) / .seconds(1) }
        // At least one image per thread is decoded ahead, so every core has an image to run.
        let perBatch = max(1, batchSize, threads)
        let batches = stride(from: first, to: items.count, by: perBatch).map {
            $0..<min($0 + perBatch, items.count)
        }
        let paths = items.map(\.path)
        var next = batches.first.map { Prefetch(paths: paths, range: $0, threads: threads, load: load) }
        var done = first
        for (k, range) in batches.enumerated() {
            guard let current = next else { break }
            let inputs = current.wait()
            next =
                k + 1 < batches.count
                ? Prefetch(paths: paths, range: batches[k + 1], threads: threads, load: load) : nil
            // Images run `threads` at a time (one per core, each on its own workspace), in
            // chunks small enough for the progress bar to move and large enough to keep the
            // threads busy; rows are appended in input order.
            let chunk = max(1, threads) * 4
            for start in stride(from: 0, to: inputs.count, by: chunk) {
                let part = start..<min(start + chunk, inputs.count)
                let good = part.compactMap { try? inputs[$0].get() }
                let rows =
                    good.isEmpty
                    ? [] : try extractor.features(good.flatMap { $0 }, threads: threads)
                var row = 0
                for offset in part {
                    let item = items[range.lowerBound + offset]
                    switch inputs[offset] {
                    case .success:
                        let features = Array(rows[row * extractor.width..<(row + 1) * extractor.width])
                        try output.append(features)
                        written(item.name, features)
                        row += 1
                        summary.names.append(item.name)
                        if let label = item.label { summary.labels.append(label) }
                    case .failure(let error):
                        let reason = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
                        if strict {
                            throw ExtractionError.failedImage(
                                "\(reason) (--strict stops at the first unreadable image)")
                        }
                        summary.skipped.append((item.name, reason, range.lowerBound + offset))
                        warn("skipped \(reason)")
                    }
                    done += 1
                    progress?(done, items.count)
                }
            }
            if let checkpoint {
                summary.seconds = elapsed()
                try checkpoint(done, summary)
            }
        }
        summary.seconds = elapsed()
        return summary
    }
}

/// One batch being decoded in the background; `wait` returns its inputs in order.
final class Prefetch: @unchecked Sendable {
    private var results: [Result<[Float], Error>]
    private let group = DispatchGroup()

    init(paths: [String], range: Range<Int>, threads: Int, load: @escaping @Sendable (String) throws -> [Float]) {
        results = Array(repeating: .failure(CancellationError()), count: range.count)
        let workers = max(1, min(threads, range.count))
        group.enter()
        DispatchQueue.global().async { [self] in
            // Worker w takes images w, w + workers, ...: each slot is written by one thread.
            results.withUnsafeMutableBufferPointer { slots in
                nonisolated(unsafe) let base = slots.baseAddress!
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    for i in stride(from: w, to: range.count, by: workers) {
                        base[i] = Result { try load(paths[range.lowerBound + i]) }
                    }
                }
            }
            group.leave()
        }
    }

    func wait() -> [Result<[Float], Error>] {
        group.wait()
        return results
    }
}
