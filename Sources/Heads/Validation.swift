// How a head is judged before it is used: scikit-learn's StratifiedKFold (without shuffling,
// as cross_val_score(cv=K) splits), a stratified hold-out, and the scores of
// sklearn.metrics (accuracy, per-class precision and recall, the confusion matrix).

import Foundation

public enum Folds {
    /// Each row's test fold in 0..<k, as StratifiedKFold(k).split assigns them: classes taken in
    /// order of first appearance, the sorted labels dealt round-robin to the folds to decide
    /// how many of each class every fold tests, then each class's rows given their folds in
    /// row order.
    public static func stratified(_ labels: [Int], k: Int) throws -> [Int] {
        var firstSeen: [Int: Int] = [:]
        for y in labels where firstSeen[y] == nil { firstSeen[y] = firstSeen.count }
        let encoded = labels.map { firstSeen[$0]! }
        let classes = firstSeen.count
        var counts = [Int](repeating: 0, count: classes)
        for y in encoded { counts[y] += 1 }
        guard k >= 2, k <= labels.count else {
            throw HeadError.data("--cv \(k) needs 2 to \(labels.count) folds (one row per fold at least)")
        }
        // As StratifiedKFold: a class smaller than k is missing from some folds (a warning
        // there); only when every class is, the split is refused.
        if counts.allSatisfy({ $0 < k }) {
            throw HeadError.data(
                "every class has fewer rows than the \(k) folds of --cv \(k); use fewer folds (--cv 2), none (--cv 0), or more images"
            )
        }
        let sorted = encoded.sorted()
        // allocation[f][c]: rows of class c tested in fold f.
        var allocation = [[Int]](repeating: [Int](repeating: 0, count: classes), count: k)
        for (i, y) in sorted.enumerated() { allocation[i % k][y] += 1 }
        var folds = [Int](repeating: 0, count: labels.count)
        for c in 0..<classes {
            var order: [Int] = []
            for f in 0..<k { order += [Int](repeating: f, count: allocation[f][c]) }
            var next = 0
            for (i, y) in encoded.enumerated() where y == c {
                folds[i] = order[next]
                next += 1
            }
        }
        return folds
    }

    /// A stratified hold-out: about `fraction` of each class's rows (at least one, never all),
    /// chosen by a fixed-seed shuffle so every run holds out the same rows. True = held out.
    public static func holdout(_ labels: [Int], fraction: Double, seed: UInt64 = 42) throws -> [Bool] {
        guard fraction > 0, fraction < 1 else { throw HeadError.data("--holdout takes a fraction between 0 and 1") }
        var rng = SplitMix64(seed: seed)
        var out = [Bool](repeating: false, count: labels.count)
        for c in Set(labels).sorted() {
            var rows = labels.indices.filter { labels[$0] == c }
            guard rows.count >= 2 else {
                throw HeadError.data("class \(c) has \(rows.count) row; a hold-out needs two rows of each class")
            }
            rows.shuffle(using: &rng)
            let take = min(rows.count - 1, max(1, Int((Double(rows.count) * fraction).rounded())))
            for i in rows.prefix(take) { out[i] = true }
        }
        return out
    }

    /// class_weight="balanced": n / (K · count of the class).
    public static func balancedWeights(_ labels: [Int], classes: Int) -> [Double] {
        var counts = [Int](repeating: 0, count: classes)
        for y in labels { counts[y] += 1 }
        return counts.map { $0 == 0 ? 1 : Double(labels.count) / Double(classes * $0) }
    }
}

/// A small, fixed pseudo-random generator (Vigna's SplitMix64): the same hold-out (and report
/// projection) on every platform and Swift version, which the system generator does not promise.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A standard normal draw (Box-Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

/// The scores of predictions against the truth, as sklearn.metrics computes them.
public struct Scores: Codable, Equatable, Sendable {
    public let accuracy: Double
    /// confusion[true][predicted].
    public let confusionMatrix: [[Int]]
    /// Per class: precision (0 where nothing was predicted as it, as zero_division=0) and recall.
    public let precision: [Double]
    public let recall: [Double]

    public init(truth: [Int], predicted: [Int], classes: Int) {
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (t, p) in zip(truth, predicted) { confusion[t][p] += 1 }
        let right = (0..<classes).reduce(0) { $0 + confusion[$1][$1] }
        accuracy = truth.isEmpty ? 0 : Double(right) / Double(truth.count)
        confusionMatrix = confusion
        precision = (0..<classes).map { c in
            let predictedAs = (0..<classes).reduce(0) { $0 + confusion[$1][c] }
            return predictedAs == 0 ? 0 : Double(confusion[c][c]) / Double(predictedAs)
        }
        recall = (0..<classes).map { c in
            let actual = confusion[c].reduce(0, +)
            return actual == 0 ? 0 : Double(confusion[c][c]) / Double(actual)
        }
    }
}
