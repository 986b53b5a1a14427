import ArgumentParser
import FeatureFiles
import Features
import Foundation
import Heads

/// `extract predict --head head.json feats.npy -o preds.csv`: a fitted head on new features.
struct Predict: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify the rows of a features file with a head from `extract fit`.",
        discussion: """
            Writes one CSV line per row: row, path, the predicted class and its probability \
            (logreg) or decision value (svm), then the next classes by score up to --top. The \
            features must come from the same model, weights, input, preprocessing and pooling \
            as those the head was fitted on (their run records are compared); with labels, the \
            accuracy is printed.

            Example:
              extract --model mobilenet new/ -o new.npy
              extract predict --head head.json new.npy -o preds.csv
            """
    )

    @Option(help: ArgumentHelp("The head `extract fit` wrote.", valueName: "head.json"))
    var head: String

    @Argument(help: ArgumentHelp("A features file written by extract (.npy, .npz or .h5).", valueName: "features"))
    var features: String

    @Option(
        name: [.short, .customLong("output")],
        help: ArgumentHelp("Where to write the predictions.", valueName: "preds.csv"))
    var output: String

    @Option(help: "Classes per row, most likely first (default: up to 5).")
    var top: Int?

    func validate() throws {
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        do { _ = try OutputFormat(path: features) } catch { throw ValidationError(String(describing: error)) }
    }

    func run() async throws {
        do {
            let headFile = try HeadFile.read(head)
            let file = try FeatureFile.read(features)
            let record = try? RunRecord.read(RunRecord.path(forOutput: features))
            try HeadCheck.features(headFile, head: head, width: file.rowWidth, record: record, path: features)
            let rows = Rows(file)
            let csv = PredictionTable.csv(
                headFile, scores: headFile.head.scores(rows), paths: file.paths, count: rows.count, top: top)
            try Atomic.write(Data(csv.utf8), to: output)
            var summary = "wrote \(output): \(rows.count) rows classified into \(headFile.classes.count) classes"
            if let labels = file.labels, file.classNames == headFile.classes {
                let predicted = headFile.head.predict(rows)
                let right = zip(labels, predicted).filter { $0 == $1 }.count
                summary += String(
                    format: "; accuracy %.4f on the file's labels", Double(right) / Double(max(labels.count, 1)))
            }
            note(summary)
        } catch {
            throw fail(error)
        }
    }
}

/// The features a head is applied to are the kind it was fitted on.
enum HeadCheck {
    static func features(_ headFile: HeadFile, head: String, width: Int, record: RunRecord?, path: String) throws {
        guard width == headFile.fittedOn.width else {
            throw HeadError.data(
                "\(path) has \(width) features per row and \(head) was fitted on \(headFile.fittedOn.width); use features of the same model and pooling"
            )
        }
        guard let text = headFile.fittedOn.runRecord, let fitted = try? RunRecord(json: Data(text.utf8)),
            let record
        else { return }
        var differences: [String] = []
        func compare(_ what: String, _ a: String?, _ b: String?) {
            if a != b { differences.append("\(what) \(b ?? "none") (fitted on \(a ?? "none"))") }
        }
        compare("model", fitted.model.manifestEntry, record.model.manifestEntry)
        compare("weights", fitted.model.weightsHash, record.model.weightsHash)
        compare(
            "input", fitted.input.size.map(String.init).joined(separator: "×"),
            record.input.size.map(String.init).joined(separator: "×"))
        compare("preprocessing", fitted.input.preprocessing, record.input.preprocessing)
        compare("pooling", fitted.pooling, record.pooling)
        compare("layer", fitted.layer, record.layer)
        if !differences.isEmpty {
            throw HeadError.data(
                "\(path) is not the kind of features \(head) was fitted on: \(differences.joined(separator: ", ")); extract them as the training features were"
            )
        }
    }
}

/// preds.csv: `row,path,class,probability` (or `score` for an SVM), then `class_2,probability_2`
/// ... up to top-k; scores with 9 significant digits.
enum PredictionTable {
    static func csv(_ headFile: HeadFile, scores: [Double], paths: [String], count: Int, top: Int?) -> String {
        let k = headFile.classes.count
        let shown = min(top ?? 5, k)
        let scoreName = headFile.classifier == .logreg ? "probability" : "score"
        var header = ["row", "path", "class", scoreName]
        for r in stride(from: 2, through: shown, by: 1) { header += ["class_\(r)", "\(scoreName)_\(r)"] }
        var out = header.joined(separator: ",") + "\n"
        for i in 0..<count {
            let s = Array(scores[(i * k)..<((i + 1) * k)])
            // Highest first; on a tie the lower class index first (argmax picks it).
            let order = s.indices.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }
            var fields = [String(i), Predictions.csvField(i < paths.count ? paths[i] : "")]
            for c in order.prefix(shown) {
                fields += [Predictions.csvField(headFile.classes[c]), String(format: "%.9g", s[c])]
            }
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }
}
