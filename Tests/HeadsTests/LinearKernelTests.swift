import CKernels
import Foundation
import Heads
import XCTest

/// The two kernels of a linear head's evaluation (Sources/CKernels/linear.c) against their
/// naive twins: the portable body, which every other body must match bit for bit, and a
/// double-precision reference it must be close to. Shapes cross every edge: classes past the
/// 12-class chunk, features past the 32-wide tile (with masked tails), rows past the 128-row
/// block, triangles past the 64-row solve block, strides wider than the rows.
final class LinearKernelTests: XCTestCase {
    struct Generator {
        var state: UInt64
        mutating func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
    }

    func testGradientProductMatchesItsTwins() {
        var random = Generator(state: 3)
        let shapes: [(r: Int, d: Int, m: Int)] = [
            (1, 1, 1), (5, 31, 10), (64, 32, 12), (129, 33, 13), (7, 100, 25), (200, 2049, 3),
        ]
        for s in shapes {
            let (lda, ldb, ldc) = (s.d + 3, s.m + 2, s.d + 5)
            let a = (0..<(s.r * lda)).map { _ in Float(random.next()) }
            let b = (0..<(s.r * ldb)).map { _ in Float(random.next()) }
            let start = (0..<(s.m * ldc)).map { _ in Float(random.next()) }
            var portable = start
            var fast = start
            ck_gemm_tn(Int32(s.r), Int32(s.d), Int32(s.m), a, lda, b, ldb, &portable, ldc, CK_BODY_PORTABLE)
            ck_gemm_tn(Int32(s.r), Int32(s.d), Int32(s.m), a, lda, b, ldb, &fast, ldc, CK_BODY_AVX512)
            XCTAssertEqual(fast, portable, "ck_gemm_tn \(s): the same bits in every body")
            for c in 0..<s.m {
                for j in 0..<ldc {
                    let index = c * ldc + j
                    guard j < s.d else {
                        XCTAssertEqual(portable[index], start[index], "wrote past the row: \(s)")
                        continue
                    }
                    var sum = Double(start[index])
                    var size = abs(sum)
                    for r in 0..<s.r {
                        sum += Double(b[r * ldb + c]) * Double(a[r * lda + j])
                        size += abs(Double(b[r * ldb + c]) * Double(a[r * lda + j]))
                    }
                    XCTAssertEqual(Double(portable[index]), sum, accuracy: 1e-6 * max(size, 1), "\(s) [\(c), \(j)]")
                }
            }
        }
    }

    func testTriangularSolvesMatchTheirTwins() {
        var random = Generator(state: 5)
        for n in [1, 7, 64, 65, 130, 301] {
            for upper in [false, true] {
                // A well-conditioned triangle: a dominant positive diagonal.
                let ldt = n + 1
                var t = [Float](repeating: .nan, count: n * ldt)
                for i in 0..<n {
                    for j in 0..<n where upper ? j >= i : j <= i {
                        t[i * ldt + j] = i == j ? Float(2 + random.next()) : Float(random.next() / Double(n))
                    }
                }
                let m = 11
                let ldx = n + 2
                let x = (0..<(m * ldx)).map { _ in random.next() }
                var portable = x
                var fast = x
                ck_solve_rows(Int32(n), t, ldt, upper, Int32(m), &portable, ldx, CK_BODY_PORTABLE)
                ck_solve_rows(Int32(n), t, ldt, upper, Int32(m), &fast, ldx, CK_BODY_AVX512)
                XCTAssertEqual(fast, portable, "ck_solve_rows n \(n) upper \(upper): the same bits in every body")
                // Y T = X, row by row: multiply back.
                for c in 0..<m {
                    for j in 0..<n {
                        var sum = 0.0
                        for i in 0..<n where upper ? i <= j : i >= j {
                            sum += portable[c * ldx + i] * Double(t[i * ldt + j])
                        }
                        XCTAssertEqual(sum, x[c * ldx + j], accuracy: 1e-12, "n \(n) upper \(upper) [\(c), \(j)]")
                    }
                    for j in n..<ldx { XCTAssertEqual(portable[c * ldx + j], x[c * ldx + j], "wrote past the row") }
                }
            }
        }
    }
}
