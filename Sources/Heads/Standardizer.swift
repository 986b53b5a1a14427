// scikit-learn's StandardScaler: each feature centred and divided by its population standard
// deviation (ddof 0), a constant feature divided by 1 (`_is_constant_feature`: a variance
// within float64 rounding of zero).

import Foundation

public struct Standardizer: Codable, Equatable, Sendable {
    public let mean: [Double]
    public let scale: [Double]

    public init(mean: [Double], scale: [Double]) {
        self.mean = mean
        self.scale = scale
    }

    /// Fitted on `rows`: mean and variance per column, accumulated in double.
    public init(fitting rows: Rows) {
        let (n, d) = (rows.count, rows.width)
        var mean = [Double](repeating: 0, count: d)
        var m2 = [Double](repeating: 0, count: d)
        rows.values.withUnsafeBufferPointer { x in
            for i in 0..<n {
                for j in 0..<d { mean[j] += x[i * d + j] }
            }
            for j in 0..<d { mean[j] /= Double(max(n, 1)) }
            for i in 0..<n {
                for j in 0..<d {
                    let t = x[i * d + j] - mean[j]
                    m2[j] += t * t
                }
            }
        }
        let eps = Double.ulpOfOne
        let count = Double(max(n, 1))
        let scale = m2.enumerated().map { j, s -> Double in
            let variance = s / count
            let bound = count * eps * variance + pow(count * mean[j] * eps, 2)
            return variance <= bound ? 1 : variance.squareRoot()
        }
        self.init(mean: mean, scale: scale)
    }

    /// (x - mean) / scale, row by row.
    public func apply(_ rows: Rows) -> Rows {
        var out = rows.values
        let d = rows.width
        for i in 0..<rows.count {
            for j in 0..<d { out[i * d + j] = (out[i * d + j] - mean[j]) / scale[j] }
        }
        return Rows(count: rows.count, width: d, values: out)
    }
}
