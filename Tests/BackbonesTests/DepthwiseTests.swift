import CKernels
import XCTest

@testable import Backbones

final class DepthwiseTests: KernelTestCase {
    struct Case {
        var window: Window2D
        var multiplier = 1
        var bias = true
        var activation = Activation.linear
    }

    static let cases: [Case] = [
        // C = 19: two SIMD8 blocks plus a scalar tail.
        Case(window: .same(batch: 2, height: 7, width: 6, channels: 19, kernel: (3, 3))),
        Case(
            window: .same(
                batch: 1, height: 8, width: 9, channels: 16, kernel: (3, 3),
                strides: (2, 2)), activation: .relu6),
        Case(
            window: .same(
                batch: 1, height: 9, width: 7, channels: 5, kernel: (5, 5),
                strides: (2, 2)), multiplier: 2, activation: .swish),
        Case(
            window: .same(
                batch: 1, height: 10, width: 11, channels: 8, kernel: (3, 3),
                dilation: (2, 2)), bias: false),
        // MobileNet's stride-2 form: ZeroPadding2D(((0,1),(0,1))) folded into the window.
        Case(
            window: Window2D(
                batch: 1, height: 9, width: 9, channels: 12, kernel: (3, 3),
                strides: (2, 2), padding: Padding(top: 0, bottom: 1, left: 0, right: 1))),
        Case(
            window: Window2D(
                batch: 1, height: 6, width: 8, channels: 3, kernel: (3, 2),
                strides: (1, 2), padding: Padding(top: 2, bottom: 0, left: 1, right: 1)),
            multiplier: 3, activation: .hardSwish),
        Case(
            window: .same(batch: 1, height: 12, width: 12, channels: 24, kernel: (7, 7)),
            activation: .gelu),
    ]

    func testFastMatchesNaive() {
        var random = Random(seed: 2)
        for testCase in Self.cases {
            let w = testCase.window
            let m = testCase.multiplier
            let outChannels = w.channels * m
            let input = buffer(random.floats(w.inputCount))
            let kernel = buffer(random.floats(w.kernelHeight * w.kernelWidth * outChannels))
            let bias = testCase.bias ? buffer(random.floats(outChannels)) : nil
            let expected = output(count: w.outPixels * outChannels)
            Kernels.depthwiseConv2dNaive(
                input.const, window: w, kernel: kernel.const, depthMultiplier: m,
                bias: bias?.const, activation: testCase.activation, output: expected.pointer)
            let observed = output(count: w.outPixels * outChannels)
            Kernels.depthwiseConv2d(
                input.const, window: w, kernel: kernel.const, depthMultiplier: m,
                bias: bias?.const, activation: testCase.activation, output: observed.pointer)
            assertClose(observed.array, expected.array, "depthwise \(w) m\(m)")

            // A grouped Conv2D with groups == C is the same layer (same kernel memory).
            let grouped = output(count: w.outPixels * outChannels)
            Kernels.conv2dNaive(
                input.const, window: w, kernel: kernel.const, outChannels: outChannels,
                groups: w.channels, bias: bias?.const, activation: testCase.activation,
                output: grouped.pointer)
            assertClose(grouped.array, expected.array, "grouped conv as depthwise \(w) m\(m)")
        }
    }

    /// The multiplier-1 C kernel (every body the CPU has: AVX-512, AVX2/FMA, portable) against the Double reference over the shapes its blocking splits on: 3x3 and
    /// 5x5, stride 1 and 2, "same" (stride 2 on even sizes pads bottom/right more), "valid" and
    /// a lopsided explicit padding, dilation 2, C below, at and off multiples of 8, maps of 1x1
    /// and 2x3 and widths that leave every block remainder (8+4+1, 8+8+4, ...).
    func testCKernelMatchesNaiveAcrossShapes() {
        var random = Random(seed: 7)
        let activations: [Activation] = [.linear, .relu, .relu6, .swish]
        var cases = 0
        for k in [3, 5] {
            for stride in [1, 2] {
                for dilation in [1, 2] {
                    for (h, wd) in [(1, 1), (2, 3), (8, 13), (11, 20)] {
                        for channels in [3, 8, 13, 32, 40, 56] {
                            for padding in 0..<3 {
                                let span = (k - 1) * dilation + 1
                                let explicit: Padding
                                switch padding {
                                case 0:
                                    explicit = .same(
                                        height: h, width: wd, kernel: (k, k),
                                        strides: (stride, stride), dilation: (dilation, dilation))
                                case 1: explicit = .zero
                                default:
                                    explicit = Padding(
                                        top: 0, bottom: span / 2 + 1, left: span - 1, right: 1)
                                }
                                if h + explicit.top + explicit.bottom < span
                                    || wd + explicit.left + explicit.right < span
                                {
                                    continue  // "valid" window larger than the map
                                }
                                let w = Window2D(
                                    batch: 2, height: h, width: wd, channels: channels,
                                    kernel: (k, k), strides: (stride, stride),
                                    dilation: (dilation, dilation), padding: explicit)
                                let activation = activations[cases % activations.count]
                                checkCKernel(
                                    w, bias: cases % 3 != 0, activation: activation, &random)
                                cases += 1
                            }
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(cases, 300)
    }

    func checkCKernel(
        _ w: Window2D, bias hasBias: Bool, activation: Activation, _ random: inout Random,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let count = w.outPixels * w.channels
        let input = buffer(random.floats(w.inputCount, in: -3...3))
        let kernel = buffer(random.floats(w.kernelHeight * w.kernelWidth * w.channels))
        let bias = hasBias ? buffer(random.floats(w.channels)) : nil
        let expected = output(count: count)
        Kernels.depthwiseConv2dNaive(
            input.const, window: w, kernel: kernel.const, bias: bias?.const,
            activation: activation, output: expected.pointer)
        var bits: [ck_body: [Float]] = [:]
        for body in [CK_BODY_AVX512, CK_BODY_AVX2, CK_BODY_PORTABLE] {
            let observed = output(count: count)
            Kernels.depthwiseConv2d(
                input.const, window: w, kernel: kernel.const, bias: bias?.const,
                activation: activation, output: observed.pointer, body: body)
            assertClose(
                observed.array, expected.array,
                "\(w) bias \(hasBias) \(activation) body \(body.rawValue)", file: file, line: line)
            bits[ck_available_body(body)] = observed.array
        }
        // Same FMAs per lane at either width: the AVX-512 body gives the AVX2 body's bits.
        if let wide = bits[CK_BODY_AVX512], let narrow = bits[CK_BODY_AVX2] {
            XCTAssertEqual(
                wide, narrow, "\(w) bias \(hasBias) \(activation) AVX-512 vs AVX2 bits", file: file, line: line)
        }
    }

    /// Sigmoid and swish, applied by the C kernel on each row it writes, give the bits of the
    /// activation pass over the linear output (the AVX2 body; the portable one is checked
    /// against the reference above).
    func testFusedSigmoidAndSwishGiveThePassBits() {
        var random = Random(seed: 11)
        let w = Window2D.same(batch: 1, height: 9, width: 13, channels: 20, kernel: (3, 3))
        let input = buffer(random.floats(w.inputCount, in: -3...3))
        let kernel = buffer(random.floats(9 * w.channels))
        let bias = buffer(random.floats(w.channels))
        let count = w.outPixels * w.channels
        let linear = output(count: count)
        Kernels.depthwiseConv2d(
            input.const, window: w, kernel: kernel.const, bias: bias.const, activation: .linear,
            output: linear.pointer)
        for activation in [Activation.sigmoid, .swish] {
            var expected = linear.array
            expected.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: count) }
            let fused = output(count: count)
            Kernels.depthwiseConv2d(
                input.const, window: w, kernel: kernel.const, bias: bias.const,
                activation: activation, output: fused.pointer)
            XCTAssertEqual(fused.array, expected, "\(activation)")
        }
    }

    /// 3x3 ramp 1...9 on one channel, multiplier 2, valid: m=0 is a box of ones (sum 45),
    /// m=1 picks the centre (5).
    func testDepthMultiplierByHand() {
        let w = Window2D(batch: 1, height: 3, width: 3, channels: 1, kernel: (3, 3))
        let input = buffer((1...9).map(Float.init))
        // (3,3,1,2): [kh][kw][0][m]
        var kernel = [Float](repeating: 0, count: 18)
        for tap in 0..<9 { kernel[tap * 2] = 1 }
        kernel[4 * 2 + 1] = 1
        let k = buffer(kernel)
        for fast in [false, true] {
            let out = output(count: 2)
            if fast {
                Kernels.depthwiseConv2d(
                    input.const, window: w, kernel: k.const, depthMultiplier: 2, bias: nil,
                    output: out.pointer)
            } else {
                Kernels.depthwiseConv2dNaive(
                    input.const, window: w, kernel: k.const, depthMultiplier: 2, bias: nil,
                    output: out.pointer)
            }
            assertClose(out.array, [45, 5], tolerance: 0, "multiplier 2 by hand, fast \(fast)")
        }
    }

    /// Stride-2 "same" on a 4x4 ramp with 9 channels (one SIMD block plus a tail), each channel
    /// c = ramp * (c+1), box kernel: the conv hand case [45, 39, 66, 50] times (c+1).
    func testStrideTwoSameByHand() {
        let channels = 9
        let w = Window2D.same(
            batch: 1, height: 4, width: 4, channels: channels,
            kernel: (3, 3), strides: (2, 2))
        var input = [Float]()
        for v in 0..<16 { for c in 0..<channels { input.append(Float(v * (c + 1))) } }
        let x = buffer(input)
        let kernel = buffer([Float](repeating: 1, count: 9 * channels))
        var expected = [Float]()
        for v: Float in [45, 39, 66, 50] {
            for c in 0..<channels { expected.append(v * Float(c + 1)) }
        }
        let out = output(count: 4 * channels)
        Kernels.depthwiseConv2d(
            x.const, window: w, kernel: kernel.const, bias: nil, output: out.pointer)
        assertClose(out.array, expected, tolerance: 0, "depthwise 3x3/2 same by hand")
    }
}
