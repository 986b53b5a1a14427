import FeatureFiles
import Foundation
import Heads
import Reports
import TestSupport
import XCTest

/// Exact neighbours against scikit-learn's NearestNeighbors(algorithm="brute") on the same rows,
/// and near-duplicate groups against a naive pairwise twin.
final class NeighborsTests: XCTestCase {
    func array(_ relative: String) throws -> NpyArray {
        try Npy.read(Data(contentsOf: URL(fileURLWithPath: Fixtures.path(relative))), name: relative)
    }

    func testNearestNeighborsMatchScikitLearn() throws {
        let file = try FeatureFile.read(Fixtures.path("heads/four/feats.npy"))
        for (metric, name) in [(Metric.cosine, "cosine"), (.l2, "euclidean")] {
            let indices = try array("heads/four_neighbors_\(name)_indices.npy").integers!.map { Int($0) }
            let distances = try array("heads/four_neighbors_\(name)_distances.npy").values
            // Within the set: sklearn's first neighbour is the row itself, ours leaves it out.
            let within = Neighbors.search(
                queries: file.features, rows: file.features, width: file.rowWidth, k: 5, metric: metric,
                excludeSelf: true)
            // As queries from outside: the row itself first, at distance 0.
            let outside = Neighbors.search(
                queries: file.features, rows: file.features, width: file.rowWidth, k: 6, metric: metric)
            var worst: Float = 0
            for i in 0..<file.count {
                let theirs = Array(indices[(i * 6)..<((i + 1) * 6)])
                let theirDistances = Array(distances[(i * 6)..<((i + 1) * 6)])
                XCTAssertEqual(outside[i].map(\.index), theirs, "\(name) row \(i)")
                XCTAssertEqual(within[i].map(\.index), Array(theirs.dropFirst()), "\(name) row \(i)")
                for (n, d) in zip(outside[i], theirDistances) { worst = max(worst, abs(n.distance - d)) }
            }
            print(String(format: "neighbors %@: max |ours - sklearn| distance %.2e", name, worst))
            XCTAssertLessThan(worst, 1e-5)
        }
    }

    /// Pairs at or above the threshold, joined transitively: the same groups as comparing every
    /// pair in double precision.
    func testDuplicateGroupsMatchNaivePairs() throws {
        let file = try FeatureFile.read(Fixtures.path("heads/four/feats.npy"))
        let d = file.rowWidth
        // Near-copies of rows 3 and 7 (scaled, slightly perturbed), and a chain 10 ~ 11 ~ copy.
        var rows = file.features
        func row(_ i: Int) -> [Float] { Array(file.features[(i * d)..<((i + 1) * d)]) }
        rows += row(3).map { $0 * 2 }
        rows += row(7).enumerated().map { $0.offset == 0 ? $0.element + 0.01 : $0.element }
        let n = rows.count / d
        for threshold: Float in [0.999, 0.95, 0.9] {
            let groups = Neighbors.duplicateGroups(rows: rows, width: d, threshold: threshold)
            // Naive twin: union of every pair with cos >= threshold.
            var parent = Array(0..<n)
            func find(_ a: Int) -> Int { parent[a] == a ? a : find(parent[a]) }
            var paired = Set<Int>()
            for i in 0..<n {
                for j in (i + 1)..<n {
                    var dot = 0.0, a = 0.0, b = 0.0
                    for k in 0..<d {
                        dot += Double(rows[i * d + k]) * Double(rows[j * d + k])
                        a += Double(rows[i * d + k]) * Double(rows[i * d + k])
                        b += Double(rows[j * d + k]) * Double(rows[j * d + k])
                    }
                    if dot / (a.squareRoot() * b.squareRoot()) >= Double(threshold) {
                        paired.formUnion([i, j])
                        parent[find(j)] = find(i)
                    }
                }
            }
            var naive: [Int: [Int]] = [:]
            for i in paired.sorted() { naive[find(i), default: []].append(i) }
            XCTAssertEqual(groups, naive.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }, "threshold \(threshold)")
            if threshold == 0.999 { XCTAssertEqual(groups, [[3, n - 2], [7, n - 1]]) }
        }
    }
}

/// The report's projection against scikit-learn's PCA(n_components=2).fit_transform.
final class ProjectionTests: XCTestCase {
    func testProjectionIsScikitLearnsPCA() throws {
        let file = try FeatureFile.read(Fixtures.path("heads/four/feats.npy"))
        let theirs = try Npy.read(
            Data(contentsOf: URL(fileURLWithPath: Fixtures.path("heads/four_pca.npy"))), name: "four_pca"
        ).values
        let ours = try Projection.pca(file.features, width: file.rowWidth).points
        XCTAssertEqual(ours.count, theirs.count)
        let scale = theirs.map { abs(Double($0)) }.max() ?? 1
        let worst = zip(ours, theirs).map { abs($0 - Double($1)) }.max() ?? 1
        print(String(format: "pca: max |ours - sklearn| %.2e of %.3g", worst, scale))
        XCTAssertLessThan(worst, 1e-5 * scale)
    }
}
