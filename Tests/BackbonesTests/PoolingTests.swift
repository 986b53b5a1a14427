import Backbones
import CKernels
import XCTest

final class PoolingTests: KernelTestCase {
    static let windows: [Window2D] = [
        .same(batch: 2, height: 7, width: 6, channels: 13, kernel: (3, 3)),
        .same(batch: 1, height: 8, width: 9, channels: 16, kernel: (3, 3), strides: (2, 2)),
        .same(batch: 1, height: 9, width: 9, channels: 3, kernel: (2, 2), strides: (2, 2)),
        Window2D(batch: 1, height: 11, width: 10, channels: 10, kernel: (3, 3), strides: (2, 2)),
        Window2D(
            batch: 1, height: 7, width: 8, channels: 9, kernel: (3, 2), strides: (2, 1),
            padding: Padding(top: 1, bottom: 0, left: 0, right: 1)),
        Window2D(batch: 1, height: 6, width: 6, channels: 8, kernel: (1, 1), strides: (2, 2)),
    ]

    func testFastMatchesNaive() {
        var random = Random(seed: 4)
        for w in Self.windows {
            let input = buffer(random.floats(w.inputCount, in: -5...(-1)))
            let outCount = w.outPixels * w.channels
            let expectedMax = output(count: outCount)
            let observedMax = output(count: outCount)
            Kernels.maxPool2dNaive(input.const, window: w, output: expectedMax.pointer)
            Kernels.maxPool2d(input.const, window: w, output: observedMax.pointer)
            assertClose(observedMax.array, expectedMax.array, tolerance: 0, "max pool \(w)")
            let expectedAverage = output(count: outCount)
            let observedAverage = output(count: outCount)
            Kernels.averagePool2dNaive(input.const, window: w, output: expectedAverage.pointer)
            Kernels.averagePool2d(input.const, window: w, output: observedAverage.pointer)
            assertClose(observedAverage.array, expectedAverage.array, "avg pool \(w)")
        }
    }

    /// 4x4 ramp 0...15, 3x3 stride 1 "same" (padding 1 on every side): the corner window holds
    /// 4 valid cells, an edge window 6, an inner one 9; the average divides by that count.
    func testAverageExcludesPaddingByHand() {
        let w = Window2D.same(batch: 1, height: 4, width: 4, channels: 1, kernel: (3, 3))
        let input = buffer(ramp(16))
        // (0,0): (0+1+4+5)/4; (0,1): (0+1+2+4+5+6)/6; (1,1): 45/9; (3,3): (10+11+14+15)/4.
        let picks: [(Int, Float)] = [(0, 2.5), (1, 3), (5, 5), (15, 12.5)]
        for fast in [false, true] {
            let out = output(count: 16)
            if fast {
                Kernels.averagePool2d(input.const, window: w, output: out.pointer)
            } else {
                Kernels.averagePool2dNaive(input.const, window: w, output: out.pointer)
            }
            assertClose(
                picks.map { out.array[$0.0] }, picks.map(\.1), tolerance: 0,
                "avg 3x3/1 same corners, fast \(fast)")
        }
    }

    /// 3x3 stride 2 "same" on the 4x4 ramp (padding 0 top/left, 1 bottom/right).
    func testStrideTwoSameByHand() {
        let w = Window2D.same(
            batch: 1, height: 4, width: 4, channels: 1, kernel: (3, 3),
            strides: (2, 2))
        let input = buffer(ramp(16))
        for fast in [false, true] {
            let maxOut = output(count: 4)
            let averageOut = output(count: 4)
            if fast {
                Kernels.maxPool2d(input.const, window: w, output: maxOut.pointer)
                Kernels.averagePool2d(input.const, window: w, output: averageOut.pointer)
            } else {
                Kernels.maxPool2dNaive(input.const, window: w, output: maxOut.pointer)
                Kernels.averagePool2dNaive(input.const, window: w, output: averageOut.pointer)
            }
            assertClose(maxOut.array, [10, 11, 14, 15], tolerance: 0, "max 3x3/2, fast \(fast)")
            assertClose(
                averageOut.array, [45.0 / 9, 39.0 / 6, 66.0 / 6, 50.0 / 4], tolerance: 0,
                "avg 3x3/2, fast \(fast)")
        }
    }

    /// All-negative input: a max over padded cells read as 0 would give 0 at the corner.
    func testMaxIgnoresPaddingByHand() {
        let w = Window2D.same(batch: 1, height: 4, width: 4, channels: 1, kernel: (3, 3))
        let input = buffer(ramp(16).map { -$0 - 1 })
        for fast in [false, true] {
            let out = output(count: 16)
            if fast {
                Kernels.maxPool2d(input.const, window: w, output: out.pointer)
            } else {
                Kernels.maxPool2dNaive(input.const, window: w, output: out.pointer)
            }
            // corner (0,0): max(-1,-2,-5,-6); corner (3,3): max(-11,-12,-15,-16).
            assertClose(
                [out.array[0], out.array[15]], [-1, -11], tolerance: 0,
                "max ignores padding, fast \(fast)")
        }
    }

    func testGlobalPoolsByHand() {
        // (N=2, H=1, W=2, C=2): image 0 pixels [1, -2], [3, -4]; image 1 [5, 6], [7, 8.5]
        let input = buffer([1, -2, 3, -4, 5, 6, 7, 8.5])
        let average = output(count: 4)
        Kernels.globalAveragePool(
            input.const, batch: 2, height: 1, width: 2, channels: 2, output: average.pointer)
        assertClose(average.array, [2, -3, 6, 7.25], tolerance: 0, "global average")
        let maximum = output(count: 4)
        Kernels.globalMaxPool(
            input.const, batch: 2, height: 1, width: 2, channels: 2, output: maximum.pointer)
        assertClose(maximum.array, [3, -2, 7, 8.5], tolerance: 0, "global max")
    }

    func testGlobalAverageMatchesDouble() {
        var random = Random(seed: 5)
        let (n, h, w, c) = (2, 28, 28, 19)
        let x = random.floats(n * h * w * c, in: 0...3)
        var expected = [Float]()
        for image in 0..<n {
            for channel in 0..<c {
                var sum = 0.0
                for p in 0..<(h * w) { sum += Double(x[(image * h * w + p) * c + channel]) }
                expected.append(Float(sum / Double(h * w)))
            }
        }
        let out = output(count: n * c)
        Kernels.globalAveragePool(
            buffer(x).const, batch: n, height: h, width: w, channels: c, output: out.pointer)
        assertClose(out.array, expected, tolerance: 0, "global average vs Double")
    }

    /// Every SIMD body of the C kernel gives the reference's bits (the same Double sums in the
    /// same order) over channel counts that leave each block remainder: 96-channel blocks,
    /// 16/8-channel steps, scalar tails.
    func testGlobalAverageBodiesGiveTheNaiveBits() {
        var random = Random(seed: 6)
        for c in [1, 3, 8, 15, 16, 24, 47, 96, 97, 120, 672, 1157] {
            for (h, w) in [(1, 1), (7, 7), (3, 5)] {
                let x = buffer(random.floats(2 * h * w * c, in: -4...4))
                let expected = output(count: 2 * c)
                Kernels.globalAveragePoolNaive(
                    x.const, batch: 2, height: h, width: w, channels: c, output: expected.pointer)
                for body in [CK_BODY_AVX512, CK_BODY_AVX2, CK_BODY_PORTABLE] {
                    let out = output(count: 2 * c)
                    Kernels.globalAveragePool(
                        x.const, batch: 2, height: h, width: w, channels: c, output: out.pointer,
                        body: body)
                    XCTAssertEqual(out.array, expected.array, "C \(c) \(h)x\(w) body \(body.rawValue)")
                }
            }
        }
    }

    /// Every body of the windowed C pool gives the portable loop's bits, over channel counts
    /// that leave each remainder (64-channel blocks, 16/8-channel steps, masked and scalar
    /// tails) and windows clipped on every side; and the max matches the naive pool exactly.
    func testWindowPoolBodiesGiveTheSameBits() {
        var random = Random(seed: 7)
        for c in [1, 3, 8, 13, 16, 24, 40, 64, 72, 100, 288] {
            for w in [
                Window2D.same(batch: 2, height: 7, width: 5, channels: c, kernel: (3, 3)),
                .same(batch: 1, height: 8, width: 9, channels: c, kernel: (3, 3), strides: (2, 2)),
                Window2D(batch: 1, height: 6, width: 7, channels: c, kernel: (2, 2), strides: (2, 2)),
            ] {
                let input = buffer(random.floats(w.inputCount, in: -4...4))
                let count = w.outPixels * c
                let naiveMax = output(count: count)
                Kernels.maxPool2dNaive(input.const, window: w, output: naiveMax.pointer)
                let portableAverage = output(count: count)
                Kernels.averagePool2d(
                    input.const, window: w, output: portableAverage.pointer, body: CK_BODY_PORTABLE)
                for body in [CK_BODY_AVX512, CK_BODY_AVX2, CK_BODY_PORTABLE] {
                    let maxOut = output(count: count), averageOut = output(count: count)
                    Kernels.maxPool2d(input.const, window: w, output: maxOut.pointer, body: body)
                    Kernels.averagePool2d(input.const, window: w, output: averageOut.pointer, body: body)
                    XCTAssertEqual(maxOut.array, naiveMax.array, "max C \(c) \(w) body \(body.rawValue)")
                    XCTAssertEqual(
                        averageOut.array, portableAverage.array, "avg C \(c) \(w) body \(body.rawValue)")
                }
            }
        }
    }
}
