import COpenBLAS
import Foundation

extension Kernels {
    nonisolated(unsafe) private static var blasThreads = 0
    private static let blasThreadsLock = NSLock()

    /// Sets how many threads each BLAS call may use (OpenBLAS' setting is process-wide).
    public static func useBLASThreads(_ n: Int) {
        blasThreadsLock.withLock {
            guard n != blasThreads else { return }
            openblas_set_num_threads(Int32(n))
            blasThreads = n
        }
    }

    /// Row-major `C = A · B`, or `C += A · B` with `accumulate`, through OpenBLAS; the one place
    /// the kernels call BLAS.
    /// A (m, k) with row stride lda, B (k, n) with row stride ldb -> C (m, n) with row stride ldc.
    @inline(__always)
    static func matmul(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        guard m > 0 && n > 0 else { return }
        guard k > 0 else {
            if accumulate { return }
            for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            return
        }
        precondition(
            max(m, n, k, lda, ldb, ldc) <= Int(Int32.max), "matrix too large for 32-bit BLAS")
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
            1, a, Int32(lda), b, Int32(ldb), accumulate ? 1 : 0, c, Int32(ldc))
    }

    /// Fully connected layer, Keras `Dense`: `y = x @ W + b`, then the activation (softmax over
    /// each row of OUT).
    /// in (N, IN) * weights (IN, OUT) + bias (OUT) -> out (N, OUT)
    public static func denseNaive(
        _ input: UnsafePointer<Float>, rows: Int, inFeatures: Int,
        weights: UnsafePointer<Float>, outFeatures: Int, bias: UnsafePointer<Float>?,
        activation: Activation = .linear, output: UnsafeMutablePointer<Float>
    ) {
        for r in 0..<rows {
            let y = output + r * outFeatures
            for o in 0..<outFeatures {
                var sum = Double(bias?[o] ?? 0)
                for i in 0..<inFeatures {
                    sum += Double(input[r * inFeatures + i]) * Double(weights[i * outFeatures + o])
                }
                y[o] = activation.isElementwise ? activation(Float(sum)) : Float(sum)
            }
            if activation == .softmax { softmaxNaive(y, rows: 1, channels: outFeatures, output: y) }
        }
    }

    /// Same as `denseNaive`: one sgemm, then bias and activation over the result.
    /// in (N, IN) * weights (IN, OUT) + bias (OUT) -> out (N, OUT)
    public static func dense(
        _ input: UnsafePointer<Float>, rows: Int, inFeatures: Int,
        weights: UnsafePointer<Float>, outFeatures: Int, bias: UnsafePointer<Float>?,
        activation: Activation = .linear, output: UnsafeMutablePointer<Float>
    ) {
        matmul(
            m: rows, n: outFeatures, k: inFeatures, a: input, lda: inFeatures,
            b: weights, ldb: outFeatures, c: output, ldc: outFeatures)
        biasActivation(
            output, rows: rows, channels: outFeatures, bias: bias, activation: activation)
    }
}
