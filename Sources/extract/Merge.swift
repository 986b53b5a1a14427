import ArgumentParser
import Features
import Foundation

/// `extract merge feats.shard-*-of-4.npy -o feats.npy`.
struct Merge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the shards of a sharded run into the files one run writes.",
        discussion: """
            Takes every NAME.shard-i-of-n file of one run (any order), checks that each shard is \
            there once and that all were made alike (model, weights hash, input, layer, \
            pooling, classes, inputs), and writes the rows in shard order: the same features, \
            labels, classes and index, byte for byte, as the run without shards, and a run \
            record with the counts of all. Per-shard predictions.csv files are not joined.

            Example (a Slurm array of 4 tasks, each running the same command):
              extract --model mobilenet imgs/ -o feats.npy      # writes feats.shard-K-of-4.npy
              extract merge feats.shard-*-of-4.npy -o feats.npy
            """
    )

    @Argument(help: ArgumentHelp("The shard files.", valueName: "shard"))
    var shards: [String] = []

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The merged features file.", valueName: "file"))
    var output: String

    func validate() throws {
        if shards.isEmpty { throw ValidationError("give the shard files, such as feats.shard-*-of-4.npy") }
    }

    func run() async throws {
        do {
            let record = try ShardMerge.merge(shards, output: output, command: CommandLine.arguments)
            note("wrote \(output): \(record.counts.written) rows from \(shards.count) shards")
        } catch {
            throw fail(error)
        }
    }
}
