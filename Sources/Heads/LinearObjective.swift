// The objective of a linear head as one L-BFGS problem, shared by logistic regression and the
// SVM's warm start:
//   f(W, b) = (1/S) Σ_i Σ_c loss_ic(z_ic) + (λ/2)(‖W‖² [+ ‖b‖²]),   z_i = W x_i + b,   λ = 1/(C·S)
// (scikit-learn's objectives divided by C·S, so the tests do not depend on N), with
//   logistic:       softmax cross-entropy over the m = K rows (or the sigmoid of class 1's row
//                   for two classes), rows weighted by sample weight, intercepts not penalised;
//   squared hinge:  one-vs-rest, row c scoring class c (class 1 for two classes) against the
//                   rest, s·max(0, 1 − y·z)² with C scaled per side, intercepts penalised as
//                   LIBLINEAR's bias feature is.
// L-BFGS works in preconditioned variables (curvatureFactor). Each evaluation reads X (float32)
// once, in blocks of rows on every core: Z = X Wᵀ (ck_gemm_packed, W packed per evaluation),
// then ∇W += Gᵀ X (ck_gemm_tn) while the block is in L2; the losses and the optimiser are double.

import CKernels
import CLBFGS
import COpenBLAS
import Dispatch
import Foundation

final class LinearObjective {
    enum Loss {
        /// Per-row sample weights.
        case logistic(rowWeights: [Double])
        /// Per model row, the C scale of its positive and of its negative rows.
        case squaredHinge(positive: [Double], negative: [Double])
    }

    let x: Rows
    let labels: [Int]
    let classes: Int
    /// Model rows solved for: K, or 1 for two classes.
    let m: Int
    let loss: Loss
    /// S: the rows' total weight (logistic, as scikit-learn normalises sample weights) or N.
    let total: Double
    let lambda: Double
    let interceptPenalised: Bool
    var iterations = 0
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
    /// ∂f/∂w (flat layout) at the last evaluation, and at the first (w = 0).
    var lastGradient: [Double]
    var firstGradient: [Double]?
    /// L, lower triangular (D+1)², row-major, with L Lᵀ ≈ the objective's curvature, and
    /// Lᵀ: float, each read by rows in one of the two solves; nil: θ is w itself.
    let factor: (lower: [Float], upper: [Float])?
    /// Scratch in both layouts: [w₁ b₁ … w_m b_m] and [W (m × D); b (m)].
    var augmented: [Double]
    var flat: [Double]

    var parameters: Int { m * x.width + m }

    /// The loss's Hessian with its per-row factor (softmax p(1−p); the hinge's 2 on rows inside
    /// the margin) replaced by a constant. Logistic: measured on CNN-like features, 0.001 to 0.003
    /// converge alike over C from 0.1 to 10, 0.01 takes up to 1.8 times the iterations. Hinge:
    /// 0.003 to 1 all take ~290 iterations on the benchmark's features (its kinks, not the
    /// scale, are what slows L-BFGS there).
    static let logisticCurvature = 0.003
    static let hingeCurvature = 0.01

    init(x: Rows, labels: [Int], classes: Int, loss: Loss, C: Double) {
        self.x = x
        self.labels = labels
        self.classes = classes
        self.loss = loss
        m = classes == 2 ? 1 : classes
        let curvature: Double
        switch loss {
        case .logistic(let weights):
            total = weights.reduce(0, +)
            interceptPenalised = false
            curvature = Self.logisticCurvature
        case .squaredHinge:
            total = Double(x.count)
            interceptPenalised = true
            curvature = Self.hingeCurvature
        }
        lambda = 1 / (C * total)
        // Rows a multiple of 4 KB apart (D = 1024, 2048, 4096) share one L1 set: the gradient
        // product, which reads a column strip of a block's rows, missed L1 on every row.
        let pitch = Self.pitch(x.width)
        let (n, d) = (x.count, x.width)
        self.x32 = x.values.withUnsafeBufferPointer { source in
            [Float](unsafeUninitializedCapacity: n * pitch) { out, initialized in
                for i in 0..<n {
                    let (from, to) = (source.baseAddress! + i * d, out.baseAddress! + i * pitch)
                    for j in 0..<d { to[j] = Float(from[j]) }
                    for j in d..<pitch { to[j] = 0 }
                }
                initialized = n * pitch
            }
        }
        self.pitch = pitch
        w32 = [Float](repeating: 0, count: m * x.width)
        let chunks = (x.count + Self.chunkRows - 1) / Self.chunkRows
        partial = [Float](repeating: 0, count: chunks * m * x.width)
        blockLoss = [Double](repeating: 0, count: chunks)
        blockBias = [Double](repeating: 0, count: chunks * m)
        packedW =
            ck_gemm_packed_available()
            ? [Float](repeating: 0, count: ck_gemm_packed_count(Int32(x.width), Int32(m))) : nil
        factor = Self.curvatureFactor(
            x32, count: x.count, width: x.width, pitch: pitch, curvature: curvature, lambda: lambda,
            interceptPenalised: interceptPenalised)
        augmented = [Double](repeating: 0, count: m * (x.width + 1))
        flat = augmented
        lastGradient = augmented
    }

    /// Minimises f from w = 0 until `stop` says so (given this object, after each iteration) or
    /// `maxIterations`; the solution is left in `solution`. Returns liblbfgs' status and f.
    func minimize(maxIterations: Int, stop: @escaping (LinearObjective) -> Bool) throws -> (status: Int32, f: Double) {
        let n = parameters
        guard let buffer = lbfgs_malloc(Int32(n)) else { throw HeadError.solver("liblbfgs could not allocate") }
        defer { lbfgs_free(buffer) }
        buffer.initialize(repeating: 0, count: n)
        var parameters = lbfgs_parameter_t()
        lbfgs_parameter_init(&parameters)
        // liblbfgs' own test (‖∇f‖ < ε·max(1, ‖θ‖)) is on θ, not w: the progress callback
        // applies the caller's test to ∇w instead.
        parameters.epsilon = 1e-14
        parameters.max_iterations = Int32(maxIterations)
        // Ten correction pairs, as scipy's L-BFGS-B (scikit-learn's lbfgs) keeps; twenty or
        // forty took as many iterations here.
        parameters.m = 10
        // More-Thuente (the default) on a smooth convex objective. Its last evaluation is the
        // point it accepts, so the progress callback tests the ∇w that evaluation recorded.
        self.stop = stop
        var fx: Double = 0
        let status = withExtendedLifetime(self) {
            lbfgs(
                Int32(n), buffer, &fx,
                { instance, theta, g, _, _ in
                    Unmanaged<LinearObjective>.fromOpaque(instance!).takeUnretainedValue().evaluate(theta: theta!, g!)
                },
                { instance, _, _, _, _, _, _, _, k, _ in
                    let problem = Unmanaged<LinearObjective>.fromOpaque(instance!).takeUnretainedValue()
                    problem.iterations = Int(k)
                    return problem.stop?(problem) == true ? 1 : 0
                },
                Unmanaged.passUnretained(self).toOpaque(), &parameters)
        }
        self.stop = nil
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
        solution = [Double](repeating: 0, count: n)
        unpack(theta: buffer, into: &solution)
        return (status, fx)
    }

    private var stop: ((LinearObjective) -> Bool)?
    /// w at the end of `minimize`, flat layout.
    var solution: [Double] = []

    /// The Euclidean norm of model row c's part of a flat gradient (weights and intercept).
    func rowNorm(_ g: [Double], _ c: Int) -> Double {
        let d = x.width
        var sum = g[m * d + c] * g[m * d + c]
        for j in 0..<d { sum += g[c * d + j] * g[c * d + j] }
        return sum.squareRoot()
    }

    /// Cholesky factor of c·[X 1]ᵀ[X 1]/N + λ·diag(1…1, 0 or 1): the loss's curvature with a
    /// constant in place of its per-row factor, plus the penalty's exactly. With θ = Lᵀw per class row, L-BFGS
    /// minimises the same objective in variables whose Hessian is near the identity, which
    /// on correlated, unscaled features takes 5 to 10 times fewer evaluations; the minimiser
    /// and the stopping test (on ∇w) do not change. One XᵀX (float32, ~0.2 s for 10,000 ×
    /// 2048) and one Cholesky per fit. nil when the factorisation fails (then θ = w).
    static func curvatureFactor(
        _ x32: [Float], count n: Int, width d: Int, pitch: Int, curvature: Double, lambda: Double,
        interceptPenalised: Bool
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
        p[d * size + d] = curvature + (interceptPenalised ? lambda : 0)
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

    /// f and ∂f/∂θ = (∂f/∂w) L⁻ᵀ per class row; records ∂f/∂w.
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
            lastGradient.withUnsafeMutableBufferPointer { g in evaluate(w.baseAddress!, g.baseAddress!) }
        }
        if firstGradient == nil { firstGradient = lastGradient }
        for c in 0..<m {
            for j in 0..<d { augmented[c * size + j] = lastGradient[c * d + j] }
            augmented[c * size + d] = lastGradient[m * d + c]
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

    /// f and ∂f/∂w at w in the flat layout [W (m × D); b (m)].
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
        let (classes, m, total, labels, loss, pitch) = (
            self.classes, self.m, self.total, self.labels, self.loss, self.pitch
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
                                    var sumLoss = 0.0
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
                                            switch loss {
                                            case .logistic(let weights):
                                                for c in 0..<classes {
                                                    logits[c] =
                                                        m == 1
                                                        ? (c == 1 ? Double(z[r]) + b[0] : 0)
                                                        : Double(z[r * m + c]) + b[c]
                                                }
                                                let top = logits.max() ?? 0
                                                let margin = logits[labels[i]] - top
                                                var sum = 0.0
                                                for c in 0..<classes {
                                                    logits[c] = exp(logits[c] - top)
                                                    sum += logits[c]
                                                }
                                                let s = weights[i] / total
                                                // logsumexp(z) − z_y; logits are now e^(z − top)
                                                sumLoss += s * (log(sum) - margin)
                                                // G = s · (softmax − onehot), for the free rows.
                                                for c in 0..<m {
                                                    let k = m == 1 ? 1 : c
                                                    let gv = s * (logits[k] / sum - (labels[i] == k ? 1 : 0))
                                                    g32[r * m + c] = Float(gv)
                                                    bias[c] += gv
                                                }
                                            case .squaredHinge(let positive, let negative):
                                                // Row c: class k against the rest, y = ±1, C scaled by
                                                // its side's weight; loss s·max(0, 1 − y·z)².
                                                for c in 0..<m {
                                                    let k = m == 1 ? 1 : c
                                                    let y: Double = labels[i] == k ? 1 : -1
                                                    let s = (y > 0 ? positive[c] : negative[c]) / total
                                                    let margin = 1 - y * (Double(z[r * m + c]) + b[c])
                                                    let gv = margin > 0 ? -2 * s * y * margin : 0
                                                    if margin > 0 { sumLoss += s * margin * margin }
                                                    g32[r * m + c] = Float(gv)
                                                    bias[c] += gv
                                                }
                                            }
                                        }
                                        // ∇W_chunk (m × D) += G_bᵀ X_b, X_b read in place while in L2
                                        ck_gemm_tn(
                                            Int32(count), Int32(d), Int32(m), xs, pitch, g32, m, out, d,
                                            CK_BODY_AVX512)
                                    }
                                    pl[chunk] = sumLoss
                                    for c in 0..<m { pb[chunk * m + c] = bias[c] }
                                }
                            }
                        }
                    }
                }
            }
        }
        // ∇W = Σ_chunks ∇W_chunk + λW;  ∇b = Σ_i G_i (+ λb where the intercept is penalised)
        let penalised = interceptPenalised ? m * d + m : m * d
        var penalty = 0.0
        var sum = 0.0
        for j in 0..<penalised { grad[j] = lambda * w[j] }
        for j in penalised..<(m * d + m) { grad[j] = 0 }
        for chunk in 0..<chunks {
            sum += blockLoss[chunk]
            for j in 0..<(m * d) { grad[j] += Double(partial[chunk * m * d + j]) }
            for c in 0..<m { grad[m * d + c] += blockBias[chunk * m + c] }
        }
        for j in 0..<penalised { penalty += w[j] * w[j] }
        return sum + 0.5 * lambda * penalty
    }
}
