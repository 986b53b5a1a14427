import ArgumentParser
import FeatureFiles
import Features
import Foundation
import Heads

extension Metric: ExpressibleByArgument {}

/// How `neighbors` searches: every row, or faiss' inverted-file index.
enum SearchIndex: String, ExpressibleByArgument, CaseIterable {
    case exact, ivf
}

/// `extract neighbors feats.npy --query photo.jpg -k 10`: the most similar images.
struct NeighborsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neighbors",
        abstract: "Find the images most similar to others, by their features.",
        discussion: """
            Exact search, every query against every row (one matrix product per block of \
            queries), as scikit-learn's NearestNeighbors(algorithm="brute"): cosine distance \
            (1 - cosine similarity, the default) or Euclidean (--metric l2). Queries: images \
            (--query, run through the extraction the features file's run record describes), \
            rows of another features file (--query-feats), or by default every row of the \
            file against the others. Writes one CSV line per neighbour: query, rank, row, path, \
            distance.

            For large sets, --index ivf searches approximately through faiss' inverted-file \
            index (IndexIVFFlat): the rows are clustered by k-means into --nlist lists (default \
            4·sqrt(N), at most N/39) and each query scans only its --nprobe nearest lists \
            (default nlist/16, at least 8). Faster on hundreds of thousands of rows; it may \
            miss a true neighbour (more --nprobe, fewer misses; --nprobe equal to --nlist is \
            exact).

            Examples:
              extract neighbors feats.npy --query new.jpg -k 5 -o similar.csv
              extract neighbors feats.npy -k 1 -o nearest.csv
              extract neighbors big.npy --query-feats q.npy --index ivf --nprobe 32 -o near.csv
            """
    )

    @Argument(
        help: ArgumentHelp("The features searched (.npy, .npz or .h5 written by extract).", valueName: "features"))
    var features: String

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Query images (or folders, list files).", valueName: "image"))
    var query: [String] = []

    @Option(help: ArgumentHelp("Query rows from another features file of the same model.", valueName: "file"))
    var queryFeats: String?

    @Option(name: .short, help: "Neighbours per query.")
    var k: Int = 10

    @Option(help: "cosine (default) or l2.")
    var metric: Metric = .cosine

    @Option(help: "exact (default: every row) or ivf (faiss' approximate inverted-file index).")
    var index: SearchIndex = .exact

    @Option(help: ArgumentHelp("--index ivf: k-means lists (default 4·sqrt(rows), at most rows/39).", valueName: "n"))
    var nlist: Int?

    @Option(help: ArgumentHelp("--index ivf: lists each query scans (default nlist/16, at least 8).", valueName: "n"))
    var nprobe: Int?

    @Option(
        name: [.short, .customLong("output")], help: ArgumentHelp("Where to write the CSV.", valueName: "neighbors.csv")
    )
    var output: String

    @Option(help: "Threads for --query images and --index ivf (default: the CPU count).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "No progress display.")
    var quiet = false

    func validate() throws {
        if k < 1 { throw ValidationError("-k must be at least 1") }
        if !query.isEmpty && queryFeats != nil { throw ValidationError("give --query or --query-feats, not both") }
        if index == .exact && (nlist != nil || nprobe != nil) {
            throw ValidationError("--nlist and --nprobe set up --index ivf; add --index ivf or leave them out")
        }
        if let nlist, nlist < 1 { throw ValidationError("--nlist must be at least 1") }
        if let nprobe, nprobe < 1 { throw ValidationError("--nprobe must be at least 1") }
    }

    func run() async throws {
        do {
            try await search()
        } catch {
            throw fail(error)
        }
    }

    func search() async throws {
        let file = try FeatureFile.read(features)
        let record = try? RunRecord.read(RunRecord.path(forOutput: features))
        var queries: FeatureFile?
        if !query.isEmpty {
            guard let record else {
                throw HeadError.data(
                    "\(features) has no run record beside it, so how to read --query images is unknown; extract them yourself and use --query-feats"
                )
            }
            queries = try await Scratch.extract(like: record, inputs: query, threads: threads, quiet: quiet).0
        } else if let queryFeats {
            queries = try FeatureFile.read(queryFeats)
        }
        let q = queries ?? file
        guard q.rowWidth == file.rowWidth else {
            throw HeadError.data(
                "the queries have \(q.rowWidth) features per row and \(features) has \(file.rowWidth); use features of the same model and pooling"
            )
        }
        let ivf = Heads.Neighbors.IVF(lists: nlist, probes: nprobe, threads: threads)
        let found =
            index == .ivf
            ? try Heads.Neighbors.searchIVF(
                queries: q.features, rows: file.features, width: file.rowWidth, k: k, metric: metric,
                excludeSelf: queries == nil, ivf: ivf)
            : Heads.Neighbors.search(
                queries: q.features, rows: file.features, width: file.rowWidth, k: k, metric: metric,
                excludeSelf: queries == nil)
        func name(_ f: FeatureFile, _ i: Int) -> String { i < f.paths.count ? f.paths[i] : "row \(i)" }
        var csv = "query,rank,row,path,distance\n"
        for (i, list) in found.enumerated() {
            for (r, n) in list.enumerated() {
                csv +=
                    "\(Predictions.csvField(name(q, i))),\(r + 1),\(n.index),\(Predictions.csvField(name(file, n.index))),"
                    + String(format: "%.9g", n.distance) + "\n"
            }
        }
        try Atomic.write(csv, to: output)
        if !quiet {
            let how: String
            if index == .ivf {
                let (lists, probes) = ivf.resolved(rows: file.count)
                how = ", faiss IVF: \(probes) of \(lists) lists scanned"
            } else {
                how = ""
            }
            note(
                "wrote \(output): \(k) nearest of \(file.count) rows (\(metric.rawValue)\(how)) for \(q.count) queries")
        }
    }
}

/// `extract duplicates feats.npy --threshold 0.95`: groups of near-identical images.
struct Duplicates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List groups of near-duplicate images: rows whose features' cosine similarity reaches a threshold.",
        discussion: """
            Every pair is compared exactly; pairs at or above --threshold are joined into \
            groups (a chain of near-duplicates is one group). Prints each group; -o writes \
            group, row, path as CSV.
            """
    )

    @Argument(help: ArgumentHelp("The features (.npy, .npz or .h5 written by extract).", valueName: "features"))
    var features: String

    @Option(help: "Cosine similarity at or above which two images are near-duplicates.")
    var threshold: Float = 0.95

    @Option(
        name: [.short, .customLong("output")],
        help: ArgumentHelp("Also write the groups as CSV.", valueName: "groups.csv"))
    var output: String?

    func validate() throws {
        if !(threshold > -1 && threshold <= 1) {
            throw ValidationError("--threshold is a cosine similarity in (-1, 1]")
        }
    }

    func run() async throws {
        do {
            let file = try FeatureFile.read(features)
            let groups = Heads.Neighbors.duplicateGroups(
                rows: file.features, width: file.rowWidth, threshold: threshold)
            func name(_ i: Int) -> String { i < file.paths.count ? file.paths[i] : "row \(i)" }
            for (g, rows) in groups.enumerated() {
                print("group \(g + 1): " + rows.map(name).joined(separator: ", "))
            }
            if let output {
                var csv = "group,row,path\n"
                for (g, rows) in groups.enumerated() {
                    for r in rows { csv += "\(g + 1),\(r),\(Predictions.csvField(name(r)))\n" }
                }
                try Atomic.write(csv, to: output)
            }
            note(
                "\(groups.count) groups of near-duplicates (\(groups.reduce(0) { $0 + $1.count }) of \(file.count) images) at cosine ≥ \(threshold)"
            )
        } catch {
            throw fail(error)
        }
    }
}
