import Backbones
import Foundation
import XCTest

final class ConvolutionTests: KernelTestCase {
    struct Case: CustomStringConvertible {
        var batch = 1
        var height: Int
        var width: Int
        var channels: Int
        var outChannels: Int
        var kernel: (Int, Int)
        var strides = (1, 1)
        var dilation = (1, 1)
        var groups = 1
        /// nil: TF "same".
        var padding: Padding? = nil
        var bias = true
        var activation = Activation.linear

        var window: Window2D {
            if let padding {
                return Window2D(
                    batch: batch, height: height, width: width, channels: channels,
                    kernel: kernel, strides: strides, dilation: dilation, padding: padding)
            }
            return .same(
                batch: batch, height: height, width: width, channels: channels, kernel: kernel,
                strides: strides, dilation: dilation)
        }

        var description: String {
            "N\(batch) \(height)x\(width)x\(channels)->\(outChannels) k\(kernel) s\(strides) "
                + "d\(dilation) g\(groups) pad \(padding.map { "\($0)" } ?? "same") "
                + "bias \(bias) \(activation)"
        }
    }

    static let cases: [Case] = [
        Case(batch: 2, height: 7, width: 5, channels: 3, outChannels: 4, kernel: (3, 3)),
        Case(height: 8, width: 7, channels: 5, outChannels: 6, kernel: (3, 3), strides: (2, 2)),
        Case(height: 9, width: 10, channels: 4, outChannels: 3, kernel: (3, 3), dilation: (2, 2)),
        Case(
            height: 11, width: 6, channels: 3, outChannels: 5, kernel: (3, 2), strides: (2, 1),
            dilation: (1, 2), activation: .relu),
        Case(
            batch: 2, height: 9, width: 9, channels: 4, outChannels: 6, kernel: (3, 3),
            strides: (2, 2), groups: 2, activation: .swish),
        Case(
            height: 6, width: 7, channels: 6, outChannels: 9, kernel: (1, 1), groups: 3,
            bias: false),
        // groups == C: routed to the depthwise kernel (multiplier 2, ConvNeXt-style 7x7).
        Case(
            height: 9, width: 8, channels: 5, outChannels: 10, kernel: (7, 7), groups: 5,
            activation: .gelu),
        Case(batch: 3, height: 5, width: 6, channels: 7, outChannels: 4, kernel: (1, 1)),
        Case(
            height: 7, width: 7, channels: 6, outChannels: 5, kernel: (1, 1), strides: (2, 2),
            activation: .relu6),
        Case(
            height: 7, width: 8, channels: 3, outChannels: 4, kernel: (2, 3), strides: (2, 1),
            padding: Padding(top: 0, bottom: 2, left: 1, right: 0), activation: .hardSwish),
        Case(
            height: 10, width: 9, channels: 3, outChannels: 8, kernel: (7, 7), strides: (2, 2),
            padding: Padding(top: 3, bottom: 3, left: 3, right: 3), activation: .sigmoid),
        // 32*32 = 1024 output pixels over 455-pixel tiles: three tiles, the last one partial
        // (a map of at most two tiles is one).
        Case(height: 32, width: 32, channels: 16, outChannels: 7, kernel: (3, 3)),
        Case(
            height: 13, width: 11, channels: 8, outChannels: 12, kernel: (5, 5), strides: (2, 2),
            groups: 4, bias: false, activation: .tanh),
    ]

    func testFastMatchesNaive() {
        var random = Random(seed: 1)
        for testCase in Self.cases {
            let w = testCase.window
            let k = testCase.outChannels
            let input = buffer(random.floats(w.inputCount))
            let kernel = buffer(
                random.floats(w.kernelHeight * w.kernelWidth * w.channels / testCase.groups * k))
            let bias = testCase.bias ? buffer(random.floats(k)) : nil
            let outCount = w.outPixels * k
            let expected = output(count: outCount)
            Kernels.conv2dNaive(
                input.const, window: w, kernel: kernel.const, outChannels: k,
                groups: testCase.groups, bias: bias?.const, activation: testCase.activation,
                output: expected.pointer)

            let observed = output(count: outCount)
            Kernels.conv2d(
                input.const, window: w, kernel: kernel.const, outChannels: k,
                groups: testCase.groups, bias: bias?.const, activation: testCase.activation,
                output: observed.pointer)
            assertClose(observed.array, expected.array, "conv2d \(testCase)")

            // The same with caller-provided scratch, as the executor will call it.
            let scratchCount = Kernels.conv2dScratchCount(
                window: w, outChannels: k, groups: testCase.groups)
            let scratch = output(count: scratchCount)
            let observedWithScratch = output(count: outCount)
            Kernels.conv2d(
                input.const, window: w, kernel: kernel.const, outChannels: k,
                groups: testCase.groups, bias: bias?.const, activation: testCase.activation,
                output: observedWithScratch.pointer, scratch: scratch.pointer)
            assertClose(
                observedWithScratch.array, expected.array, "conv2d with scratch \(testCase)")

            // The cblas_sgemm path (CPUs without AVX2 + FMA) on the same case.
            let plain = GemmWeights(
                kernel.array, rows: w.kernelHeight * w.kernelWidth * w.channels / testCase.groups,
                columns: k, pack: false)
            let observedPlain = output(count: outCount)
            Kernels.conv2d(
                input.const, window: w, kernel: plain, outChannels: k, groups: testCase.groups,
                bias: bias?.const, activation: testCase.activation, output: observedPlain.pointer)
            assertClose(observedPlain.array, expected.array, "conv2d cblas \(testCase)")
        }
    }

    /// 4x4 ramp 0...15, 3x3 kernel of ones, stride 2, TF "same": padding 0 top/left and 1
    /// bottom/right, so the four windows sum rows 0-2/2-3 by columns 0-2/2-3 of the ramp.
    /// (With the odd pixel at the top/left the first output would be 0+1+4+5 = 10.)
    func testStrideTwoSameByHand() {
        let w = Window2D.same(
            batch: 1, height: 4, width: 4, channels: 1, kernel: (3, 3),
            strides: (2, 2))
        XCTAssertEqual(w.padding, Padding(top: 0, bottom: 1, left: 0, right: 1))
        XCTAssertEqual([w.outHeight, w.outWidth], [2, 2])
        let input = buffer(ramp(16))
        let kernel = buffer([Float](repeating: 1, count: 9))
        let expected: [Float] = [45, 39, 66, 50]
        let naive = output(count: 4)
        Kernels.conv2dNaive(
            input.const, window: w, kernel: kernel.const, outChannels: 1, bias: nil,
            output: naive.pointer)
        assertClose(naive.array, expected, tolerance: 0, "naive 3x3/2 same on 4x4 ramp")
        let fast = output(count: 4)
        Kernels.conv2d(
            input.const, window: w, kernel: kernel.const, outChannels: 1, bias: nil,
            output: fast.pointer)
        assertClose(fast.array, expected, tolerance: 0, "fast 3x3/2 same on 4x4 ramp")
    }

    /// Two input channels, two output channels, 1x1: out = x @ W + b then ReLU, by hand.
    func testPointwiseBiasReluByHand() {
        let w = Window2D(batch: 1, height: 1, width: 2, channels: 2, kernel: (1, 1))
        let input = buffer([1, 2, -3, 1])
        // HWIO (1,1,2,2): W[i][o]
        let kernel = buffer([1, -1, 2, 0.5])
        let bias = buffer([0.5, -4])
        // pixel 0: [1*1 + 2*2 + 0.5, 1*-1 + 2*0.5 - 4] = [5.5, -4] -> [5.5, 0]
        // pixel 1: [-3*1 + 1*2 + 0.5, -3*-1 + 1*0.5 - 4] = [-0.5, -0.5] -> [0, 0]
        let expected: [Float] = [5.5, 0, 0, 0]
        for fast in [false, true] {
            let out = output(count: 4)
            if fast {
                Kernels.conv2d(
                    input.const, window: w, kernel: kernel.const, outChannels: 2,
                    bias: bias.const, activation: .relu, output: out.pointer)
            } else {
                Kernels.conv2dNaive(
                    input.const, window: w, kernel: kernel.const, outChannels: 2,
                    bias: bias.const, activation: .relu, output: out.pointer)
            }
            assertClose(out.array, expected, tolerance: 0, "1x1 bias relu, fast \(fast)")
        }
    }

    /// Grouped conv by hand: 2 groups of one channel each, 1x1 kernel, output channel o reads
    /// only input channel o.
    func testGroupsReadOnlyTheirChannelsByHand() {
        let w = Window2D(batch: 1, height: 1, width: 1, channels: 4, kernel: (1, 1))
        let input = buffer([1, 10, 100, 1000])
        // (1,1,C/groups = 2, K = 2): rows = in channel within group, columns = out channel.
        let kernel = buffer([1, 2, 3, 4])
        // group 0 (in 1, 10) -> out 0 = 1*1 + 10*3; group 1 (in 100, 1000) -> out 1 = 100*2 + 1000*4
        let expected: [Float] = [31, 4200]
        let fast = output(count: 2)
        Kernels.conv2d(
            input.const, window: w, kernel: kernel.const, outChannels: 2, groups: 2, bias: nil,
            output: fast.pointer)
        assertClose(fast.array, expected, tolerance: 0, "grouped 1x1 fast")
        let naive = output(count: 2)
        Kernels.conv2dNaive(
            input.const, window: w, kernel: kernel.const, outChannels: 2, groups: 2, bias: nil,
            output: naive.pointer)
        assertClose(naive.array, expected, tolerance: 0, "grouped 1x1 naive")
    }

    /// ResNet-like 3x3 56x56x64 -> 64, stride 1, same: prints naive vs fast time.
    func testTimingResNetThreeByThree() {
        var random = Random(seed: 7)
        let w = Window2D.same(batch: 1, height: 56, width: 56, channels: 64, kernel: (3, 3))
        let input = buffer(random.floats(w.inputCount))
        let kernel = buffer(random.floats(3 * 3 * 64 * 64, in: -0.1...0.1))
        let bias = buffer(random.floats(64))
        let scratch = output(count: Kernels.conv2dScratchCount(window: w, outChannels: 64))
        let naive = output(count: w.outPixels * 64)
        let fast = output(count: w.outPixels * 64)

        var clock = ContinuousClock.now
        Kernels.conv2dNaive(
            input.const, window: w, kernel: kernel.const, outChannels: 64, bias: bias.const,
            activation: .relu, output: naive.pointer)
        let naiveTime = ContinuousClock.now - clock

        let runs = 10
        Kernels.conv2d(
            input.const, window: w, kernel: kernel.const, outChannels: 64, bias: bias.const,
            activation: .relu, output: fast.pointer, scratch: scratch.pointer)
        clock = .now
        for _ in 0..<runs {
            Kernels.conv2d(
                input.const, window: w, kernel: kernel.const, outChannels: 64, bias: bias.const,
                activation: .relu, output: fast.pointer, scratch: scratch.pointer)
        }
        let fastTime = (ContinuousClock.now - clock) / runs
        let gflop = 2.0 * Double(w.outPixels * 64 * 9 * 64) / 1e9
        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        print(
            "conv2d 3x3 56x56x64->64: naive \(seconds(naiveTime) * 1000) ms, fast "
                + "\(seconds(fastTime) * 1000) ms (\(gflop / seconds(fastTime)) GFLOP/s), "
                + "speedup \(seconds(naiveTime) / seconds(fastTime))x")
        assertClose(fast.array, naive.array, "timed conv")
    }
}
