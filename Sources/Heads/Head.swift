// A fitted classifier on features, and the file `extract fit` writes it to (head.json): the
// weights, the scaler, the class names, how well it validated, and what the features were
// (the run record of the extraction they came from), so `predict` and `classify` need nothing
// else and can refuse features of another model.

import Foundation

public enum ClassifierKind: String, Codable, Sendable, CaseIterable {
    /// LogisticRegression(C, lbfgs): probabilities.
    case logreg
    /// LinearSVC(C): decision values.
    case svm
}

public struct FitOptions: Sendable, Equatable {
    public var classifier: ClassifierKind
    public var C: Double
    public var standardize: Bool
    /// class_weight="balanced".
    public var balanced: Bool
    /// The solver's stopping tolerance (nil: the classifier's default): liblbfgs' relative
    /// gradient norm for logreg, LIBLINEAR's eps for svm.
    public var tolerance: Double?

    public init(
        classifier: ClassifierKind = .logreg, C: Double = 1, standardize: Bool = false, balanced: Bool = false,
        tolerance: Double? = nil
    ) {
        self.classifier = classifier
        self.C = C
        self.standardize = standardize
        self.balanced = balanced
        self.tolerance = tolerance
    }
}

/// A linear classifier with its optional scaler, ready to score rows.
public struct Classifier: Codable, Equatable, Sendable {
    public let kind: ClassifierKind
    public let standardizer: Standardizer?
    public let model: LinearModel
    /// L-BFGS iterations of a logistic regression, and whether it met its tolerance.
    public var iterations: Int? = nil
    public var converged: Bool = true

    public var classes: Int { model.classes }

    /// Fits rows `x` labelled 0..<classes.
    public static func fit(_ x: Rows, labels: [Int], classes: Int, options: FitOptions) throws -> Classifier {
        guard x.count > 0 else { throw HeadError.data("no rows to fit") }
        let scaler = options.standardize ? Standardizer(fitting: x) : nil
        let input = scaler?.apply(x) ?? x
        let weights = options.balanced ? Folds.balancedWeights(labels, classes: classes) : nil
        switch options.classifier {
        case .logreg:
            let result = try LogisticRegression.fit(
                input, labels: labels, classes: classes, sampleWeight: weights.map { w in labels.map { w[$0] } },
                options: .init(C: options.C, epsilon: options.tolerance ?? LogisticRegression.Options().epsilon))
            return Classifier(
                kind: .logreg, standardizer: scaler, model: result.model, iterations: result.iterations,
                converged: result.converged)
        case .svm:
            let model = try LinearSVM.fit(
                input, labels: labels, classes: classes, classWeight: weights,
                options: .init(C: options.C, tolerance: options.tolerance ?? LinearSVM.Options().tolerance))
            return Classifier(kind: .svm, standardizer: scaler, model: model)
        }
    }

    /// Per row, one score per class: probabilities (logreg) or decision values (svm; with two
    /// classes −z and z, z being LinearSVC's decision_function).
    public func scores(_ x: Rows) -> [Double] {
        let input = standardizer?.apply(x) ?? x
        switch kind {
        case .logreg:
            return LogisticRegression.probabilities(model, input)
        case .svm:
            let z = model.decision(input)
            guard model.rows == 1 else { return z }
            return z.flatMap { [-$0, $0] }
        }
    }

    /// The best-scoring class of each row (the first on a tie, as argmax).
    public func predict(_ x: Rows) -> [Int] {
        let s = scores(x)
        let k = classes
        return (0..<x.count).map { i in
            var best = 0
            for c in 1..<k where s[i * k + c] > s[i * k + best] { best = c }
            return best
        }
    }
}

/// How well a head predicts rows it was not fitted on.
public struct Validation: Codable, Equatable, Sendable {
    /// "5-fold stratified cross-validation" or "hold-out of 20 %".
    public let method: String
    /// Accuracy per fold (one value for a hold-out).
    public let foldAccuracy: [Double]
    /// Mean and population standard deviation of the fold accuracies (cross_val_score's
    /// scores.mean(), scores.std()).
    public let accuracy: Double
    public let accuracyStd: Double
    /// Out-of-fold predictions scored together (cross_val_predict), or the hold-out's.
    public let scores: Scores
    /// With --grid-C: each C tried and its mean accuracy, in the order given.
    public var grid: [GridPoint]? = nil

    public struct GridPoint: Codable, Equatable, Sendable {
        /// scikit-learn's C (a JSON key `C` would not survive the snake_case keys).
        public let regularizationC: Double
        public let accuracy: Double
        public init(C: Double, accuracy: Double) {
            regularizationC = C
            self.accuracy = accuracy
        }
    }

    /// K-fold cross-validation of `options` on `x`: every fold fitted on the others (the
    /// scaler too, as a Pipeline does).
    public static func crossValidate(
        _ x: Rows, labels: [Int], classes: Int, folds k: Int, options: FitOptions
    ) throws -> Validation {
        let folds = try Folds.stratified(labels, k: k)
        var predicted = [Int](repeating: 0, count: labels.count)
        var accuracies: [Double] = []
        for f in 0..<k {
            let test = labels.indices.filter { folds[$0] == f }
            let train = labels.indices.filter { folds[$0] != f }
            let head = try Classifier.fit(
                x.subset(train), labels: train.map { labels[$0] }, classes: classes, options: options)
            let guess = head.predict(x.subset(test))
            for (i, p) in zip(test, guess) { predicted[i] = p }
            accuracies.append(
                test.isEmpty ? 0 : Double(zip(test, guess).filter { labels[$0] == $1 }.count) / Double(test.count))
        }
        return Validation(
            method: "\(k)-fold stratified cross-validation", foldAccuracy: accuracies, mean: accuracies,
            scores: Scores(truth: labels, predicted: predicted, classes: classes))
    }

    /// Fitted on the rows not held out, scored on those held out.
    public static func holdout(
        _ x: Rows, labels: [Int], classes: Int, fraction: Double, options: FitOptions
    ) throws -> Validation {
        let held = try Folds.holdout(labels, fraction: fraction)
        let test = labels.indices.filter { held[$0] }
        let train = labels.indices.filter { !held[$0] }
        let head = try Classifier.fit(
            x.subset(train), labels: train.map { labels[$0] }, classes: classes, options: options)
        let guess = head.predict(x.subset(test))
        let truth = test.map { labels[$0] }
        let scores = Scores(truth: truth, predicted: guess, classes: classes)
        return Validation(
            method: "hold-out of \(test.count) rows (\(Int((fraction * 100).rounded())) % of each class)",
            foldAccuracy: [scores.accuracy], mean: [scores.accuracy], scores: scores)
    }

    init(method: String, foldAccuracy: [Double], mean values: [Double], scores: Scores) {
        self.method = method
        self.foldAccuracy = foldAccuracy
        let mean = values.reduce(0, +) / Double(max(values.count, 1))
        accuracy = mean
        accuracyStd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(values.count, 1)))
            .squareRoot()
        self.scores = scores
    }
}

/// head.json.
public struct HeadFile: Codable, Equatable, Sendable {
    public static let formatName = "extract-head/1"

    public var format = HeadFile.formatName
    public let classifier: ClassifierKind
    /// scikit-learn's C.
    public let regularizationC: Double
    public let classWeight: String?
    public let classes: [String]
    public let head: Classifier
    public let validation: Validation?
    /// The feature file fitted on, its rows and width.
    public let fittedOn: FittedOn

    public struct FittedOn: Codable, Equatable, Sendable {
        public let path: String
        public let rows: Int
        public let width: Int
        /// Its run record (NAME.run.json) as JSON text, when one was beside it: the model,
        /// weights hash, input, preprocessing and pooling `classify` reproduces.
        public let runRecord: String?

        public init(path: String, rows: Int, width: Int, runRecord: String?) {
            self.path = path
            self.rows = rows
            self.width = width
            self.runRecord = runRecord
        }
    }

    public init(
        options: FitOptions, classes: [String], head: Classifier, validation: Validation?, fittedOn: FittedOn
    ) {
        classifier = options.classifier
        regularizationC = options.C
        classWeight = options.balanced ? "balanced" : nil
        self.classes = classes
        self.head = head
        self.validation = validation
        self.fittedOn = fittedOn
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self) + Data("\n".utf8)
    }

    public static func read(_ path: String) throws -> HeadFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HeadError.headFile(path, "cannot be read; give the head.json `extract fit` wrote")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let head: HeadFile
        do { head = try decoder.decode(HeadFile.self, from: data) } catch {
            throw HeadError.headFile(path, "is not a head written by `extract fit` (\(error))")
        }
        guard head.format == formatName else {
            throw HeadError.headFile(path, "is a head of format \(head.format); this tool reads \(formatName)")
        }
        let m = head.head.model
        guard m.classes == head.classes.count, m.weights.count == m.rows * m.width,
            m.rows == (m.classes == 2 ? 1 : m.classes)
        else { throw HeadError.headFile(path, "holds weights that do not fit its \(head.classes.count) classes") }
        return head
    }
}
