// L2-regularised logistic regression with scikit-learn's objective, solved by liblbfgs.
//   K > 2 classes: multinomial, one weight row and intercept per class (softmax), as
//            LogisticRegression(solver="lbfgs") fits them;
//   K = 2:   one row for the second class (sigmoid), as scikit-learn fits a binary problem.
// Objective, over weights W (m × D) and intercepts b (m), with sample weights s (class_weight):
//   f = (1/S) Σ_i s_i · (logsumexp(z_i) − z_i[y_i]) + ‖W‖² / (2·C·S),   z_i = W x_i + b, S = Σ s_i
// which has scikit-learn's minimiser (its C·Σ loss + ½‖W‖², intercepts not penalised) scaled
// to a per-sample mean, so the gradient test does not depend on N. The evaluation, in float32
// products and double losses, and the preconditioned L-BFGS are LinearObjective's.

import CLBFGS
import COpenBLAS
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
        let problem = LinearObjective(
            x: x, labels: labels, classes: classes,
            loss: .logistic(rowWeights: sampleWeight ?? [Double](repeating: 1, count: x.count)), C: options.C)
        // scikit-learn's test (scipy's pgtol): every partial derivative below the tolerance.
        let tolerance = options.epsilon
        let (status, fx) = try problem.minimize(maxIterations: options.maxIterations) { problem in
            problem.lastGradient.allSatisfy { abs($0) < tolerance }
        }
        let (m, d) = (problem.m, x.width)
        let w = problem.solution
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
