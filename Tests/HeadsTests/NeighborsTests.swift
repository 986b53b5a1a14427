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

    /// faiss' IndexIVFFlat scanning every list is an exact search: scikit-learn's neighbours, in
    /// its order, for both metrics, within the set and from outside.
    func testIVFScanningEveryListIsExact() throws {
        let file = try FeatureFile.read(Fixtures.path("heads/four/feats.npy"))
        for (metric, name) in [(Metric.cosine, "cosine"), (.l2, "euclidean")] {
            let indices = try array("heads/four_neighbors_\(name)_indices.npy").integers!.map { Int($0) }
            let distances = try array("heads/four_neighbors_\(name)_distances.npy").values
            let every = Neighbors.IVF(lists: 6, probes: 6, threads: 2)
            let within = try Neighbors.searchIVF(
                queries: file.features, rows: file.features, width: file.rowWidth, k: 5, metric: metric,
                excludeSelf: true, ivf: every)
            let outside = try Neighbors.searchIVF(
                queries: file.features, rows: file.features, width: file.rowWidth, k: 6, metric: metric, ivf: every)
            var worst: Float = 0
            for i in 0..<file.count {
                let theirs = Array(indices[(i * 6)..<((i + 1) * 6)])
                XCTAssertEqual(outside[i].map(\.index), theirs, "\(name) row \(i)")
                XCTAssertEqual(within[i].map(\.index), Array(theirs.dropFirst()), "\(name) row \(i)")
                for (n, d) in zip(outside[i], distances[(i * 6)..<((i + 1) * 6)]) {
                    worst = max(worst, abs(n.distance - d))
                }
            }
            print(String(format: "neighbors ivf %@: max |ours - sklearn| distance %.2e", name, worst))
            XCTAssertLessThan(worst, 1e-4)
        }
    }

    /// With its defaults (4·√N lists, a sixteenth of them probed, at least 8) on 4000 clustered
    /// rows, the index finds at least 95 % of the true 10 nearest, and the same rows every run.
    func testIVFDefaultsFindTheNearestAndAreDeterministic() throws {
        var state: UInt64 = 11
        func uniform() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
        let (n, d, clusters) = (4000, 48, 40)
        let centres = (0..<(clusters * d)).map { _ in uniform() * 1.5 }
        var rows: [Float] = []
        for i in 0..<n {
            let c = i % clusters
            rows += (0..<d).map { centres[c * d + $0] + uniform() }
        }
        let queries = Array(rows[0..<(100 * d)]).map { $0 + uniform() * 0.1 }
        let exact = Neighbors.search(queries: queries, rows: rows, width: d, k: 10, metric: .l2)
        let ivf = Neighbors.IVF(threads: 2)
        XCTAssertEqual(ivf.resolved(rows: n).lists, 102)
        XCTAssertEqual(ivf.resolved(rows: n).probes, 8)
        let a = try Neighbors.searchIVF(queries: queries, rows: rows, width: d, k: 10, metric: .l2, ivf: ivf)
        let b = try Neighbors.searchIVF(queries: queries, rows: rows, width: d, k: 10, metric: .l2, ivf: ivf)
        XCTAssertEqual(a, b, "the same lists and neighbours every run")
        func recall(_ found: [[Neighbor]]) -> Double {
            let hits = zip(exact, found).map { Set($0.map(\.index)).intersection($1.map(\.index)).count }
            return Double(hits.reduce(0, +)) / Double(exact.count * 10)
        }
        // One list per query misses some: the search is approximate, and the probes matter.
        let one = try Neighbors.searchIVF(
            queries: queries, rows: rows, width: d, k: 10, metric: .l2, ivf: Neighbors.IVF(probes: 1, threads: 2))
        print(
            String(
                format: "neighbors ivf: recall@10 %.3f with default lists and probes, %.3f probing one", recall(a),
                recall(one)))
        XCTAssertGreaterThanOrEqual(recall(a), 0.95)
        XCTAssertLessThan(recall(one), recall(a))
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
