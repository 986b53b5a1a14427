import Backbones
import XCTest

final class WinogradTests: KernelTestCase {
    typealias Case = ConvolutionTests.Case

    static let cases: [Case] = [
        // TF "same": pad 1 all round; 7×5 leaves partial tiles at the bottom and right.
        Case(batch: 2, height: 7, width: 5, channels: 8, outChannels: 16, kernel: (3, 3)),
        Case(height: 1, width: 1, channels: 16, outChannels: 8, kernel: (3, 3), activation: .relu),
        Case(height: 2, width: 3, channels: 8, outChannels: 8, kernel: (3, 3), bias: false),
        // "valid" (InceptionV3's 3×3 convs): no padding, output 2 smaller.
        Case(
            height: 11, width: 9, channels: 24, outChannels: 8, kernel: (3, 3),
            padding: .zero, activation: .relu6),
        Case(
            height: 12, width: 12, channels: 8, outChannels: 24, kernel: (3, 3),
            padding: Padding(top: 0, bottom: 2, left: 2, right: 0), activation: .swish),
        Case(height: 17, width: 16, channels: 32, outChannels: 40, kernel: (3, 3)),
    ]

    func testMatchesNaive() {
        var random = Random(seed: 7)
        for testCase in Self.cases {
            let w = testCase.window
            let k = testCase.outChannels
            XCTAssertTrue(Kernels.winogradApplies(w, outChannels: k, groups: 1), "\(testCase)")
            let input = random.floats(w.inputCount)
            let kernel = random.floats(9 * w.channels * k)
            let bias = testCase.bias ? buffer(random.floats(k)) : nil
            let outCount = w.batch * w.outHeight * w.outWidth * k
            let expected = output(count: outCount)
            Kernels.conv2dNaive(
                buffer(input).const, window: w, kernel: buffer(kernel).const, outChannels: k,
                bias: bias?.const, activation: testCase.activation, output: expected.pointer)
            for m in [2, 4] {
                let transformed = Kernels.winogradKernel(kernel, channels: w.channels, outChannels: k, tile: m)
                let u = Kernels.winogradWeights(transformed, channels: w.channels, outChannels: k, tile: m)
                // F(2×2) rounds like the direct convolution, F(4×4) about 10× worse.
                let tolerance: Float = m == 2 ? 1e-6 : 1e-5
                for portable in [false, true] {
                    for blockRows in [nil, 1, 2] {
                        let observed = output(count: outCount)
                        Kernels.conv2dWinograd(
                            buffer(input).const, window: w, transformedKernel: u, tile: m,
                            outChannels: k, bias: bias?.const, activation: testCase.activation,
                            output: observed.pointer, portable: portable, blockRows: blockRows)
                        assertClose(
                            observed.array, expected.array, tolerance: tolerance,
                            "F(\(m)) portable \(portable) rows \(blockRows.map(String.init) ?? "auto") \(testCase)")
                    }
                }
                // The GEMMs through cblas_sgemm (CPUs without AVX2 + FMA).
                let plain = Kernels.winogradWeights(
                    transformed, channels: w.channels, outChannels: k, tile: m, pack: false)
                let observedPlain = output(count: outCount)
                Kernels.conv2dWinograd(
                    buffer(input).const, window: w, transformedKernel: plain, tile: m,
                    outChannels: k, bias: bias?.const, activation: testCase.activation,
                    output: observedPlain.pointer, portable: true)
                assertClose(observedPlain.array, expected.array, tolerance: tolerance, "F(\(m)) cblas \(testCase)")
                // With the executor's scratch.
                let scratch = output(count: Kernels.winogradScratchCount(w, outChannels: k, tile: m))
                let observed = output(count: outCount)
                Kernels.conv2dWinograd(
                    buffer(input).const, window: w, transformedKernel: u, tile: m,
                    outChannels: k, bias: bias?.const, activation: testCase.activation,
                    output: observed.pointer, scratch: scratch.pointer)
                assertClose(observed.array, expected.array, tolerance: tolerance, "F(\(m)) scratch \(testCase)")
            }
        }
    }

    /// A 4×4 ramp, a kernel of ones, "same": every output is the sum of its 3×3 neighbourhood,
    /// small integers: F(2×2)'s transforms are exact on them (G has only halves), F(4×4)'s U
    /// holds sixths and twenty-fourths.
    func testRampByHand() {
        let w = Window2D.same(batch: 1, height: 4, width: 4, channels: 8, kernel: (3, 3))
        var input = [Float](repeating: 0, count: 16 * 8)
        for p in 0..<16 { input[p * 8] = Float(p) }  // channel 0 carries the ramp
        var kernel = [Float](repeating: 0, count: 9 * 8 * 8)
        for t in 0..<9 { kernel[t * 64] = 1 }  // (kh, kw, c 0, k 0)
        let expected: [Float] = [10, 18, 24, 18, 27, 45, 54, 39, 51, 81, 90, 63, 42, 66, 72, 50]
        for m in [2, 4] {
            let u = Kernels.winogradWeights(
                Kernels.winogradKernel(kernel, channels: 8, outChannels: 8, tile: m), channels: 8,
                outChannels: 8, tile: m)
            let out = output(count: 16 * 8)
            Kernels.conv2dWinograd(
                buffer(input).const, window: w, transformedKernel: u, tile: m, outChannels: 8,
                bias: nil, output: out.pointer)
            assertClose(
                (0..<16).map { out.array[$0 * 8] }, expected, tolerance: m == 2 ? 0 : 1e-6, "F(\(m)) ramp")
        }
    }
}
