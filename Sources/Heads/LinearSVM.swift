// A linear SVM as scikit-learn's LinearSVC(C=1.0) fits it: squared hinge loss, L2 penalty,
// one-vs-rest, the intercept as an extra feature of value 1 (intercept_scaling=1, penalised
// like the weights), solved by LIBLINEAR itself, the library LinearSVC wraps. dual="auto" as
// scikit-learn decides it: the primal solver (trust-region Newton) when there are more samples
// than features, the dual coordinate descent otherwise. The primal solver starts where a
// preconditioned L-BFGS over dense float32 products left it (warmStart): LIBLINEAR's Newton
// steps over its sparse double rows took 40 s for 10,000 × 2048 × 10 classes from zero.

import CLinear
import Dispatch
import Foundation

public enum LinearSVM {
    public struct Options: Sendable {
        public var C: Double
        /// LIBLINEAR's eps (LinearSVC's tol, whose 1e-4 leaves decision values a few percent
        /// from the optimum on unscaled features; 1e-5 costs about 40 % more time).
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
        // The dual solver shuffles with the C library's rand(), shared by threads, and takes no
        // starting point: it runs as LinearSVC runs it, in one call.
        guard primal else {
            return try nodes.withUnsafeMutableBufferPointer { all in
                var rows = starts.map { Optional(all.baseAddress! + $0) }
                let trained = try solve(
                    rows: &rows, y: labels.map(Double.init), width: d, labels: Array(0..<classes),
                    weights: classWeight, primal: false, options: options)
                defer { release(trained) }
                return linearModel(trained.pointee, classes: classes, width: d)
            }
        }
        // The primal solver: each model row is one LIBLINEAR problem, class k (class 1 of two)
        // against the rest, with C·weight[k] for its rows and C (two classes: C·weight[0]) for
        // the others, exactly as LIBLINEAR's own loop poses them. They start from the joint
        // squared-hinge fit of `warmStart`, which LIBLINEAR then checks against its own test
        // and finishes; they run side by side, one per core (no randomness in this solver).
        let m = classes == 2 ? 1 : classes
        let positives = classes == 2 ? [1] : Array(0..<classes)
        let positiveWeight = positives.map { classWeight?[$0] ?? 1 }
        let negativeWeight = positives.map { _ in classes == 2 ? (classWeight?[0] ?? 1) : 1 }
        let start = try warmStart(
            x, labels: labels, classes: classes, positive: positiveWeight, negative: negativeWeight, options: options)
        let present = Set(labels)
        var weights = [Double](repeating: 0, count: m * d)
        var intercepts = [Double](repeating: 0, count: m)
        var refused = [Bool](repeating: false, count: m)
        let offsets = starts
        // Each row writes its own slice: no two threads touch the same element.
        nodes.withUnsafeMutableBufferPointer { all in
            weights.withUnsafeMutableBufferPointer { wOut in
                intercepts.withUnsafeMutableBufferPointer { bOut in
                    refused.withUnsafeMutableBufferPointer { rOut in
                        nonisolated(unsafe) let (base, w, b, r) = (all.baseAddress!, wOut, bOut, rOut)
                        DispatchQueue.concurrentPerform(iterations: m) { c in
                            let k = positives[c]
                            // A class with no rows (a fold without it) keeps zero weights, as
                            // when LIBLINEAR never sees its label; so does a two-class problem
                            // missing either class.
                            guard present.contains(k), classes > 2 || present.contains(0) else { return }
                            var rows = offsets.map { Optional(base + $0) }
                            let initial = Array(start[(c * (d + 1))..<((c + 1) * (d + 1))])
                            guard
                                let trained = try? solve(
                                    rows: &rows, y: labels.map { $0 == k ? 1.0 : -1.0 }, width: d, labels: [1, -1],
                                    weights: classWeight == nil ? nil : [positiveWeight[c], negativeWeight[c]],
                                    primal: true, options: options, initial: initial)
                            else {
                                r[c] = true
                                return
                            }
                            defer { release(trained) }
                            let model = trained.pointee
                            let sign: Double = model.label[0] == 1 ? 1 : -1
                            for j in 0..<d { w[c * d + j] = sign * model.w[j] }
                            b[c] = sign * model.w[d] * model.bias
                        }
                    }
                }
            }
        }
        if refused.contains(true) { throw HeadError.solver("LIBLINEAR refused the problem") }
        return LinearModel(weights: weights, intercepts: intercepts, classes: classes, width: d)
    }

    /// Every model row's squared-hinge problem (LIBLINEAR's objective divided by C·N) solved
    /// together by L-BFGS over the GEMM evaluation logistic regression uses, until each row's
    /// gradient is within twice LIBLINEAR's own stopping test (‖∇f‖ ≤ eps·max(min(pos, neg),
    /// 1)/N · ‖∇f(0)‖). LIBLINEAR, started there, tests it in double and takes the last Newton
    /// step or none; from zero it took ~40 Newton iterations of sparse products per class. The
    /// hand-off point, measured on the benchmark's features (seconds, whole fit): half the
    /// test 5.6, once 4.9, twice 4.5, three times 4.3, five times 5.0 (LIBLINEAR needs more
    /// than one step), with decision values 0.34 % to 0.6 % of their range from a cold start's.
    /// Rows [w_c, b_c], (D + 1) each.
    static func warmStart(
        _ x: Rows, labels: [Int], classes: Int, positive: [Double], negative: [Double], options: Options
    ) throws -> [Double] {
        let objective = LinearObjective(
            x: x, labels: labels, classes: classes, loss: .squaredHinge(positive: positive, negative: negative),
            C: options.C)
        let m = objective.m
        let n = Double(x.count)
        let targets: [Double] = (0..<m).map { c in
            let k = classes == 2 ? 1 : c
            let pos = Double(labels.count { $0 == k })
            return 2 * options.tolerance * max(min(pos, n - pos), 1) / n
        }
        _ = try objective.minimize(maxIterations: 1000) { objective in
            guard let first = objective.firstGradient else { return false }
            return (0..<m).allSatisfy { c in
                objective.rowNorm(objective.lastGradient, c) <= targets[c] * objective.rowNorm(first, c)
            }
        }
        let (d, w) = (x.width, objective.solution)
        var rows = [Double](repeating: 0, count: m * (d + 1))
        for c in 0..<m {
            for j in 0..<d { rows[c * (d + 1) + j] = w[c * d + j] }
            rows[c * (d + 1) + d] = w[m * d + c]
        }
        return rows
    }

    /// One LIBLINEAR train() call on `rows` (each ending in the bias feature and the end mark)
    /// with targets `y`; `weights[i]` scales C for rows labelled `labels[i]`; `initial` (D + 1,
    /// the primal solver and a binary problem only) is where its solver starts instead of zero.
    static func solve(
        rows: inout [UnsafeMutablePointer<feature_node>?], y: [Double], width d: Int, labels: [Int],
        weights: [Double]?, primal: Bool, options: Options, initial: [Double]? = nil
    ) throws -> UnsafeMutablePointer<model> {
        var y = y
        var weightLabels = labels.map(Int32.init)
        var classWeights = weights ?? []
        var start = initial ?? []
        let trained: UnsafeMutablePointer<model>? = rows.withUnsafeMutableBufferPointer { rowPointers in
            y.withUnsafeMutableBufferPointer { yp in
                weightLabels.withUnsafeMutableBufferPointer { wl in
                    classWeights.withUnsafeMutableBufferPointer { wp in
                        start.withUnsafeMutableBufferPointer { sp in
                            var problem = CLinear.problem(
                                l: Int32(yp.count), n: Int32(d + 1), y: yp.baseAddress, x: rowPointers.baseAddress,
                                bias: 1)
                            var parameter = CLinear.parameter(
                                solver_type: Int32(primal ? L2R_L2LOSS_SVC : L2R_L2LOSS_SVC_DUAL),
                                eps: options.tolerance, C: options.C,
                                nr_weight: weights == nil ? 0 : Int32(labels.count),
                                weight_label: weights == nil ? nil : wl.baseAddress,
                                weight: weights == nil ? nil : wp.baseAddress, p: 0.1,
                                init_sol: initial == nil ? nil : sp.baseAddress)
                            if check_parameter(&problem, &parameter) != nil { return nil }
                            return train(&problem, &parameter)
                        }
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
