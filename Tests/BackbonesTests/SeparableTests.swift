import XCTest

@testable import Backbones

final class SeparableTests: KernelTestCase {
    struct Case {
        var window: Window2D
        var multiplier = 1
        var outChannels: Int
        var bias = true
        var activation = Activation.linear
    }

    static let cases: [Case] = [
        // Xception's form: 3×3 "same", no bias; C = 19 runs the depthwise SIMD blocks and tail.
        Case(
            window: .same(batch: 1, height: 7, width: 6, channels: 19, kernel: (3, 3)),
            outChannels: 13, bias: false),
        // Stride 2 "same" on an odd size: the extra padding row/column at the bottom/right.
        Case(
            window: .same(
                batch: 2, height: 9, width: 7, channels: 8, kernel: (3, 3), strides: (2, 2)),
            outChannels: 5, activation: .relu),
        Case(
            window: Window2D(
                batch: 1, height: 6, width: 8, channels: 3, kernel: (3, 2),
                strides: (1, 2), padding: Padding(top: 2, bottom: 0, left: 1, right: 1)),
            multiplier: 3, outChannels: 4),
        Case(
            window: .same(
                batch: 1, height: 10, width: 11, channels: 4, kernel: (3, 3), dilation: (2, 2)),
            multiplier: 2, outChannels: 16, activation: .relu6),
    ]

    func testFastMatchesNaive() {
        var random = Random(seed: 5)
        for c in Self.cases {
            let w = c.window
            let middle = w.channels * c.multiplier
            let input = buffer(random.floats(w.inputCount))
            let depthwise = buffer(random.floats(w.kernelHeight * w.kernelWidth * middle))
            let pointwise = buffer(random.floats(middle * c.outChannels))
            let bias = c.bias ? buffer(random.floats(c.outChannels)) : nil
            let expected = output(count: w.outPixels * c.outChannels)
            Kernels.separableConv2dNaive(
                input.const, window: w, depthwiseKernel: depthwise.const,
                depthMultiplier: c.multiplier, pointwiseKernel: pointwise.const,
                outChannels: c.outChannels, bias: bias?.const, activation: c.activation,
                output: expected.pointer)
            let scratch = output(
                count: Kernels.separableConv2dScratchCount(
                    window: w, depthMultiplier: c.multiplier, outChannels: c.outChannels))
            let observed = output(count: w.outPixels * c.outChannels)
            Kernels.separableConv2d(
                input.const, window: w, depthwiseKernel: depthwise.const,
                depthMultiplier: c.multiplier, pointwiseKernel: pointwise.const,
                outChannels: c.outChannels, bias: bias?.const, activation: c.activation,
                output: observed.pointer, scratch: scratch.pointer)
            assertClose(observed.array, expected.array, "separable \(w) m\(c.multiplier)")
        }
    }

    /// Bands of 1, 2 and 3 output rows (the first and last touching the padding, the middle
    /// ones reading rows above their own) give the bits of the whole map in one band.
    func testBandsGiveTheWholeMapsBits() {
        var random = Random(seed: 9)
        let windows = [
            Window2D.same(batch: 2, height: 11, width: 6, channels: 21, kernel: (3, 3)),
            .same(batch: 1, height: 13, width: 9, channels: 16, kernel: (3, 3), strides: (2, 2)),
            Window2D(
                batch: 1, height: 10, width: 7, channels: 8, kernel: (3, 3), strides: (2, 1),
                padding: Padding(top: 0, bottom: 2, left: 1, right: 1)),
        ]
        for w in windows {
            let k = 24
            let input = buffer(random.floats(w.inputCount))
            let depthwise = buffer(random.floats(9 * w.channels))
            let pointwise = GemmWeights(random.floats(w.channels * k), rows: w.channels, columns: k)
            let bias = buffer(random.floats(k))
            func run(_ rows: Int) -> [Float] {
                let scratch = output(count: rows * w.outWidth * w.channels)
                let y = output(count: w.outPixels * k)
                Kernels.separableConv2dBands(
                    input.const, window: w, depthwiseKernel: depthwise.const,
                    pointwiseKernel: pointwise, bias: bias.const, activation: .relu,
                    output: y.pointer, scratch: scratch.pointer, bandRows: rows)
                return y.array
            }
            let whole = run(w.outHeight)
            for rows in [1, 2, 3] {
                if pointwise.packed {
                    XCTAssertEqual(run(rows), whole, "\(rows)-row bands of \(w)")
                } else {
                    assertClose(run(rows), whole, "\(rows)-row bands of \(w)")
                }
            }
        }
    }

    /// 3×3 "same" on a 2×2 image of 2 channels, ch0 = [1,2,3,4], ch1 = 10·ch0; depthwise box
    /// kernel on ch0, centre tap on ch1: every pixel sees all 4 cells, so ch0 -> 10 everywhere,
    /// ch1 -> [10,20,30,40]. Pointwise (2 -> 2) [[1, 1], [-1, 0.5]], bias [0, 1], ReLU:
    /// out0 = relu(10 - ch1'), out1 = 10 + 0.5·ch1' + 1.
    func testByHand() {
        let w = Window2D.same(batch: 1, height: 2, width: 2, channels: 2, kernel: (3, 3))
        let x = buffer([1, 10, 2, 20, 3, 30, 4, 40])
        var depthwise = [Float](repeating: 0, count: 18)  // (3,3,2,1)
        for tap in 0..<9 { depthwise[tap * 2] = 1 }
        depthwise[4 * 2 + 1] = 1
        let dw = buffer(depthwise)
        let pw = buffer([1, 1, -1, 0.5])  // (1,1,2,2): [in][out]
        let bias = buffer([0, 1])
        let expected: [Float] = [0, 16, 0, 21, 0, 26, 0, 31]
        for fast in [false, true] {
            let out = output(count: 8)
            if fast {
                let scratch = output(
                    count: Kernels.separableConv2dScratchCount(
                        window: w, depthMultiplier: 1, outChannels: 2))
                Kernels.separableConv2d(
                    x.const, window: w, depthwiseKernel: dw.const, pointwiseKernel: pw.const,
                    outChannels: 2, bias: bias.const, activation: .relu, output: out.pointer,
                    scratch: scratch.pointer)
            } else {
                Kernels.separableConv2dNaive(
                    x.const, window: w, depthwiseKernel: dw.const, pointwiseKernel: pw.const,
                    outChannels: 2, bias: bias.const, activation: .relu, output: out.pointer)
            }
            assertClose(out.array, expected, tolerance: 0, "separable by hand, fast \(fast)")
        }
    }
}
