// L2-regularised logistic regression with scikit-learn's objective, solved by liblbfgs.
//   K > 2 classes: multinomial, one weight row and intercept per class (softmax), as
//            LogisticRegression(solver="lbfgs") fits them;
//   K = 2:   one row for the second class (sigmoid), as scikit-learn fits a binary problem.
// Objective, over weights W (m × D) and intercepts b (m), with sample weights s (class_weight):
//   f = (1/S) Σ_i s_i · (logsumexp(z_i) − z_i[y_i]) + ‖W‖² / (2·C·S),   z_i = W x_i + b, S = Σ s_i
// which has scikit-learn's minimiser (its C·Σ loss + ½‖W‖², intercepts not penalised) scaled
// to a per-sample mean, so the gradient test does not depend on N. L-BFGS works on
// preconditioned variables (Problem.curvatureFactor). The two GEMMs per
// evaluation (Z = X Wᵀ, ∇W = Gᵀ X) go through OpenBLAS in float32; the loss, the softmax and the
// optimiser's state are double.

import CKernels
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
        /// Solved in the preconditioned variables (false only where the Cholesky factor failed).
        public let preconditioned: Bool
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
        // liblbfgs' own test (‖∇f‖ < ε·max(1, ‖θ‖)) is loose when the weights are large and is on
        // θ, not w; the progress callback applies the max-norm test to ∇w instead.
        parameters.epsilon = 1e-14
        problem.tolerance = options.epsilon
        parameters.max_iterations = Int32(options.maxIterations)
        // Ten correction pairs, as scipy's L-BFGS-B (scikit-learn's lbfgs) keeps.
        parameters.m = 10
        // More-Thuente (the default) on a smooth convex objective. Its last evaluation is the
        // point it accepts, so the progress callback tests the ∇w that evaluation recorded.
        var fx: Double = 0
        let status = withExtendedLifetime(problem) {
            lbfgs(
                Int32(n), buffer, &fx,
                { instance, theta, g, _, _ in
                    Unmanaged<Problem>.fromOpaque(instance!).takeUnretainedValue().evaluate(theta: theta!, g!)
                },
                { instance, _, _, _, _, _, _, _, k, _ in
                    let problem = Unmanaged<Problem>.fromOpaque(instance!).takeUnretainedValue()
                    problem.iterations = Int(k)
                    problem.met = problem.largestGradient < problem.tolerance
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
        let (m, d) = (problem.m, x.width)
        var w = [Double](repeating: 0, count: m * d + m)
        problem.unpack(theta: buffer, into: &w)
        return Result(
            model: LinearModel(
                weights: Array(w[0..<(m * d)]), intercepts: Array(w[(m * d)...]), classes: classes, width: d),
            iterations: problem.iterations, objective: fx, status: status, preconditioned: problem.factor != nil)
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
        /// X in float32, rows at `pitch` floats.
        let x32: [Float]
        let pitch: Int
        var w32: [Float]
        /// Per chunk of rows: its gradient (m × D), loss and intercept gradient.
        var partial: [Float]
        var blockLoss: [Double]
        var blockBias: [Double]
        /// Wᵀ packed for ck_gemm_packed (nil: the CPU lacks AVX2 + FMA).
        var packedW: [Float]?

        var parameters: Int { m * x.width + m }
        /// The largest |∂f/∂w| (intercepts included) at the last evaluation.
        var largestGradient = Double.infinity
        /// L, lower triangular (D+1)², row-major, with L Lᵀ ≈ the objective's curvature, and
        /// Lᵀ: float, each read by rows in one of the two solves; nil: θ is w itself.
        let factor: (lower: [Float], upper: [Float])?
        /// Scratch in both layouts: [w₁ b₁ … w_m b_m] and [W (m × D); b (m)].
        var augmented: [Double]
        var flat: [Double]
        var flatGradient: [Double]

        init(x: Rows, labels: [Int], classes: Int, weights: [Double]?, C: Double) {
            self.x = x
            self.labels = labels
            self.classes = classes
            m = classes == 2 ? 1 : classes
            self.weights = weights ?? [Double](repeating: 1, count: x.count)
            total = self.weights.reduce(0, +)
            self.C = C
            // Rows a multiple of 4 KB apart (D = 1024, 2048, 4096) share one L1 set: the gradient
            // product, which reads a column strip of a block's rows, missed L1 on every row.
            let pitch = Self.pitch(x.width)
            var x32 = [Float](repeating: 0, count: x.count * pitch)
            for i in 0..<x.count {
                for j in 0..<x.width { x32[i * pitch + j] = Float(x.values[i * x.width + j]) }
            }
            self.x32 = x32
            self.pitch = pitch
            w32 = [Float](repeating: 0, count: m * x.width)
            let chunks = (x.count + Self.chunkRows - 1) / Self.chunkRows
            partial = [Float](repeating: 0, count: chunks * m * x.width)
            blockLoss = [Double](repeating: 0, count: chunks)
            blockBias = [Double](repeating: 0, count: chunks * m)
            packedW =
                ck_gemm_packed_available()
                ? [Float](repeating: 0, count: ck_gemm_packed_count(Int32(x.width), Int32(m))) : nil
            factor = Self.curvatureFactor(x32, count: x.count, width: x.width, pitch: pitch, lambda: 1 / (C * total))
            augmented = [Double](repeating: 0, count: m * (x.width + 1))
            flat = augmented
            flatGradient = augmented
        }

        /// The softmax loss's Hessian with its p(1−p) factor replaced by this constant: the
        /// typical curvature near a fit that separates the classes (measured on CNN-like features,
        /// 0.003 to 0.05 converge alike; 0.25, the bound, takes twice the evaluations).
        static let curvature = 0.003

        /// Cholesky factor of c·[X 1]ᵀ[X 1]/N + λ·diag(1…1, 0): the loss's curvature with a
        /// constant softmax factor plus the penalty's exactly. With θ = Lᵀw per class row, L-BFGS
        /// minimises the same objective in variables whose Hessian is near the identity, which
        /// on correlated, unscaled features takes 5 to 10 times fewer evaluations; the minimiser
        /// and the stopping test (on ∇w) do not change. One XᵀX (float32, ~0.2 s for 10,000 ×
        /// 2048) and one Cholesky per fit. nil when the factorisation fails (then θ = w).
        static func curvatureFactor(
            _ x32: [Float], count n: Int, width d: Int, pitch: Int, lambda: Double
        ) -> (lower: [Float], upper: [Float])? {
            guard n > 0 else { return nil }
            let size = d + 1
            var gram = [Float](repeating: 0, count: d * d)
            // Lower triangle of XᵀX (D × D), row-major. All rows: a sample of 4096 of 10,000
            // took a third more iterations than it saved.
            cblas_ssyrk(
                CblasRowMajor, CblasLower, CblasTrans, Int32(d), Int32(n), 1, x32, Int32(pitch), 0, &gram, Int32(d))
            var sums = [Double](repeating: 0, count: d)
            for i in 0..<n {
                for j in 0..<d { sums[j] += Double(x32[i * pitch + j]) }
            }
            let scale = curvature / Double(n)
            var p = [Double](repeating: 0, count: size * size)
            for i in 0..<d {
                for j in 0...i { p[i * size + j] = scale * Double(gram[i * d + j]) }
                p[i * size + i] += lambda
                p[d * size + i] = scale * sums[i]
            }
            p[d * size + d] = curvature
            // Row-major lower is column-major upper: LAPACK's "U" factor Uᵀ U is our L Lᵀ.
            var order = Int32(size)
            var info: Int32 = 0
            dpotrf_("U", &order, &p, &order, &info, 1)
            guard info == 0 else { return nil }
            // Rounded to float, L is another preconditioner as good; the solves stay double.
            var lower = [Float](repeating: 0, count: size * size)
            var upper = lower
            for i in 0..<size {
                for j in 0...i {
                    lower[i * size + j] = Float(p[i * size + j])
                    upper[j * size + i] = lower[i * size + j]
                }
                guard lower[i * size + i].isNormal else { return nil }
            }
            return (lower, upper)
        }

        /// w from θ: each class row [w_c b_c] = θ_c L⁻¹ (solving Lᵀ w = θ), in the flat layout.
        func unpack(theta: UnsafePointer<Double>, into w: inout [Double]) {
            let (m, d) = (self.m, x.width)
            let size = d + 1
            for j in 0..<(m * size) { augmented[j] = theta[j] }
            solve(transposed: false)
            for c in 0..<m {
                for j in 0..<d { w[c * d + j] = augmented[c * size + j] }
                w[m * d + c] = augmented[c * size + d]
            }
        }

        /// augmented := augmented L⁻¹ (or L⁻ᵀ), each class row on its own. The solves stream L
        /// (17 MB for D = 2048) from memory: the rows are split over the cores, so every core's
        /// bandwidth reads it.
        func solve(transposed: Bool) {
            guard let factor else { return }
            let (m, size) = (self.m, x.width + 1)
            let workers = min(m, ProcessInfo.processInfo.activeProcessorCount)
            let triangle = transposed ? factor.upper : factor.lower
            augmented.withUnsafeMutableBufferPointer { rows in
                triangle.withUnsafeBufferPointer { t in
                    nonisolated(unsafe) let (rp, tp) = (rows.baseAddress!, t.baseAddress!)
                    DispatchQueue.concurrentPerform(iterations: workers) { k in
                        let (first, last) = (m * k / workers, m * (k + 1) / workers)
                        guard last > first else { return }
                        ck_solve_rows(
                            Int32(size), tp, size, transposed, Int32(last - first), rp + first * size, size,
                            CK_BODY_AVX512)
                    }
                }
            }
        }

        /// f and ∂f/∂θ = (∂f/∂w) L⁻ᵀ per class row; records the largest |∂f/∂w|.
        func evaluate(theta: UnsafePointer<Double>, _ grad: UnsafeMutablePointer<Double>) -> Double {
            let (m, d) = (self.m, x.width)
            let size = d + 1
            // The products below are small (m rows): OpenBLAS threads would only spin beside
            // the block workers of the evaluation.
            let previous = openblas_get_num_threads()
            openblas_set_num_threads(1)
            defer { openblas_set_num_threads(previous) }
            unpack(theta: theta, into: &flat)
            let f = flat.withUnsafeBufferPointer { w in
                flatGradient.withUnsafeMutableBufferPointer { g in evaluate(w.baseAddress!, g.baseAddress!) }
            }
            largestGradient = flatGradient.reduce(0) { max($0, abs($1)) }
            for c in 0..<m {
                for j in 0..<d { augmented[c * size + j] = flatGradient[c * d + j] }
                augmented[c * size + d] = flatGradient[m * d + c]
            }
            solve(transposed: true)
            for j in 0..<(m * size) { grad[j] = augmented[j] }
            return f
        }

        /// Rows per block: a block of X (64 × 2048 float32 = 512 KB) stays in L2 between its two
        /// products, so each evaluation reads X from memory once.
        static let blockRows = 64
        /// Rows per partial gradient: blocks of a chunk add into one (m × D), so fewer partials
        /// are written and summed; fixed, so the sums do not depend on the thread count.
        static let chunkRows = 1024

        /// Floats from one row of X to the next: D rounded up to whole cache lines, plus one line
        /// when that is a multiple of 4 KB.
        static func pitch(_ d: Int) -> Int {
            let lines = (d + 15) / 16 * 16
            return lines % 1024 == 0 ? lines + 16 : lines
        }

        func evaluate(_ w: UnsafePointer<Double>, _ grad: UnsafeMutablePointer<Double>) -> Double {
            let (n, d) = (x.count, x.width)
            for j in 0..<(m * d) { w32[j] = Float(w[j]) }
            // Z = X Wᵀ reads X in place against Wᵀ packed once per evaluation (OpenBLAS would
            // pack every block of X for the m columns); cblas_sgemm where the CPU lacks AVX2.
            if packedW != nil {
                var wT = [Float](repeating: 0, count: d * m)
                for c in 0..<m {
                    for j in 0..<d { wT[j * m + c] = w32[c * d + j] }
                }
                ck_gemm_pack(wT, m, Int32(d), Int32(m), &packedW!)
            }
            let rows = Self.blockRows
            let chunks = (n + Self.chunkRows - 1) / Self.chunkRows
            let b = Array(UnsafeBufferPointer(start: w + m * d, count: m))
            // Chunks run on every core, each with single-threaded products; partial gradients are
            // summed in chunk order, so the result does not depend on the thread count.
            let previous = openblas_get_num_threads()
            openblas_set_num_threads(1)
            defer { openblas_set_num_threads(previous) }
            let (classes, m, total, labels, weights, pitch) = (
                self.classes, self.m, self.total, self.labels, self.weights, self.pitch
            )
            x32.withUnsafeBufferPointer { xb in
                w32.withUnsafeBufferPointer { wb in
                    partial.withUnsafeMutableBufferPointer { partials in
                        blockLoss.withUnsafeMutableBufferPointer { losses in
                            blockBias.withUnsafeMutableBufferPointer { biases in
                                nonisolated(unsafe) let (pg, pl, pb) = (
                                    partials.baseAddress!, losses.baseAddress!, biases.baseAddress!
                                )
                                nonisolated(unsafe) let (xp, wp) = (xb.baseAddress!, wb.baseAddress!)
                                let packed = packedW
                                let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, chunks))
                                DispatchQueue.concurrentPerform(iterations: workers) { t in
                                    var z = [Float](repeating: 0, count: rows * m)
                                    var g32 = [Float](repeating: 0, count: rows * m)
                                    var logits = [Double](repeating: 0, count: classes)
                                    for chunk in stride(from: t, to: chunks, by: workers) {
                                        let out = pg + chunk * m * d
                                        out.initialize(repeating: 0, count: m * d)
                                        var loss = 0.0
                                        var bias = [Double](repeating: 0, count: m)
                                        for r0 in stride(
                                            from: chunk * Self.chunkRows, to: min(n, (chunk + 1) * Self.chunkRows),
                                            by: rows)
                                        {
                                            let count = min(rows, n - r0)
                                            let xs = xp + r0 * pitch
                                            // Z_b (count × m) = X_b (count × D) Wᵀ
                                            if let packed {
                                                ck_gemm_packed(
                                                    Int32(count), Int32(m), Int32(d), xs, pitch, packed, nil, CK_LINEAR,
                                                    &z, m)
                                            } else {
                                                cblas_sgemm(
                                                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(count), Int32(m),
                                                    Int32(d), 1, xs, Int32(pitch), wp, Int32(d), 0, &z, Int32(m))
                                            }
                                            for r in 0..<count {
                                                let i = r0 + r
                                                for c in 0..<classes {
                                                    logits[c] =
                                                        m == 1
                                                        ? (c == 1 ? Double(z[r]) + b[0] : 0)
                                                        : Double(z[r * m + c]) + b[c]
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
                                            // ∇W_chunk (m × D) += G_bᵀ X_b, X_b read in place while in L2
                                            ck_gemm_tn(
                                                Int32(count), Int32(d), Int32(m), xs, pitch, g32, m, out, d,
                                                CK_BODY_AVX512)
                                        }
                                        pl[chunk] = loss
                                        for c in 0..<m { pb[chunk * m + c] = bias[c] }
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
            for chunk in 0..<chunks {
                loss += blockLoss[chunk]
                for j in 0..<(m * d) { grad[j] += Double(partial[chunk * m * d + j]) }
                for c in 0..<m { grad[m * d + c] += blockBias[chunk * m + c] }
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
