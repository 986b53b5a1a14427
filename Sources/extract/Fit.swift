import ArgumentParser
import FeatureFiles
import Features
import Foundation
import Heads

/// `extract fit feats.npy -o head.json`: a classifier on the features, validated.
struct Fit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit a classifier on a features file: logistic regression or a linear SVM, cross-validated.",
        discussion: """
            Reads the features and labels an extraction of class folders wrote (feats.npy with \
            feats.labels.npy and feats.classes.txt beside it, or an .npz / .h5) and fits, with \
            scikit-learn's objective and defaults so the numbers compare one to one:
              logreg  LogisticRegression(C=1.0) (lbfgs; multinomial for 3+ classes), solved by \
            liblbfgs; probabilities
              svm     LinearSVC(C=1.0) (squared hinge, L2, one-vs-rest), solved by LIBLINEAR, \
            the library LinearSVC wraps; decision values

            Before the final fit on every row, the same settings are validated: stratified \
            K-fold cross-validation (--cv, default 5, as cross_val_score(cv=5); --cv 0 skips \
            it) or a stratified hold-out (--holdout 0.2). Prints the accuracy (mean ± std over \
            folds), per-class precision and recall and the confusion matrix; --json prints \
            them as one JSON object. --grid-C 0.01,0.1,1,10 picks C by cross-validated \
            accuracy (the first best, as GridSearchCV).

            The head file records the classifier, the scaler (--standardize, as \
            StandardScaler), the class names, the validation and the features' run record \
            (model, weights hash, input, preprocessing, pooling), so `extract predict` and \
            `extract classify` need nothing else.

            Examples:
              extract --model mobilenet train/ -o feats.npy
              extract fit feats.npy -o head.json
              extract fit feats.npy --classifier svm --standardize --grid-C 0.01,0.1,1,10 -o svm.json
            """
    )

    @Argument(help: ArgumentHelp("A features file written by extract (.npy, .npz or .h5).", valueName: "features"))
    var features: String

    @Option(
        name: [.short, .customLong("output")], help: ArgumentHelp("Where to write the head.", valueName: "head.json"))
    var output: String

    @Option(help: "logreg (LogisticRegression, the default) or svm (LinearSVC).")
    var classifier: ClassifierKind = .logreg

    @Option(name: .customLong("C"), help: "Inverse regularization strength, scikit-learn's C.")
    var c: Double = 1

    @Option(
        name: .customLong("grid-C"),
        help: ArgumentHelp("Values of C to cross-validate; the best is used (as GridSearchCV).", valueName: "c1,c2,...")
    )
    var gridC: String?

    @Option(
        help:
            "Stopping tolerance: logreg stops when every partial derivative of its mean objective is below it (scikit-learn's tol; default 1e-6, far tighter than scikit-learn's 1e-4: held-out probabilities within 1e-4 to 4e-3 of the optimum, as well or badly conditioned as the features are; 1e-7 is about as close as float32 products get); svm: LIBLINEAR's eps (default 1e-5; LinearSVC's 1e-4)."
    )
    var tol: Double?

    @Flag(help: "Scale each feature to zero mean and unit variance first (StandardScaler), kept in the head.")
    var standardize = false

    @Option(
        help: ArgumentHelp(
            "balanced: weigh classes by n / (K · count), as class_weight=\"balanced\".", valueName: "balanced"))
    var classWeight: String?

    @Option(help: "Folds of stratified cross-validation (0: none).")
    var cv: Int?

    @Option(
        help: ArgumentHelp(
            "Validate on this fraction of each class instead of cross-validation.", valueName: "fraction"))
    var holdout: Double?

    @Option(
        help: ArgumentHelp(
            "Labels to use instead of the features file's: an .npy of integers, one per row.", valueName: "labels.npy"))
    var labels: String?

    @Flag(help: "Print the validation as one JSON object (cv_accuracy, confusion_matrix, classes, ...).")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Also write the head as a Keras model, Input(D) -> Dense(K) (softmax for logreg, linear for svm; the scaler folded in): .keras for Keras 3, .h5 for tf-keras 2 and Keras 3.",
            valueName: "head.keras"))
    var exportKeras: String?

    func validate() throws {
        if c <= 0 { throw ValidationError("--C must be positive") }
        if let tol, !(tol > 0) { throw ValidationError("--tol must be positive") }
        if let cv, cv != 0, cv < 2 { throw ValidationError("--cv takes 2 folds or more (0: no cross-validation)") }
        if let holdout, !(holdout > 0 && holdout < 1) {
            throw ValidationError("--holdout takes a fraction between 0 and 1, such as 0.2")
        }
        if holdout != nil, cv != nil { throw ValidationError("--cv and --holdout are two ways to validate: give one") }
        if let classWeight, classWeight != "balanced" { throw ValidationError("--class-weight takes balanced") }
        if let gridC {
            if holdout != nil || cv == 0 {
                throw ValidationError("--grid-C picks C by cross-validation: drop --holdout / --cv 0")
            }
            _ = try parsedGrid(gridC)
        }
        do { _ = try OutputFormat(path: features) } catch { throw ValidationError(String(describing: error)) }
        if let exportKeras, KerasExport.Format(path: exportKeras) == nil {
            throw ValidationError("--export-keras writes a .keras (Keras 3) or .h5 (tf-keras 2 and Keras 3) file")
        }
    }

    func parsedGrid(_ text: String) throws -> [Double] {
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--grid-C takes positive numbers separated by commas, such as 0.01,0.1,1,10")
        }
        return values.map { $0! }
    }

    func run() async throws {
        do {
            try fit()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw fail(error)
        }
    }

    func fit() throws {
        let file = try FeatureFile.read(features)
        let (y, classNames) = try FitData.labels(file, features: features, override: labels)
        let x = Rows(file)
        var options = FitOptions(
            classifier: classifier, C: c, standardize: standardize, balanced: classWeight == "balanced", tolerance: tol)
        let folds = cv ?? 5
        var validation: Validation?
        if let grid = try gridC.map(parsedGrid) {
            var points: [Validation.GridPoint] = []
            var best: (c: Double, v: Validation)?
            for value in grid {
                options.C = value
                let v = try Validation.crossValidate(
                    x, labels: y, classes: classNames.count, folds: folds, options: options)
                points.append(.init(C: value, accuracy: v.accuracy))
                if best == nil || v.accuracy > best!.v.accuracy { best = (value, v) }
            }
            options.C = best!.c
            validation = best!.v
            validation?.grid = points
        } else if let holdout {
            validation = try Validation.holdout(
                x, labels: y, classes: classNames.count, fraction: holdout, options: options)
        } else if folds > 0 {
            validation = try Validation.crossValidate(
                x, labels: y, classes: classNames.count, folds: folds, options: options)
        }
        let head = try Classifier.fit(x, labels: y, classes: classNames.count, options: options)
        if !head.converged {
            note(
                "warning: L-BFGS stopped after \(head.iterations ?? 0) iterations before meeting its tolerance; try --standardize, or a smaller --C"
            )
        }
        let record = try? String(contentsOfFile: RunRecord.path(forOutput: features), encoding: .utf8)
        let headFile = HeadFile(
            options: options, classes: classNames, head: head, validation: validation,
            fittedOn: .init(path: absolute(features), rows: x.count, width: x.width, runRecord: record))
        try Atomic.write(try headFile.json(), to: output)
        if let exportKeras, let format = KerasExport.Format(path: exportKeras) {
            try KerasExport.write(head, width: x.width, to: exportKeras, format: format)
        }
        if json {
            print(try FitReport(headFile).json())
        } else {
            print(FitReport(headFile).text(output: output))
        }
    }

    func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

/// Labels and class names for fitting: the file's own, or `--labels`.
enum FitData {
    static func labels(_ file: FeatureFile, features: String, override: String?) throws -> ([Int], [String]) {
        var labels = file.labels
        var names = file.classNames
        if let override {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: override)) } catch {
                throw HeadError.data("cannot read --labels \(override): \((error as NSError).localizedDescription)")
            }
            let array = try Npy.read(data, name: override)
            guard array.shape == [file.count] else {
                throw HeadError.data(
                    "--labels \(override) has shape \(array.shape); the features have \(file.count) rows, so give (\(file.count),) integers"
                )
            }
            guard array.values.allSatisfy({ $0 >= 0 && $0 == $0.rounded() }) else {
                throw HeadError.data("--labels \(override) holds values that are not class numbers 0, 1, 2, ...")
            }
            labels = array.values.map { Int($0) }
            let k = (labels?.max() ?? 0) + 1
            if names.count != k { names = (0..<k).map(String.init) }
        }
        guard let labels else {
            throw HeadError.data(
                "\(features) has no labels (extract writes them for a folder of class sub-folders); give --labels labels.npy"
            )
        }
        let present = Set(labels)
        guard present.count >= 2 else {
            throw HeadError.data("\(features): every row has the same label; a classifier needs two classes or more")
        }
        return (labels, names)
    }
}

/// What `fit` prints: text for people, or one JSON object.
struct FitReport: Encodable {
    let classifier: String
    let C: Double
    let classes: [String]
    let rows: Int
    let features: Int
    let validation: String?
    let cvAccuracy: Double?
    let cvAccuracyStd: Double?
    let foldAccuracy: [Double]?
    let confusionMatrix: [[Int]]?
    let precision: [Double]?
    let recall: [Double]?
    let grid: [Validation.GridPoint]?
    let iterations: Int?

    enum CodingKeys: String, CodingKey {
        case classifier, C, classes, rows, features, validation, precision, recall, grid, iterations
        case cvAccuracy = "cv_accuracy", cvAccuracyStd = "cv_accuracy_std", foldAccuracy = "fold_accuracy"
        case confusionMatrix = "confusion_matrix"
    }

    init(_ head: HeadFile) {
        classifier = head.classifier.rawValue
        C = head.regularizationC
        classes = head.classes
        rows = head.fittedOn.rows
        features = head.fittedOn.width
        let v = head.validation
        validation = v?.method
        cvAccuracy = v?.accuracy
        cvAccuracyStd = v?.accuracyStd
        foldAccuracy = v?.foldAccuracy
        confusionMatrix = v?.scores.confusionMatrix
        precision = v?.scores.precision
        recall = v?.scores.recall
        grid = v?.grid
        iterations = head.head.iterations
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func text(output: String) -> String {
        var lines = [
            "fitted \(classifier == "logreg" ? "logistic regression" : "linear SVM") (C=\(C)) on \(rows) rows × \(features) features, \(classes.count) classes\(iterations.map { " (\($0) L-BFGS iterations)" } ?? "") -> \(output)"
        ]
        if let grid {
            lines.append(
                "C by cross-validated accuracy: "
                    + grid.map { String(format: "%g: %.4f", $0.regularizationC, $0.accuracy) }.joined(separator: ", "))
        }
        guard let validation, let cvAccuracy, let confusionMatrix, let precision, let recall else {
            lines.append("not validated (--cv 0)")
            return lines.joined(separator: "\n")
        }
        lines.append(String(format: "accuracy %.4f ± %.4f (%@)", cvAccuracy, cvAccuracyStd ?? 0, validation))
        let width = max(5, classes.map(\.count).max() ?? 5)
        func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
        lines.append("\(pad("class"))  precision  recall  images")
        for (k, name) in classes.enumerated() {
            lines.append(
                "\(pad(name))  "
                    + String(format: "%9.4f  %6.4f  %6d", precision[k], recall[k], confusionMatrix[k].reduce(0, +)))
        }
        lines.append("confusion matrix (rows: true class, columns: predicted, in the order above):")
        for row in confusionMatrix { lines.append("  " + row.map { String(format: "%5d", $0) }.joined(separator: " ")) }
        return lines.joined(separator: "\n")
    }
}
