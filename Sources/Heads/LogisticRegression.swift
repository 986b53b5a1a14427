// L2-regularised logistic regression with scikit-learn's objective, solved by liblbfgs.
//   K > 2 classes: multinomial, one weight row and intercept per class (softmax), as
//            LogisticRegression(solver="lbfgs") fits them;
//   K = 2:   one row for the second class (sigmoid), as scikit-learn fits a binary problem.
// Objective, over weights W (m × D) and intercepts b (m), with sample weights s (class_weight):
//   f = (1/S) Σ_i s_i · (logsumexp(z_i) − z_i[y_i]) + ‖W‖² / (2·C·S),   z_i = W x_i + b, S = Σ s_i
// which has scikit-learn's minimiser (its C·Σ loss + ½‖W‖², intercepts not penalised) scaled
// to a per-sample mean, so the gradient test does not depend on N. The two GEMMs per
// evaluation (Z = X Wᵀ, ∇W = Gᵀ X) go through OpenBLAS in float32; the loss, the softmax and the
// optimiser's state are double.

import CLBFGS
import COpenBLAS
import Dispatch
import Foundation

public struct LinearModel: Codable, Equatable, Sendable {
    /// m × D, row-major: m = K, or 1 for two classes (the second class's score).
    public var weights: [Double]
    public var intercepts: [Double]
    public var classes: Int
    public var width: Int

    public var rows: Int { intercepts.count }

    /// Decision values: m per sample (N × m, row-major).
    public func decision(_ x: Rows) -> [Double] {
        precondition(x.width == width, "features of the fitted width")
        let m = rows
        var z = [Double](repeating: 0, count: x.count * m)
        if x.count > 0 {
            cblas_dgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(x.count), Int32(m), Int32(width), 1, x.values,
                Int32(width), weights, Int32(width), 0, &z, Int32(m))
        }
        for i in 0..<x.count {
            for k in 0..<m { z[i * m + k] += intercepts[k] }
        }
        return z
    }
}

public enum LogisticRegression {
    public struct Options: Sendable {
        public var C: Double
        /// Converged when every partial derivative of the (per-sample mean) objective is below
        /// this: scikit-learn's test (scipy's pgtol = tol), applied far tighter than its default
        /// 1e-4, which leaves probabilities up to ~4e-3 from the optimum.
        public var epsilon: Double
        public var maxIterations: Int
        public init(C: Double = 1, epsilon: Double = 1e-6, maxIterations: Int = 5000) {
            self.C = C
            self.epsilon = epsilon
            self.maxIterations = maxIterations
        }
    }

    public struct Result: Sendable {
        public let model: LinearModel
        public let iterations: Int
        public let objective: Double
        /// liblbfgs' status: 0 converged; 2 (already minimised) counts as converged too.
        public let status: Int32
        /// Met the gradient test (or could not improve in double precision): not stopped by
        /// the iteration limit.
        public var converged: Bool { Int(status) != Int(LBFGSERR_MAXIMUMITERATION) }
    }

    /// Fits rows `x` with `labels` in 0..<classes; `sampleWeight` per row (nil: 1).
    public static func fit(
        _ x: Rows, labels: [Int], classes: Int, sampleWeight: [Double]? = nil, options: Options = Options()
    ) throws -> Result {
        precondition(labels.count == x.count && classes >= 2, "one label per row, two classes at least")
        let problem = Problem(x: x, labels: labels, classes: classes, weights: sampleWeight, C: options.C)
        let n = problem.parameters
        guard let buffer = lbfgs_malloc(Int32(n)) else { throw HeadError.solver("liblbfgs could not allocate") }
        defer { lbfgs_free(buffer) }
        buffer.initialize(repeating: 0, count: n)
        var parameters = lbfgs_parameter_t()
        lbfgs_parameter_init(&parameters)
        // liblbfgs' own test (‖∇f‖ < ε·max(1, ‖w‖)) is loose when the weights are large; the
        // progress callback applies the max-norm test instead.
        parameters.epsilon = 1e-14
        problem.tolerance = options.epsilon
        parameters.max_iterations = Int32(options.maxIterations)
        // Ten correction pairs, as scipy's L-BFGS-B (scikit-learn's lbfgs) keeps.
        parameters.m = 10
        // More-Thuente (the default) on a smooth convex objective.
        var fx: Double = 0
        let status = withExtendedLifetime(problem) {
            lbfgs(
                Int32(n), buffer, &fx,
                { instance, w, g, n, _ in
                    Unmanaged<Problem>.fromOpaque(instance!).takeUnretainedValue().evaluate(w!, g!)
                },
                { instance, _, g, _, _, _, _, n, k, _ in
                    let problem = Unmanaged<Problem>.fromOpaque(instance!).takeUnretainedValue()
                    problem.iterations = Int(k)
                    var largest = 0.0
                    for j in 0..<Int(n) { largest = max(largest, abs(g![j])) }
                    problem.met = largest < problem.tolerance
                    return problem.met ? 1 : 0
                },
                Unmanaged.passUnretained(problem).toOpaque(), &parameters)
        }
        // Rounding errors and step limits mean the line search cannot improve any more: the
        // point is as good as double allows. Anything else is a failure.
        let accepted: [Int] = [
            Int(LBFGS_SUCCESS), Int(LBFGS_STOP), Int(LBFGS_ALREADY_MINIMIZED), Int(LBFGSERR_ROUNDING_ERROR),
            Int(LBFGSERR_MAXIMUMSTEP),
            Int(LBFGSERR_MINIMUMSTEP), Int(LBFGSERR_MAXIMUMLINESEARCH), Int(LBFGSERR_MAXIMUMITERATION),
        ]
        guard accepted.contains(Int(status)) else {
            throw HeadError.solver("liblbfgs stopped with status \(status)")
        }
        let m = problem.m
        let d = x.width
        let w = Array(UnsafeBufferPointer(start: buffer, count: n))
        return Result(
            model: LinearModel(
                weights: Array(w[0..<(m * d)]), intercepts: Array(w[(m * d)...]), classes: classes, width: d),
            iterations: problem.iterations, objective: fx, status: status)
    }

    /// Class probabilities (N × K) from a fitted model's decision values.
    public static func probabilities(_ model: LinearModel, _ x: Rows) -> [Double] {
        let z = model.decision(x)
        let (m, k) = (model.rows, model.classes)
        var p = [Double](repeating: 0, count: x.count * k)
        var logits = [Double](repeating: 0, count: k)
        for i in 0..<x.count {
            for c in 0..<k { logits[c] = m == 1 ? (c == 1 ? z[i] : 0) : z[i * m + c] }
            let top = logits.max() ?? 0
            var sum = 0.0
            for c in 0..<k {
                p[i * k + c] = exp(logits[c] - top)
                sum += p[i * k + c]
            }
            for c in 0..<k { p[i * k + c] /= sum }
        }
        return p
    }

    /// The objective and its gradient at a point; the model's rows are the free ones.
    final class Problem {
        let x: Rows
        let labels: [Int]
        let classes: Int
        /// Weight rows solved for: K, or 1 for two classes.
        let m: Int
        let weights: [Double]
        let total: Double
        let C: Double
        var iterations = 0
        /// The max-norm gradient test, and whether it was met.
        var tolerance = 0.0
        var met = false
        let x32: [Float]
        var w32: [Float]
        /// Per block of rows: its gradient (m × D), loss and intercept gradient.
        var partial: [Float]
        var blockLoss: [Double]
        var blockBias: [Double]

        var parameters: Int { m * x.width + m }

        init(x: Rows, labels: [Int], classes: Int, weights: [Double]?, C: Double) {
            self.x = x
            self.labels = labels
            self.classes = classes
            m = classes == 2 ? 1 : classes
            self.weights = weights ?? [Double](repeating: 1, count: x.count)
            total = self.weights.reduce(0, +)
            self.C = C
            x32 = x.values.map(Float.init)
            w32 = [Float](repeating: 0, count: m * x.width)
            let blocks = (x.count + Self.blockRows - 1) / Self.blockRows
            partial = [Float](repeating: 0, count: blocks * m * x.width)
            blockLoss = [Double](repeating: 0, count: blocks)
            blockBias = [Double](repeating: 0, count: blocks * m)
        }

        /// Rows per block: a block of X (128 × 2048 float32 = 1 MB) stays in cache between its two
        /// products, so each evaluation reads X once.
        static let blockRows = 128

        func evaluate(_ w: UnsafePointer<Double>, _ grad: UnsafeMutablePointer<Double>) -> Double {
            let (n, d) = (x.count, x.width)
            for j in 0..<(m * d) { w32[j] = Float(w[j]) }
            let rows = Self.blockRows
            let blocks = (n + rows - 1) / rows
            let b = Array(UnsafeBufferPointer(start: w + m * d, count: m))
            // Blocks run on every core, each with single-threaded products; partial gradients are
            // summed in block order, so the result does not depend on the thread count.
            let previous = openblas_get_num_threads()
            openblas_set_num_threads(1)
            defer { openblas_set_num_threads(previous) }
            let (classes, m, total, labels, weights) = (self.classes, self.m, self.total, self.labels, self.weights)
            x32.withUnsafeBufferPointer { xb in
                w32.withUnsafeBufferPointer { wb in
                    partial.withUnsafeMutableBufferPointer { partials in
                        blockLoss.withUnsafeMutableBufferPointer { losses in
                            blockBias.withUnsafeMutableBufferPointer { biases in
                                nonisolated(unsafe) let (pg, pl, pb) = (
                                    partials.baseAddress!, losses.baseAddress!, biases.baseAddress!
                                )
                                nonisolated(unsafe) let (xp, wp) = (xb.baseAddress!, wb.baseAddress!)
                                let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, blocks))
                                DispatchQueue.concurrentPerform(iterations: workers) { t in
                                    var z = [Float](repeating: 0, count: rows * m)
                                    var g32 = [Float](repeating: 0, count: rows * m)
                                    var logits = [Double](repeating: 0, count: classes)
                                    for block in stride(from: t, to: blocks, by: workers) {
                                        let r0 = block * rows
                                        let count = min(rows, n - r0)
                                        let xs = xp + r0 * d
                                        // Z = X_b Wᵀ
                                        cblas_sgemm(
                                            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(m), Int32(d),
                                            1, xs,
                                            Int32(d), wp, Int32(d), 0, &z, Int32(m))
                                        var loss = 0.0
                                        var bias = [Double](repeating: 0, count: m)
                                        for r in 0..<count {
                                            let i = r0 + r
                                            for c in 0..<classes {
                                                logits[c] =
                                                    m == 1
                                                    ? (c == 1 ? Double(z[r]) + b[0] : 0) : Double(z[r * m + c]) + b[c]
                                            }
                                            let top = logits.max() ?? 0
                                            var sum = 0.0
                                            for c in 0..<classes { sum += exp(logits[c] - top) }
                                            let lse = top + log(sum)
                                            let s = weights[i] / total
                                            loss += s * (lse - logits[labels[i]])
                                            // G = s · (softmax − onehot), for the free rows.
                                            for c in 0..<m {
                                                let k = m == 1 ? 1 : c
                                                let gv = s * (exp(logits[k] - lse) - (labels[i] == k ? 1 : 0))
                                                g32[r * m + c] = Float(gv)
                                                bias[c] += gv
                                            }
                                        }
                                        // ∇W_b = G_bᵀ X_b
                                        cblas_sgemm(
                                            CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(d), Int32(count),
                                            1, g32,
                                            Int32(m), xs, Int32(d), 0, pg + block * m * d, Int32(d))
                                        pl[block] = loss
                                        for c in 0..<m { pb[block * m + c] = bias[c] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // ∇W = Σ_b ∇W_b + W / (C·S);  ∇b = Σ_i G_i
            let lambda = 1 / (C * total)
            var penalty = 0.0
            var loss = 0.0
            for j in 0..<(m * d) { grad[j] = lambda * w[j] }
            for c in 0..<m { grad[m * d + c] = 0 }
            for block in 0..<blocks {
                loss += blockLoss[block]
                for j in 0..<(m * d) { grad[j] += Double(partial[block * m * d + j]) }
                for c in 0..<m { grad[m * d + c] += blockBias[block * m + c] }
            }
            for j in 0..<(m * d) { penalty += w[j] * w[j] }
            return loss + 0.5 * lambda * penalty
        }
    }
}

public enum HeadError: Error, Equatable, CustomStringConvertible, LocalizedError {
    case solver(String)
    /// Features or labels that cannot be fitted, with what to do.
    case data(String)
    case headFile(String, String)

    public var description: String {
        switch self {
        case .solver(let what): return "the solver failed: \(what)"
        case .data(let what): return what
        case .headFile(let path, let what): return "\(path): \(what)"
        }
    }

    public var errorDescription: String? { description }
}
