// Exact nearest neighbours of feature rows, as scikit-learn's NearestNeighbors(algorithm="brute")
// finds them: every query against every row through one GEMM (double, OpenBLAS) per block of
// queries, then the k best of each row. For large sets, an approximate search through faiss'
// inverted-file index (IndexIVFFlat): k-means lists, each query scanning only its nearest few. Cosine: distance 1 − cos (rows normalised first); L2: Euclidean distance
// from ‖q‖² + ‖x‖² − 2·q·x. Near-duplicate groups are the connected components of the pairs whose
// cosine similarity reaches a threshold.

import CFaiss
import COpenBLAS
import Foundation

public enum Metric: String, Codable, Sendable, CaseIterable {
    case cosine, l2
}

public struct Neighbor: Equatable, Sendable {
    public let index: Int
    /// 1 − cosine similarity, or the Euclidean distance.
    public let distance: Float
}

public enum Neighbors {
    /// Rows scaled to unit length (a zero row stays zero, as sklearn's normalize leaves it).
    static func normalized(_ values: [Float], width: Int) -> [Float] {
        var out = values
        let n = width == 0 ? 0 : values.count / width
        for i in 0..<n {
            var sum: Float = 0
            for j in 0..<width { sum += out[i * width + j] * out[i * width + j] }
            let norm = sum.squareRoot()
            if norm > 0 { for j in 0..<width { out[i * width + j] /= norm } }
        }
        return out
    }

    /// For each of the `queries` (row-major, `width` each), its `k` nearest `rows`, nearest
    /// first (ties: lower index first). `excludeSelf`: query i is row i and is not its own
    /// neighbour (neighbours within one set).
    public static func search(
        queries: [Float], rows: [Float], width: Int, k: Int, metric: Metric, excludeSelf: Bool = false
    ) -> [[Neighbor]] {
        let nq = width == 0 ? 0 : queries.count / width
        let nx = width == 0 ? 0 : rows.count / width
        // Cosine on unit rows is a float32 product (within 1e-6 of double). ‖q‖² + ‖x‖² − 2·q·x
        // cancels when q and x are close: in double, as scikit-learn upcasts float32 for it.
        let q = (metric == .cosine ? normalized(queries, width: width) : queries).map(Double.init)
        let x = (metric == .cosine ? normalized(rows, width: width) : rows).map(Double.init)
        let xNorms = metric == .l2 ? squaredNorms(x, width: width) : []
        let qNorms = metric == .l2 ? squaredNorms(q, width: width) : []
        var result: [[Neighbor]] = []
        result.reserveCapacity(nq)
        // Blocks of queries keep the similarity matrix to a few MB.
        let block = max(1, min(nq, (2 << 20) / max(nx, 1)))
        var dots = [Double](repeating: 0, count: block * nx)
        for start in stride(from: 0, to: nq, by: block) {
            let count = min(block, nq - start)
            q.withUnsafeBufferPointer { qp in
                cblas_dgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(nx), Int32(width), 1,
                    qp.baseAddress! + start * width, Int32(width), x, Int32(width), 0, &dots, Int32(nx))
            }
            for r in 0..<count {
                let i = start + r
                var candidates: [Neighbor] = []
                candidates.reserveCapacity(nx)
                for j in 0..<nx where !(excludeSelf && j == i) {
                    let dot = dots[r * nx + j]
                    let distance =
                        metric == .cosine
                        ? min(max(1 - dot, 0), 2) : max(qNorms[i] + xNorms[j] - 2 * dot, 0).squareRoot()
                    candidates.append(Neighbor(index: j, distance: Float(distance)))
                }
                result.append(best(candidates, k))
            }
        }
        return result
    }

    /// faiss' IndexIVFFlat settings: `lists` k-means cells (nil: 4·√N, at most N/39 so each
    /// centroid trains on 39 rows, faiss' minimum), each query scanning its `probes` nearest
    /// (nil: a sixteenth of the lists, at least 8); with probes = lists the search is exact.
    public struct IVF: Sendable, Equatable {
        public var lists: Int?
        public var probes: Int?
        public var threads: Int
        public init(lists: Int? = nil, probes: Int? = nil, threads: Int = 1) {
            self.lists = lists
            self.probes = probes
            self.threads = threads
        }

        /// The lists and probes for `n` rows: the defaults, or the values given (more probes
        /// than lists scan them all).
        public func resolved(rows n: Int) -> (lists: Int, probes: Int) {
            let lists = self.lists ?? max(1, min(Int(4 * Double(n).squareRoot()), n / 39))
            return (lists, min(probes ?? max(8, lists / 16), lists))
        }
    }

    /// `search` through faiss' IndexIVFFlat: cosine as inner product of unit rows, L2 as
    /// squared distance (both reported as `search` reports them). A query may get fewer than
    /// k neighbours when its probed lists hold fewer rows. Deterministic: faiss' k-means seed
    /// is fixed and ties are broken by row.
    public static func searchIVF(
        queries: [Float], rows: [Float], width: Int, k: Int, metric: Metric, excludeSelf: Bool = false,
        ivf: IVF = IVF()
    ) throws -> [[Neighbor]] {
        let nq = width == 0 ? 0 : queries.count / width
        let nx = width == 0 ? 0 : rows.count / width
        guard nx > 0, nq > 0 else { return Array(repeating: [], count: nq) }
        let q = metric == .cosine ? normalized(queries, width: width) : queries
        let x = metric == .cosine ? normalized(rows, width: width) : rows
        let (lists, probes) = ivf.resolved(rows: nx)
        guard lists <= nx else {
            throw HeadError.data("--nlist \(lists) is more lists than the \(nx) rows to cluster; give at most \(nx)")
        }
        let size = 512
        var error = [CChar](repeating: 0, count: size)
        func failure() -> HeadError {
            .solver("faiss: " + String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        guard let index = kf_ivf_create(Int32(width), Int32(lists), metric == .cosine ? 1 : 0, &error, size)
        else { throw failure() }
        defer { kf_ivf_free(index) }
        guard kf_ivf_train_add(index, nx, x, Int32(ivf.threads), &error, size) == 0 else { throw failure() }
        let asked = min(nx, k + (excludeSelf ? 1 : 0))
        var distances = [Float](repeating: 0, count: nq * asked)
        var labels = [Int64](repeating: -1, count: nq * asked)
        guard
            kf_ivf_search(
                index, nq, q, Int32(asked), Int32(probes), Int32(ivf.threads), &distances, &labels, &error, size)
                == 0
        else { throw failure() }
        return (0..<nq).map { i in
            var found: [Neighbor] = []
            for r in 0..<asked {
                let j = Int(labels[i * asked + r])
                guard j >= 0, !(excludeSelf && j == i) else { continue }
                let d = Double(distances[i * asked + r])
                let distance = metric == .cosine ? min(max(1 - d, 0), 2) : max(d, 0).squareRoot()
                found.append(Neighbor(index: j, distance: Float(distance)))
            }
            return best(found, k)
        }
    }

    static func squaredNorms(_ values: [Double], width: Int) -> [Double] {
        let n = width == 0 ? 0 : values.count / width
        return (0..<n).map { i in
            var s = 0.0
            for j in 0..<width { s += values[i * width + j] * values[i * width + j] }
            return s
        }
    }

    static func best(_ candidates: [Neighbor], _ k: Int) -> [Neighbor] {
        let sorted = candidates.sorted { $0.distance != $1.distance ? $0.distance < $1.distance : $0.index < $1.index }
        return Array(sorted.prefix(k))
    }

    /// Groups of rows whose cosine similarity chains at or above `threshold` (single linkage):
    /// each group sorted, groups by their first row; rows without a partner are left out.
    public static func duplicateGroups(rows: [Float], width: Int, threshold: Float) -> [[Int]] {
        let n = width == 0 ? 0 : rows.count / width
        let x = normalized(rows, width: width)
        var parent = Array(0..<n)
        func find(_ a: Int) -> Int {
            var a = a
            while parent[a] != a {
                parent[a] = parent[parent[a]]
                a = parent[a]
            }
            return a
        }
        let block = max(1, min(n, (4 << 20) / max(n, 1)))
        var dots = [Float](repeating: 0, count: block * n)
        var paired = [Bool](repeating: false, count: n)
        for start in stride(from: 0, to: n, by: block) {
            let count = min(block, n - start)
            x.withUnsafeBufferPointer { xp in
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(n), Int32(width), 1,
                    xp.baseAddress! + start * width, Int32(width), xp.baseAddress!, Int32(width), 0, &dots, Int32(n))
            }
            for r in 0..<count {
                let i = start + r
                for j in (i + 1)..<max(n, i + 1) where dots[r * n + j] >= threshold {
                    paired[i] = true
                    paired[j] = true
                    let (a, b) = (find(i), find(j))
                    if a != b { parent[max(a, b)] = min(a, b) }
                }
            }
        }
        var groups: [Int: [Int]] = [:]
        for i in 0..<n where paired[i] { groups[find(i), default: []].append(i) }
        return groups.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }
    }
}
