import Backbones
import Foundation
import XCTest

final class NormalizationTests: KernelTestCase {
    /// x = [1, 2] on channels 0 and 1, eps 1: channel 0: (1 - 0)/sqrt(3 + 1) * 2 + 0.5 = 1.5;
    /// channel 1: (2 - 1)/sqrt(0 + 1) * 3 - 1 = 2.
    func testBatchNormByHand() {
        let x = buffer([1, 2])
        let mean = buffer([0, 1])
        let variance = buffer([3, 0])
        let gamma = buffer([2, 3])
        let beta = buffer([0.5, -1])
        let out = output(count: 2)
        Kernels.batchNormNaive(
            x.const, rows: 1, channels: 2, mean: mean.const, variance: variance.const,
            gamma: gamma.const, beta: beta.const, epsilon: 1, output: out.pointer)
        assertClose(out.array, [1.5, 2], tolerance: 0, "batch norm by hand")
        // scale=False (no gamma) and center=False (no beta).
        Kernels.batchNormNaive(
            x.const, rows: 1, channels: 2, mean: mean.const, variance: variance.const,
            gamma: nil, beta: nil, epsilon: 1, output: out.pointer)
        assertClose(out.array, [0.5, 1], tolerance: 0, "batch norm without gamma/beta")
    }

    /// The fast form (`batchNormAffine` + `scaleOffset`) against the naive specification.
    func testAffineMatchesNaive() {
        var random = Random(seed: 6)
        let (rows, channels) = (37, 19)
        let x = random.floats(rows * channels, in: -4...4)
        let mean = random.floats(channels)
        let variance = random.floats(channels, in: 0...3)
        let gamma = random.floats(channels, in: 0.5...2)
        let beta = random.floats(channels)
        for (g, b) in [(gamma, beta), (nil, beta), (gamma, nil)] as [([Float]?, [Float]?)] {
            for activation in [Activation.linear, .relu] {
                let expected = output(count: rows * channels)
                Kernels.batchNormNaive(
                    buffer(x).const, rows: rows, channels: channels, mean: buffer(mean).const,
                    variance: buffer(variance).const, gamma: g.map { buffer($0).const },
                    beta: b.map { buffer($0).const }, epsilon: 1.001e-5, activation: activation,
                    output: expected.pointer)
                let affine = Kernels.batchNormAffine(
                    mean: mean, variance: variance, gamma: g, beta: b, epsilon: 1.001e-5)
                let observed = output(count: rows * channels)
                Kernels.scaleOffset(
                    buffer(x).const, rows: rows, channels: channels,
                    scale: buffer(affine.scale).const, offset: buffer(affine.shift).const,
                    activation: activation, output: observed.pointer)
                assertClose(
                    observed.array, expected.array,
                    "batch norm affine gamma \(g != nil) beta \(b != nil) \(activation)")
            }
        }
    }

    /// conv -> BN (both naive) equals the conv with the folded kernel and bias, for Conv2D
    /// with and without its own bias, grouped, and for DepthwiseConv2D with multiplier 2.
    func testFoldBatchNormEqualsConvThenBatchNorm() {
        var random = Random(seed: 8)
        struct Case {
            var window: Window2D
            var outChannels: Int
            var groups: Int
            var depthwise: Bool
            var bias: Bool
            var gamma: Bool
        }
        let cases = [
            Case(
                window: .same(
                    batch: 1, height: 7, width: 6, channels: 5, kernel: (3, 3),
                    strides: (2, 2)), outChannels: 6, groups: 1, depthwise: false, bias: true,
                gamma: true),
            Case(
                window: .same(batch: 2, height: 5, width: 5, channels: 4, kernel: (1, 1)),
                outChannels: 3, groups: 1, depthwise: false, bias: false, gamma: false),
            Case(
                window: .same(batch: 1, height: 6, width: 6, channels: 4, kernel: (3, 3)),
                outChannels: 6, groups: 2, depthwise: false, bias: false, gamma: true),
            Case(
                window: .same(
                    batch: 1, height: 6, width: 7, channels: 5, kernel: (3, 3),
                    strides: (2, 2)), outChannels: 10, groups: 1, depthwise: true, bias: false,
                gamma: true),
        ]
        for c in cases {
            let w = c.window
            let k = c.outChannels
            let kernelCount =
                w.kernelHeight * w.kernelWidth * (c.depthwise ? k : w.channels / c.groups * k)
            let input = buffer(random.floats(w.inputCount))
            let kernel = random.floats(kernelCount)
            let bias = c.bias ? random.floats(k) : nil
            let mean = random.floats(k)
            let variance = random.floats(k, in: 0.01...2)
            let gamma = c.gamma ? random.floats(k, in: 0.5...2) : nil
            let beta = random.floats(k)
            let epsilon: Float = 1e-3

            func conv(_ kernel: [Float], _ bias: [Float]?, _ out: Buffer) {
                if c.depthwise {
                    Kernels.depthwiseConv2dNaive(
                        input.const, window: w, kernel: buffer(kernel).const,
                        depthMultiplier: k / w.channels, bias: bias.map { buffer($0).const },
                        output: out.pointer)
                } else {
                    Kernels.conv2dNaive(
                        input.const, window: w, kernel: buffer(kernel).const, outChannels: k,
                        groups: c.groups, bias: bias.map { buffer($0).const },
                        output: out.pointer)
                }
            }
            let convOut = output(count: w.outPixels * k)
            conv(kernel, bias, convOut)
            let expected = output(count: w.outPixels * k)
            Kernels.batchNormNaive(
                convOut.const, rows: w.outPixels, channels: k, mean: buffer(mean).const,
                variance: buffer(variance).const, gamma: gamma.map { buffer($0).const },
                beta: buffer(beta).const, epsilon: epsilon, activation: .relu,
                output: expected.pointer)

            let folded = Kernels.foldBatchNorm(
                kernel: kernel, outputChannels: k, bias: bias, mean: mean, variance: variance,
                gamma: gamma, beta: beta, epsilon: epsilon)
            XCTAssertEqual(folded.kernel.count, kernel.count)
            let observed = output(count: w.outPixels * k)
            conv(folded.kernel, folded.bias, observed)
            Kernels.biasActivation(
                observed.pointer, rows: w.outPixels, channels: k, bias: nil, activation: .relu)
            assertClose(
                observed.array, expected.array,
                "folded BN, depthwise \(c.depthwise) groups \(c.groups) bias \(c.bias)")
        }
    }

    /// Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25, so (x - 2.5)/sqrt(1.25);
    /// second row with gamma [1, 2, 1, 2], beta 1. The fast kernel computes in Keras' order,
    /// `x * inv - mean * inv`, and gives Keras' float32 values bit for bit (TF 2.21,
    /// `LayerNormalization(epsilon=0)` on this row), 2e-7 from the exact ones.
    func testLayerNormByHand() {
        let x = buffer([1, 2, 3, 4, 1, 2, 3, 4])
        let gamma = buffer([1, 1, 1, 1])
        let beta = buffer([0, 0, 0, 0])
        let z: [Float] = [-1.3416407865, -0.4472135955, 0.4472135955, 1.3416407865]
        let keras: [Float] = [
            -1.341640830039978, -0.44721364974975586, 0.44721341133117676, 1.3416407108306885,
        ]
        let naive = output(count: 8)
        Kernels.layerNormNaive(
            x.const, rows: 2, channels: 4, gamma: gamma.const, beta: beta.const, epsilon: 0,
            output: naive.pointer)
        assertClose(naive.array, z + z, tolerance: 1e-7, "layer norm by hand, naive")
        let fast = output(count: 8)
        Kernels.layerNorm(
            x.const, rows: 2, channels: 4, gamma: gamma.const, beta: beta.const, epsilon: 0,
            output: fast.pointer)
        XCTAssertEqual(fast.array, keras + keras, "layer norm by hand, fast = Keras")
        let g2 = buffer([1, 2, 1, 2])
        let b2 = buffer([1, 1, 1, 1])
        let out = output(count: 4)
        Kernels.layerNorm(
            x.const, rows: 1, channels: 4, gamma: g2.const, beta: b2.const, epsilon: 0,
            output: out.pointer)
        assertClose(
            out.array, [1 + z[0], 1 + 2 * z[1], 1 + z[2], 1 + 2 * z[3]], tolerance: 1e-7,
            "layer norm gamma beta by hand")
    }

    func testLayerNormFastMatchesNaive() {
        var random = Random(seed: 9)
        // ConvNeXt widths; an offset mean stresses a one-pass variance formula.
        for (rows, channels, shift) in [(13, 96, Float(0)), (5, 768, 0), (7, 101, 50)] {
            let x = random.floats(rows * channels, in: -3...3).map { $0 + shift }
            let gamma = random.floats(channels, in: 0.5...2)
            let beta = random.floats(channels)
            for affine in [true, false] {
                let expected = output(count: rows * channels)
                Kernels.layerNormNaive(
                    buffer(x).const, rows: rows, channels: channels,
                    gamma: affine ? buffer(gamma).const : nil,
                    beta: affine ? buffer(beta).const : nil, epsilon: 1e-6,
                    output: expected.pointer)
                let observed = buffer(x)
                Kernels.layerNorm(
                    observed.const, rows: rows, channels: channels,
                    gamma: affine ? buffer(gamma).const : nil,
                    beta: affine ? buffer(beta).const : nil, epsilon: 1e-6,
                    output: observed.pointer)
                assertClose(
                    observed.array, expected.array,
                    "layer norm in place \(rows)x\(channels) shift \(shift) affine \(affine)")
            }
        }
    }
}

final class DenseTests: KernelTestCase {
    func testDenseByHand() {
        // x (2, 3) @ W (3, 2) + b
        let x = buffer([1, 2, 3, -1, 0, 1])
        let weights = buffer([1, 0, 0, 1, 1, -1])
        let bias = buffer([0.5, 1])
        // row 0: [1 + 3, 2 - 3] + b = [4.5, 0]; row 1: [-1 + 1, 0 - 1] + b = [0.5, 0]
        for fast in [false, true] {
            let out = output(count: 4)
            if fast {
                Kernels.dense(
                    x.const, rows: 2, inFeatures: 3, weights: weights.const, outFeatures: 2,
                    bias: bias.const, output: out.pointer)
            } else {
                Kernels.denseNaive(
                    x.const, rows: 2, inFeatures: 3, weights: weights.const, outFeatures: 2,
                    bias: bias.const, output: out.pointer)
            }
            assertClose(out.array, [4.5, 0, 0.5, 0], tolerance: 0, "dense by hand, fast \(fast)")
        }
    }

    func testFastMatchesNaive() {
        var random = Random(seed: 10)
        for (rows, inFeatures, outFeatures, hasBias, activation) in [
            (5, 37, 11, true, Activation.linear), (1, 1280, 7, false, .relu),
            (3, 8, 1, true, .sigmoid), (2, 2048, 1000, true, .softmax), (4, 64, 9, false, .softmax),
        ] {
            let x = buffer(random.floats(rows * inFeatures))
            let w = buffer(random.floats(inFeatures * outFeatures))
            let b = hasBias ? buffer(random.floats(outFeatures)) : nil
            let expected = output(count: rows * outFeatures)
            Kernels.denseNaive(
                x.const, rows: rows, inFeatures: inFeatures, weights: w.const,
                outFeatures: outFeatures, bias: b?.const, activation: activation,
                output: expected.pointer)
            let observed = output(count: rows * outFeatures)
            Kernels.dense(
                x.const, rows: rows, inFeatures: inFeatures, weights: w.const,
                outFeatures: outFeatures, bias: b?.const, activation: activation,
                output: observed.pointer)
            assertClose(
                observed.array, expected.array,
                "dense \(rows)x\(inFeatures)->\(outFeatures) \(activation)")
        }
    }

    /// A classifier row: logits [4.5, 0] and [0.5, 0] (testDenseByHand) through softmax give
    /// 1/(1 + e^-4.5) and 1/(1 + e^-0.5) for the first class of each row.
    func testDenseSoftmaxByHand() {
        let x = buffer([1, 2, 3, -1, 0, 1])
        let weights = buffer([1, 0, 0, 1, 1, -1])
        let bias = buffer([0.5, 1])
        let (p, q) = (Float(1 / (1 + exp(-4.5))), Float(1 / (1 + exp(-0.5))))
        for fast in [false, true] {
            let out = output(count: 4)
            let dense = fast ? Kernels.dense : Kernels.denseNaive
            dense(
                x.const, 2, 3, weights.const, 2, bias.const, .softmax, out.pointer)
            assertClose(out.array, [p, 1 - p, q, 1 - q], tolerance: 1e-7, "dense softmax, fast \(fast)")
        }
    }
}
