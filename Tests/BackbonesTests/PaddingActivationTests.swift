import Backbones
import CKernels
import Foundation
import XCTest

final class PaddingTests: KernelTestCase {
    func testSamePaddingPutsTheOddPixelBottomRight() {
        // (n, k, s, d) -> (out, before, after)
        let cases: [((Int, Int, Int, Int), (Int, Int, Int))] = [
            ((5, 3, 2, 1), (3, 1, 1)),
            ((6, 3, 2, 1), (3, 0, 1)),
            ((224, 7, 2, 1), (112, 2, 3)),
            ((7, 1, 2, 1), (4, 0, 0)),
            ((5, 3, 1, 2), (5, 2, 2)),
            ((6, 4, 1, 1), (6, 1, 2)),
            ((2, 5, 1, 1), (2, 2, 2)),
        ]
        for ((n, k, s, d), expected) in cases {
            let got = Padding.same(input: n, kernel: k, stride: s, dilation: d)
            XCTAssertTrue(
                got == expected,
                "same(n \(n), k \(k), s \(s), d \(d)): expected \(expected), observed \(got)")
        }
    }

    func testValid() {
        let cases: [((Int, Int, Int, Int), Int)] = [
            ((5, 3, 2, 1), 2), ((6, 3, 2, 1), 2), ((7, 3, 1, 2), 3), ((299, 3, 2, 1), 149),
            ((2, 3, 1, 1), 0),
        ]
        for ((n, k, s, d), out) in cases {
            let got = Padding.valid(input: n, kernel: k, stride: s, dilation: d)
            XCTAssertTrue(
                got == (out, 0, 0),
                "valid(\(n), \(k), \(s), \(d)): expected \(out), observed \(got)")
        }
    }

    func testWindowOutputSize() {
        let w = Window2D.same(
            batch: 1, height: 5, width: 6, channels: 1, kernel: (3, 3),
            strides: (2, 2))
        XCTAssertEqual(w.padding, Padding(top: 1, bottom: 1, left: 0, right: 1))
        XCTAssertEqual([w.outHeight, w.outWidth], [3, 3])
        let explicit = Window2D(
            batch: 2, height: 224, width: 224, channels: 3, kernel: (7, 7),
            strides: (2, 2), padding: Padding(top: 3, bottom: 3, left: 3, right: 3))
        XCTAssertEqual(
            [explicit.outHeight, explicit.outWidth, explicit.outPixels], [112, 112, 2 * 112 * 112])
    }
}

final class ActivationTests: KernelTestCase {
    /// Values computed by hand / in Double (Python math): relu6 clamps, hard sigmoid is
    /// relu6(x+3)/6, swish x*sigmoid(x), gelu the exact erf form.
    func testByHand() {
        let cases: [(Activation, Float, Float)] = [
            (.linear, -2.5, -2.5),
            (.relu, -1, 0), (.relu, 2, 2),
            (.relu6, -1, 0), (.relu6, 3.5, 3.5), (.relu6, 7, 6),
            (.sigmoid, 0, 0.5), (.sigmoid, 2, 0.8807970779778823), (.sigmoid, -200, 0),
            (.swish, 1, 0.7310585786300049), (.swish, -1, -0.2689414213699951),
            (.swish, -200, 0), (.swish, 50, 50),
            (.hardSigmoid, 0, 0.5), (.hardSigmoid, -3, 0), (.hardSigmoid, 3, 1),
            (.hardSigmoid, 1, 2.0 / 3.0), (.hardSigmoid, -5, 0), (.hardSigmoid, 9, 1),
            (.hardSwish, 1, 2.0 / 3.0), (.hardSwish, -3, 0), (.hardSwish, 4, 4),
            (.hardSwish, -1.5, -0.375),
            (.gelu, 0, 0), (.gelu, 1, 0.8413447460685429), (.gelu, -1, -0.15865525393145707),
            (.tanh, 0.5, 0.46211715726000974),
        ]
        for (activation, x, expected) in cases {
            let scalar = activation(x)
            let buffer = buffer([x])
            activation.apply(buffer.pointer, count: 1)
            for (label, observed) in [("scalar", scalar), ("apply", buffer.array[0])] {
                XCTAssertEqual(
                    observed, expected, accuracy: 2e-7 * max(1, abs(expected)),
                    "\(activation)(\(x)) \(label): expected \(expected), observed \(observed)")
            }
        }
    }

    /// The vectorized sigmoid and swish (CKernels' polynomial e^x), every body, within 1e-6 of
    /// the Double formula relative to each value, across the whole range where they are not
    /// 0/1 and every tail length; saturated at the ends, never NaN or inf.
    func testVectorizedSigmoidSwishRelativeError() {
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        var random = Random(seed: 5)
        let x = random.floats(4099, in: -80...80) + [0, -0.0, 1e-30, -1e-30, 15.5, -15.5]
        var bits: [ck_body: [Float]] = [:]
        for body in [CK_BODY_AVX512, CK_BODY_AVX2, CK_BODY_PORTABLE] {
            let label = "body \(body.rawValue)"
            var sigmoids = x, swishes = x
            ck_apply_activation(CK_SIGMOID, &sigmoids, x.count, body)
            ck_apply_activation(CK_SWISH, &swishes, x.count, body)
            bits[ck_available_body(body)] = sigmoids + swishes
            for (kind, formula) in [(CK_SIGMOID, sigmoid), (CK_SWISH, { $0 * sigmoid($0) })] {
                for n in [x.count, 1, 7, 9, 17] {
                    var y = Array(x.prefix(n))
                    ck_apply_activation(kind, &y, n, body)
                    for i in 0..<n {
                        let expected = formula(Double(x[i]))
                        XCTAssertLessThanOrEqual(
                            abs(Double(y[i]) - expected), 1e-6 * abs(expected) + 1e-37,
                            "\(kind) \(label) x \(x[i]): \(y[i]) vs \(expected)")
                    }
                }
            }
            var ends: [Float] = [-1000, -88.5, -88, 88, 88.5, 1000, -.infinity, .infinity]
            ck_apply_activation(CK_SIGMOID, &ends, ends.count, body)
            XCTAssertEqual(ends.map { $0 < 1e-37 ? 0 : $0 }, [0, 0, 0, 1, 1, 1, 0, 1], "sigmoid ends, \(label)")
            var swish: [Float] = [-1000, -88.5, 88.5, 1000]
            ck_apply_activation(CK_SWISH, &swish, swish.count, body)
            XCTAssertEqual(swish.map { abs($0) < 1e-30 ? 0 : $0 }, [0, 0, 88.5, 1000], "swish ends, \(label)")
        }
        // The 16-lane body runs the 8-lane one's operations per lane: the same bits.
        if let wide = bits[CK_BODY_AVX512], let narrow = bits[CK_BODY_AVX2] {
            XCTAssertEqual(wide, narrow, "AVX-512 vs AVX2 sigmoid and swish bits")
        }
    }

    /// `apply` over a buffer equals the Double-precision formula at every point.
    func testApplyMatchesDoubleFormula() {
        var random = Random(seed: 3)
        let x = random.floats(1001, in: -8...8)
        func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
        let formulas: [(Activation, (Double) -> Double)] = [
            (.linear, { $0 }),
            (.relu, { max($0, 0) }),
            (.relu6, { min(max($0, 0), 6) }),
            (.sigmoid, sigmoid),
            (.swish, { $0 * sigmoid($0) }),
            (.hardSigmoid, { min(max($0 + 3, 0), 6) / 6 }),
            (.hardSwish, { $0 * min(max($0 + 3, 0), 6) / 6 }),
            (.gelu, { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }),
            (.tanh, { Foundation.tanh($0) }),
        ]
        for (activation, formula) in formulas {
            let buffer = buffer(x)
            activation.apply(buffer.pointer, count: x.count)
            let expected = x.map { Float(formula(Double($0))) }
            assertClose(buffer.array, expected, tolerance: 1e-6, "\(activation) apply")
        }
    }

    func testSoftmaxByHand() {
        let x = buffer([1, 2, 3, 1000, 1000, 1000])
        for fast in [false, true] {
            let out = output(count: 6)
            (fast ? Kernels.softmax : Kernels.softmaxNaive)(x.const, 2, 3, out.pointer)
            assertClose(
                out.array, [0.09003057, 0.24472847, 0.66524096, 1.0 / 3, 1.0 / 3, 1.0 / 3],
                tolerance: 1e-7, "softmax rows, fast \(fast)")
        }
    }

    /// The Float kernel against the Double specification on classifier-sized rows, peaked and
    /// flat, in place through `Activation.apply(_:rows:channels:)`.
    func testSoftmaxMatchesNaive() {
        var random = Random(seed: 12)
        for (rows, channels, spread) in [(3, 1000, Float(20)), (2, 1000, 0.01), (5, 7, 3)] {
            let x = random.floats(rows * channels, in: -1...1).map { $0 * spread }
            let expected = output(count: rows * channels)
            Kernels.softmaxNaive(buffer(x).const, rows: rows, channels: channels, output: expected.pointer)
            let observed = buffer(x)
            Activation.softmax.apply(observed.pointer, rows: rows, channels: channels)
            assertClose(
                observed.array, expected.array, tolerance: 1e-6,
                "softmax \(rows)x\(channels) spread \(spread)")
            for r in 0..<rows {
                let sum = observed.array[r * channels..<(r + 1) * channels].reduce(0, +)
                XCTAssertEqual(sum, 1, accuracy: 1e-5, "row \(r) sums to 1")
            }
        }
        XCTAssertFalse(Activation.softmax.isElementwise)
        XCTAssertTrue(Activation.relu.isElementwise)
    }
}
