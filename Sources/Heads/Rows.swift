// Features as a classifier sees them: N rows of D doubles, row-major, with the labels and
// class names of the feature file they came from. The solvers work in double, as
// scikit-learn's do, whatever float32 the features were written in.

import FeatureFiles
import Foundation

public struct Rows: Sendable, Equatable {
    /// Rows and features per row.
    public let count: Int
    public let width: Int
    /// count × width, row-major.
    public var values: [Double]

    public init(count: Int, width: Int, values: [Double]) {
        precondition(values.count == count * width, "rows × width values")
        self.count = count
        self.width = width
        self.values = values
    }

    /// A feature file's rows, each flattened (a feature map is its H·W·C values, as Flatten).
    public init(_ file: FeatureFile) {
        self.init(count: file.count, width: file.rowWidth, values: file.features.map(Double.init))
    }

    public func row(_ i: Int) -> ArraySlice<Double> { values[(i * width)..<((i + 1) * width)] }

    /// The rows at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Rows {
        var out: [Double] = []
        out.reserveCapacity(indices.count * width)
        for i in indices { out += row(i) }
        return Rows(count: indices.count, width: width, values: out)
    }
}
