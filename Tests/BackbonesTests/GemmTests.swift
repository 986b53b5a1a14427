import Backbones
import CKernels
import XCTest

/// `Kernels.gemm` (the packed AVX2 kernel, and cblas_sgemm on plain weights) against
/// `denseNaive`, a Double-accumulating GEMM, on shapes that cross every edge of the packed
/// kernel: rows past its 6-row tiles and 72-row blocks, columns past its 16-column panels,
/// depths past its 256-deep blocks; with row strides wider than the rows.
final class GemmTests: KernelTestCase {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (5, 8, 3), (6, 16, 256), (7, 17, 257), (13, 15, 40), (75, 40, 600),
        (2, 33, 513), (73, 64, 64),
    ]

    func testMatchesNaive() {
        var random = Random(seed: 7)
        let activations: [Activation] = [.linear, .relu, .relu6, .swish, .sigmoid]
        for (index, s) in Self.shapes.enumerated() {
            let (lda, ldc) = index % 2 == 0 ? (s.k, s.n) : (s.k + 3, s.n + 5)
            let a = random.floats(s.m * lda, in: -2...2)
            let b = random.floats(s.k * s.n)
            let bias = index % 3 == 0 ? nil : random.floats(s.n)
            let activation = activations[index % activations.count]
            // The reference on the dense rows of A.
            let dense = (0..<s.m).flatMap { r in a[(r * lda)..<(r * lda + s.k)] }
            let expected = output(count: s.m * s.n)
            Kernels.denseNaive(
                buffer(dense).const, rows: s.m, inFeatures: s.k, weights: buffer(b).const,
                outFeatures: s.n, bias: bias.map { buffer($0).const }, activation: activation,
                output: expected.pointer)
            for pack in Kernels.packedGemmAvailable ? [true, false] : [false] {
                let weights = GemmWeights(b, rows: s.k, columns: s.n, pack: pack)
                XCTAssertEqual(weights.packed, pack)
                XCTAssertEqual(weights.matrix, b, "unpacked weights \(s)")
                let c = output(count: s.m * ldc)
                Kernels.gemm(
                    m: s.m, a: buffer(a).const, lda: lda, weights: weights,
                    bias: bias.map { buffer($0).const }, activation: activation, c: c.pointer,
                    ldc: ldc)
                let observed = (0..<s.m).flatMap { r in c.array[(r * ldc)..<(r * ldc + s.n)] }
                assertClose(
                    observed, expected.array, tolerance: 2e-6,
                    "gemm \(s) lda \(lda) ldc \(ldc) bias \(bias != nil) \(activation) packed \(pack)")
                // Nothing is written between the rows (they stay NaN).
                for r in 0..<s.m {
                    XCTAssertTrue(
                        c.array[(r * ldc + s.n)..<(r * ldc + ldc)].allSatisfy(\.isNaN),
                        "gemm \(s) wrote past row \(r)'s \(s.n) columns")
                }
            }
        }
    }

    /// The AVX-512 body (8×16 zmm tiles) and the AVX2 one (6×16) give the same bits on every
    /// edge shape and activation: which one a CPU runs does not change a feature.
    func testAVX512AndAVX2BodiesGiveTheSameBits() throws {
        try XCTSkipUnless(ck_has_avx512f(), "no AVX-512F")
        var random = Random(seed: 10)
        let kinds = [CK_LINEAR, CK_RELU, CK_RELU6, CK_SIGMOID, CK_SWISH]
        for (index, s)
            in (Self.shapes + [(49, 512, 300), (9, 24, 1000), (8, 16, 16), (49, 48, 300), (25, 32, 16), (12, 80, 70)])
            .enumerated()
        {
            let a = random.floats(s.m * s.k, in: -2...2)
            let b = random.floats(s.k * s.n)
            let bias = random.floats(s.n)
            var packed = [Float](repeating: 0, count: ck_gemm_packed_count(Int32(s.k), Int32(s.n)))
            ck_gemm_pack(b, s.n, Int32(s.k), Int32(s.n), &packed)
            for kind in kinds {
                var results: [[Float]] = []
                for avx512 in [false, true] {
                    var c = [Float](repeating: .nan, count: s.m * s.n)
                    bias.withUnsafeBufferPointer { bb in
                        ck_gemm_packed_body(
                            Int32(s.m), Int32(s.n), Int32(s.k), a, s.k, packed,
                            index % 2 == 0 ? bb.baseAddress : nil, kind, &c, s.n, avx512)
                    }
                    results.append(c)
                }
                XCTAssertEqual(results[0], results[1], "\(s) \(kind)")
            }
        }
    }

    /// Sigmoid and swish applied in the packed kernel's store give the bits of the separate
    /// activation pass over the linear output (the planner fuses them without changing a bit).
    func testFusedSigmoidAndSwishGiveThePassBits() throws {
        try XCTSkipUnless(Kernels.packedGemmAvailable, "no AVX2 + FMA")
        var random = Random(seed: 9)
        for (m, n, k) in [(13, 40, 24), (75, 17, 300)] {
            let a = buffer(random.floats(m * k, in: -3...3))
            let weights = GemmWeights(random.floats(k * n), rows: k, columns: n)
            let bias = buffer(random.floats(n))
            let linear = output(count: m * n)
            Kernels.gemm(
                m: m, a: a.const, lda: k, weights: weights, bias: bias.const, activation: .linear,
                c: linear.pointer, ldc: n)
            for activation in [Activation.sigmoid, .swish] {
                var expected = linear.array
                expected.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: m * n) }
                let fused = output(count: m * n)
                Kernels.gemm(
                    m: m, a: a.const, lda: k, weights: weights, bias: bias.const,
                    activation: activation, c: fused.pointer, ldc: n)
                XCTAssertEqual(fused.array, expected, "\(activation) (\(m), \(n), \(k))")
            }
        }
    }

    /// The packed kernel's sums run in k order whatever the tile, so a row gets the same bits
    /// alone as in the 74th place of a 75-row GEMM: an image's features do not depend on its
    /// batch (the executor relies on it).
    func testRowBitsDoNotDependOnItsPlace() throws {
        try XCTSkipUnless(Kernels.packedGemmAvailable, "no AVX2 + FMA")
        var random = Random(seed: 8)
        let (m, n, k) = (75, 40, 600)
        let a = random.floats(m * k)
        let weights = GemmWeights(random.floats(k * n), rows: k, columns: n)
        let bias = buffer(random.floats(n))
        let all = output(count: m * n)
        Kernels.gemm(
            m: m, a: buffer(a).const, lda: k, weights: weights, bias: bias.const,
            activation: .relu, c: all.pointer, ldc: n)
        for row in [0, 5, 6, 71, 72, 73] {
            let one = output(count: n)
            Kernels.gemm(
                m: 1, a: buffer(Array(a[(row * k)..<(row * k + k)])).const, lda: k,
                weights: weights, bias: bias.const, activation: .relu, c: one.pointer, ldc: n)
            XCTAssertEqual(one.array, Array(all.array[(row * n)..<(row * n + n)]), "row \(row)")
        }
    }
}
