import ArgumentParser
import Foundation
import WeightLoader

struct Fetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a model's published weights in the Keras cache, verified by hash.",
        discussion: """
            Looks in $KERAS_HOME/models/ (default ~/.keras/models/) under the file name Keras \
            uses, checks the md5/sha256 Keras' sources give, and downloads from the published URL \
            when the file is missing or stale. A download goes to a temporary file that is \
            renamed only once its hash matches: an interrupted or corrupt download leaves nothing.

            Examples:
              extract fetch --model resnet50
              extract fetch --model mobilenetv2 --alpha 0.35 --rows 96 --no-download
            """
    )

    @OptionGroup var selection: ModelOptions

    @Flag(help: "Only check the cache; never download.")
    var noDownload = false

    func validate() throws {
        if selection.model == nil { throw ValidationError("fetch needs --model NAME (see `extract models`)") }
    }

    func run() async throws {
        do {
            guard let entry = try selection.entry() else { return }
            let bar = ProgressBar(title: entry.file)
            let found = try await WeightStore().locate(entry, download: !noDownload, progress: bar.handler())
            let hash =
                found.digest.map { "\(found.entry.hashAlgorithm ?? "hash") \($0) verified" }
                ?? "no published hash to verify"
            print("\(found.url.path) (\(ModelSelection.describe(found.entry)), \(hash))")
        } catch {
            throw fail(error)
        }
    }
}
