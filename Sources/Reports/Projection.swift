// Rows projected on their first principal components, as scikit-learn's PCA(n_components=2)
// gives them: centred, onto the leading right singular vectors, each component's sign chosen so
// its largest-magnitude entry is positive (svd_flip with u_based_decision=False). The vectors
// come from subspace iteration (products with X through OpenBLAS, never a D×D matrix), then a
// Rayleigh-Ritz step solved by LAPACK's dsyevr.

import COpenBLAS
import Foundation
import Heads

public enum Projection {
    public struct Result: Sendable {
        /// N × components, row-major.
        public let points: [Double]
        /// components × D, row-major.
        public let components: [Double]
        /// Variance along each component (ddof 1, as explained_variance_).
        public let variance: [Double]
    }

    public enum Failure: Error, CustomStringConvertible {
        case lapack(Int32)
        public var description: String { "LAPACK dsyevr failed (info \(self))" }
    }

    /// The first `components` principal components of `rows` (N × `width`, row-major).
    public static func pca(_ rows: [Float], width d: Int, components k: Int = 2, iterations: Int = 40) throws -> Result
    {
        let n = d == 0 ? 0 : rows.count / d
        precondition(n >= 2 && k >= 1 && k <= min(n, d), "PCA needs two rows and k <= min(N, D)")
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += Double(rows[i * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }
        var x = [Double](repeating: 0, count: n * d)
        for i in 0..<n { for j in 0..<d { x[i * d + j] = Double(rows[i * d + j]) - mean[j] } }

        // A block a few columns wider than k converges at the gap after the block, not after k.
        let p = min(min(n, d), k + 8)
        var rng = SplitMix64(seed: 0x5EED)
        var q = (0..<(d * p)).map { _ in rng.nextGaussian() }  // D × p
        var y = [Double](repeating: 0, count: n * p)  // N × p
        for _ in 0..<iterations {
            // Y = X Q;  Q = orth(Xᵀ Y)
            cblas_dgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(p), Int32(d), 1, x, Int32(d), q, Int32(p),
                0, &y, Int32(p))
            cblas_dgemm(
                CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(p), Int32(n), 1, x, Int32(d), y, Int32(p), 0,
                &q, Int32(p))
            orthonormalizeColumns(&q, rows: d, columns: p)
        }
        // Rayleigh-Ritz: S = (X Q)ᵀ (X Q), its top eigenvectors rotate Q onto the components.
        cblas_dgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(p), Int32(d), 1, x, Int32(d), q, Int32(p), 0,
            &y, Int32(p))
        var s = [Double](repeating: 0, count: p * p)
        cblas_dgemm(
            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(p), Int32(p), Int32(n), 1, y, Int32(p), y, Int32(p), 0, &s,
            Int32(p))
        let (values, vectors) = try eigen(s, size: p, top: k)  // vectors: p × k column-major
        var components = [Double](repeating: 0, count: k * d)
        for c in 0..<k {
            for j in 0..<d {
                var v = 0.0
                for t in 0..<p { v += q[j * p + t] * vectors[c * p + t] }
                components[c * d + j] = v
            }
            // svd_flip: the largest-magnitude entry positive.
            let row = components[(c * d)..<((c + 1) * d)]
            let largest = row.indices.max { abs(row[$0]) < abs(row[$1]) }!
            if components[largest] < 0 { for j in 0..<d { components[c * d + j] = -components[c * d + j] } }
        }
        var points = [Double](repeating: 0, count: n * k)
        cblas_dgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(k), Int32(d), 1, x, Int32(d), components, Int32(d),
            0, &points, Int32(k))
        return Result(points: points, components: components, variance: values.map { $0 / Double(n - 1) })
    }

    /// Modified Gram-Schmidt on the columns of a row-major rows × columns matrix, twice for
    /// stability.
    static func orthonormalizeColumns(_ m: inout [Double], rows: Int, columns: Int) {
        for _ in 0..<2 {
            for c in 0..<columns {
                for prev in 0..<c {
                    var dot = 0.0
                    for r in 0..<rows { dot += m[r * columns + c] * m[r * columns + prev] }
                    for r in 0..<rows { m[r * columns + c] -= dot * m[r * columns + prev] }
                }
                var norm = 0.0
                for r in 0..<rows { norm += m[r * columns + c] * m[r * columns + c] }
                norm = norm.squareRoot()
                for r in 0..<rows { m[r * columns + c] = norm > 0 ? m[r * columns + c] / norm : 0 }
            }
        }
    }

    /// The `top` largest eigenvalues (descending) of a symmetric size × size matrix and their
    /// eigenvectors (each `size` long, in the same order).
    static func eigen(_ matrix: [Double], size: Int, top: Int) throws -> ([Double], [Double]) {
        var a = matrix
        var n = Int32(size), lda = Int32(size), ldz = Int32(size)
        var il = Int32(size - top + 1), iu = Int32(size)
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var found: Int32 = 0
        var w = [Double](repeating: 0, count: size)
        var z = [Double](repeating: 0, count: size * top)
        var support = [Int32](repeating: 0, count: 2 * size)
        var info: Int32 = 0
        // Workspace query, then the call.
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workSize = 0.0
        var iworkSize: Int32 = 0
        dsyevr_(
            "V", "I", "U", &n, &a, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz, &support, &workSize, &lwork,
            &iworkSize, &liwork, &info, 1, 1, 1)
        lwork = Int32(workSize)
        liwork = iworkSize
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevr_(
            "V", "I", "U", &n, &a, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz, &support, &work, &lwork,
            &iwork, &liwork, &info, 1, 1, 1)
        guard info == 0 else { throw Failure.lapack(info) }
        // Ascending order from LAPACK; largest first here.
        var values: [Double] = []
        var vectors: [Double] = []
        for c in (0..<top).reversed() {
            values.append(w[c])
            vectors += z[(c * size)..<((c + 1) * size)]
        }
        return (values, vectors)
    }
}
