// A linear SVM as scikit-learn's LinearSVC(C=1.0) fits it: squared hinge loss, L2 penalty,
// one-vs-rest, the intercept as an extra feature of value 1 (intercept_scaling=1, penalised
// like the weights), solved by LIBLINEAR itself, the library LinearSVC wraps. dual="auto" as
// scikit-learn decides it: the primal solver (trust-region Newton) when there are more samples
// than features, the dual coordinate descent otherwise.

import CLinear
import Dispatch
import Foundation

public enum LinearSVM {
    public struct Options: Sendable {
        public var C: Double
        /// LIBLINEAR's eps (LinearSVC's tol, whose 1e-4 leaves decision values a few percent
        /// from the optimum on unscaled features; 1e-5 costs about 10 % more time).
        public var tolerance: Double
        public init(C: Double = 1, tolerance: Double = 1e-5) {
            self.C = C
            self.tolerance = tolerance
        }
    }

    /// Fits rows `x` with `labels` in 0..<classes; `classWeight` per class (nil: 1). The model's
    /// rows are one per class (K > 2) or one for the second class (K = 2), as LinearSVC's coef_.
    public static func fit(
        _ x: Rows, labels: [Int], classes: Int, classWeight: [Double]? = nil, options: Options = Options()
    ) throws -> LinearModel {
        precondition(labels.count == x.count && classes >= 2, "one label per row, two classes at least")
        let (n, d) = (x.count, x.width)
        set_print_string_function { _ in }
        // Each row: its nonzero features (1-based indices), the bias feature, then the end mark.
        var nodes: [feature_node] = []
        var starts: [Int] = []
        nodes.reserveCapacity(n * (d + 2))
        for i in 0..<n {
            starts.append(nodes.count)
            for (j, v) in x.row(i).enumerated() where v != 0 {
                nodes.append(feature_node(index: Int32(j + 1), value: v))
            }
            nodes.append(feature_node(index: Int32(d + 1), value: 1))
            nodes.append(feature_node(index: -1, value: 0))
        }
        let primal = n > d
        // The primal solver (trust-region Newton) has no randomness: with three classes or more
        // its one-vs-rest problems run side by side, one per core, exactly as LIBLINEAR's own
        // loop solves them (class k positive with C·weight[k], the rest negative with C). The
        // dual solver shuffles with the C library's rand(), shared by threads: it runs in one call.
        guard primal, classes > 2 else {
            return try nodes.withUnsafeMutableBufferPointer { all in
                var rows = starts.map { Optional(all.baseAddress! + $0) }
                let trained = try solve(
                    rows: &rows, y: labels.map(Double.init), width: d, labels: Array(0..<classes),
                    weights: classWeight, primal: primal, options: options)
                defer { release(trained) }
                return linearModel(trained.pointee, classes: classes, width: d)
            }
        }
        // Each class writes its own row: no two threads touch the same element.
        let offsets = starts
        var weights = [Double](repeating: 0, count: classes * d)
        var intercepts = [Double](repeating: 0, count: classes)
        var refused = [Bool](repeating: false, count: classes)
        nodes.withUnsafeMutableBufferPointer { all in
            weights.withUnsafeMutableBufferPointer { wOut in
                intercepts.withUnsafeMutableBufferPointer { bOut in
                    refused.withUnsafeMutableBufferPointer { rOut in
                        nonisolated(unsafe) let (base, w, b, r) = (all.baseAddress!, wOut, bOut, rOut)
                        DispatchQueue.concurrentPerform(iterations: classes) { k in
                            // A class with no rows (a fold without it) keeps zero weights, as
                            // when LIBLINEAR never sees its label.
                            guard labels.contains(k) else { return }
                            var rows = offsets.map { Optional(base + $0) }
                            guard
                                let trained = try? solve(
                                    rows: &rows, y: labels.map { $0 == k ? 1.0 : -1.0 }, width: d, labels: [1, -1],
                                    weights: classWeight.map { [$0[k], 1] }, primal: true, options: options)
                            else {
                                r[k] = true
                                return
                            }
                            defer { release(trained) }
                            let m = trained.pointee
                            let sign: Double = m.label[0] == 1 ? 1 : -1
                            for j in 0..<d { w[k * d + j] = sign * m.w[j] }
                            b[k] = sign * m.w[d] * m.bias
                        }
                    }
                }
            }
        }
        if refused.contains(true) { throw HeadError.solver("LIBLINEAR refused the problem") }
        return LinearModel(weights: weights, intercepts: intercepts, classes: classes, width: d)
    }

    /// One LIBLINEAR train() call on `rows` (each ending in the bias feature and the end mark)
    /// with targets `y`; `weights[i]` scales C for rows labelled `labels[i]`.
    static func solve(
        rows: inout [UnsafeMutablePointer<feature_node>?], y: [Double], width d: Int, labels: [Int],
        weights: [Double]?, primal: Bool, options: Options
    ) throws -> UnsafeMutablePointer<model> {
        var y = y
        var weightLabels = labels.map(Int32.init)
        var classWeights = weights ?? []
        let trained: UnsafeMutablePointer<model>? = rows.withUnsafeMutableBufferPointer { rowPointers in
            y.withUnsafeMutableBufferPointer { yp in
                weightLabels.withUnsafeMutableBufferPointer { wl in
                    classWeights.withUnsafeMutableBufferPointer { wp in
                        var problem = CLinear.problem(
                            l: Int32(yp.count), n: Int32(d + 1), y: yp.baseAddress, x: rowPointers.baseAddress, bias: 1)
                        var parameter = CLinear.parameter(
                            solver_type: Int32(primal ? L2R_L2LOSS_SVC : L2R_L2LOSS_SVC_DUAL), eps: options.tolerance,
                            C: options.C, nr_weight: weights == nil ? 0 : Int32(labels.count),
                            weight_label: weights == nil ? nil : wl.baseAddress,
                            weight: weights == nil ? nil : wp.baseAddress, p: 0.1, init_sol: nil)
                        if check_parameter(&problem, &parameter) != nil { return nil }
                        return train(&problem, &parameter)
                    }
                }
            }
        }
        guard let trained else { throw HeadError.solver("LIBLINEAR refused the problem") }
        return trained
    }

    static func release(_ trained: UnsafeMutablePointer<model>) {
        var owned: UnsafeMutablePointer<model>? = trained
        free_and_destroy_model(&owned)
    }

    /// LIBLINEAR's weights (stored feature-major, w[j·m + k], labels in first-seen order) as
    /// our rows in class order. Two classes: LIBLINEAR's one vector scores its first label;
    /// ours scores class 1.
    static func linearModel(_ m: model, classes: Int, width d: Int) -> LinearModel {
        let labels = (0..<Int(m.nr_class)).map { Int(m.label[$0]) }
        let vectors = classes == 2 ? 1 : Int(m.nr_class)
        var weights = [Double](repeating: 0, count: (classes == 2 ? 1 : classes) * d)
        var intercepts = [Double](repeating: 0, count: classes == 2 ? 1 : classes)
        for v in 0..<vectors {
            let target = classes == 2 ? 0 : labels[v]
            let sign: Double = classes == 2 && labels[0] != 1 ? -1 : 1
            for j in 0..<d { weights[target * d + j] = sign * m.w[j * vectors + v] }
            intercepts[target] = sign * m.w[d * vectors + v] * m.bias
        }
        return LinearModel(weights: weights, intercepts: intercepts, classes: classes, width: d)
    }
}
