// `extract merge`: the shards of one sharded run joined in index order into the files one run
// writes (the same features, labels, classes and index, byte for byte), after checking that
// they are all there, once each, and made the same way.

import FeatureFiles
import Foundation

public enum ShardMerge {
    /// Joins the shard files `paths` (any order) into `output`; returns the merged run record.
    public static func merge(_ paths: [String], output: String, command: [String]) throws -> RunRecord {
        guard !paths.isEmpty else { throw ShardError.merge("no shard files given") }
        try OutputFormat.checkDestination(output)
        var parts: [(path: String, record: RunRecord, part: RunRecord.ShardPart)] = []
        for path in paths {
            let record = try RunRecord.read(RunRecord.path(forOutput: path))
            guard let part = record.shard else {
                throw ShardError.merge(
                    "\(path) is not a shard (its run record has no shard); merge the NAME.shard-i-of-n files")
            }
            parts.append((path, record, part))
        }
        let count = parts[0].part.count
        if let other = parts.first(where: { $0.part.count != count }) {
            throw ShardError.merge(
                "\(parts[0].path) is one of \(count) shards and \(other.path) one of \(other.part.count)")
        }
        let byIndex = Dictionary(grouping: parts, by: \.part.index)
        if let doubled = byIndex.values.first(where: { $0.count > 1 }) {
            throw ShardError.merge(
                "shard \(doubled[0].part.index)/\(count) is given twice: \(doubled.map(\.path).joined(separator: ", "))"
            )
        }
        let missing = (0..<count).filter { byIndex[$0] == nil }
        if !missing.isEmpty {
            throw ShardError.merge(
                "shard\(missing.count > 1 ? "s" : "") \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")) missing; run \(missing.count > 1 ? "them" : "it") and merge again"
            )
        }
        let ordered = (0..<count).map { byIndex[$0]![0] }
        let first = ordered[0]
        for p in ordered.dropFirst() {
            if let difference = differences(first.record, p.record) {
                throw ShardError.merge("\(p.path) was made differently from \(first.path): \(difference)")
            }
        }

        let files = try ordered.map { try FeatureFile.read($0.path) }
        let rowShape = files[0].rowShape
        let sink = try FeatureOutput(path: output, rowShape: rowShape, expectedRows: first.part.listedInAll)
        do {
            var names: [String] = []
            var labels: [Int] = []
            for file in files {
                for i in 0..<file.count { try sink.append(Array(file.row(i))) }
                names += file.paths
                labels += file.labels ?? []
            }
            var record = first.record
            record.shard = nil
            record.created = ISO8601DateFormatter().string(from: Date())
            record.command = command
            record.output = output
            record.counts = RunRecord.Counts(
                listed: first.part.listedInAll, written: names.count,
                skipped: ordered.reduce(0) { $0 + $1.record.counts.skipped }, notRead: first.record.counts.notRead)
            record.skipped = ordered.flatMap(\.record.skipped)
            record.seconds = ordered.reduce(0) { $0 + $1.record.seconds }
            record.imagesPerSecond =
                record.seconds > 0 ? (Double(names.count) / record.seconds * 10).rounded() / 10 : 0
            let classNames = files[0].classNames
            try sink.finish(
                names: names, labels: classNames.isEmpty ? nil : labels, classNames: classNames,
                record: try record.json(), predictions: nil)
            return record
        } catch {
            sink.discard()
            throw error
        }
    }

    /// What makes two shards' rows different kinds of features, if anything.
    static func differences(_ a: RunRecord, _ b: RunRecord) -> String? {
        func check<T: Equatable>(_ what: String, _ x: T, _ y: T) -> String? { x == y ? nil : "\(what) \(y) (not \(x))" }
        return check("model", a.model.manifestEntry, b.model.manifestEntry)
            ?? check("weights hash", a.model.weightsHash ?? "none", b.model.weightsHash ?? "none")
            ?? check("input", "\(a.input)", "\(b.input)")
            ?? check("layer", a.layer ?? "none", b.layer ?? "none")
            ?? check("pooling", a.pooling, b.pooling)
            ?? check("flattening", a.flattened, b.flattened)
            ?? check("classes", a.classes, b.classes)
            ?? check("images listed", a.shard?.listedInAll ?? 0, b.shard?.listedInAll ?? 0)
            ?? check("inputs", a.inputRoots, b.inputRoots)
    }
}
