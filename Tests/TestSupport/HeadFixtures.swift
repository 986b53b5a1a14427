import Foundation

/// One setting of one feature file in heads/index.json (scripts/make_head_fixtures.py), with
/// what scikit-learn gave for it.
public struct HeadCase: Decodable {
    public let name: String
    public let features: String
    public let classes: [String]
    public let classifier: String
    public let C: Double
    public let standardize: Bool
    public let balanced: Bool
    /// cross_val_score per fold, and each row's test fold in StratifiedKFold(5).
    public let cv_accuracy: [Double]
    public let folds: [Int]
    /// Fitted on every row: its labels, and its scores at the optimum / with sklearn's defaults.
    public let predicted: [Int]
    public let scores: String
    public let scores_default: String
    public let coef: String

    /// The same setting as `extract fit` options.
    public var fitArguments: [String] {
        var a = ["--classifier", classifier, "--C", String(C)]
        if standardize { a.append("--standardize") }
        if balanced { a += ["--class-weight", "balanced"] }
        return a
    }

    public static func all() throws -> [HeadCase] {
        struct Index: Decodable { let cases: [HeadCase] }
        let url = URL(fileURLWithPath: Fixtures.path("heads/index.json"))
        return try JSONDecoder().decode(Index.self, from: Data(contentsOf: url)).cases
    }
}
