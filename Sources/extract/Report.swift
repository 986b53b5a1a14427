import ArgumentParser
import FeatureFiles
import Features
import Foundation
import Heads
import Reports

/// `extract report feats.npy --head head.json -o report.html`.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one HTML page to look at a features file and the head fitted on it.",
        discussion: """
            The page holds the images on their first two principal components (as \
            scikit-learn's PCA(2)), coloured by class, each point naming its image; with \
            --head, the head's cross-validated confusion matrix as a heat map with per-class \
            recall, and thumbnails of the images it gets most confidently wrong. One \
            self-contained file (inline SVG, images as data URIs): it opens offline.

            Example:
              extract report feats.npy --head head.json -o report.html
            """
    )

    @Argument(help: ArgumentHelp("A features file written by extract (.npy, .npz or .h5).", valueName: "features"))
    var features: String

    @Option(help: ArgumentHelp("A head from `extract fit` on these features.", valueName: "head.json"))
    var head: String?

    @Option(
        name: [.short, .customLong("output")], help: ArgumentHelp("Where to write the page.", valueName: "report.html"))
    var output: String

    @Option(help: "How many misclassified images to show.")
    var misclassified: Int = 12

    func validate() throws {
        if misclassified < 0 { throw ValidationError("--misclassified must be 0 or more") }
    }

    func run() async throws {
        do {
            let file = try FeatureFile.read(features)
            let record = try? RunRecord.read(RunRecord.path(forOutput: features))
            let headFile = try head.map(HeadFile.read)
            if let headFile, headFile.fittedOn.width != file.rowWidth {
                throw HeadError.data(
                    "\(head ?? "") was fitted on \(headFile.fittedOn.width) features per row and \(features) has \(file.rowWidth)"
                )
            }
            // Row paths are relative to the one folder or table the extraction read.
            let root = record.flatMap { r in
                r.inputRoots.count == 1
                    ? (Dataset.isTableName(r.inputRoots[0])
                        ? (r.inputRoots[0] as NSString).deletingLastPathComponent : r.inputRoots[0])
                    : nil
            }
            let page = try ReportPage.html(
                ReportInput(
                    title: "extract report: \((features as NSString).lastPathComponent)", features: file,
                    head: headFile,
                    imageRoot: root, model: record.map { "\($0.model.name), pooling \($0.pooling)" }),
                misclassified: misclassified)
            try Atomic.write(page, to: output)
            note("wrote \(output)")
        } catch {
            throw fail(error)
        }
    }
}
