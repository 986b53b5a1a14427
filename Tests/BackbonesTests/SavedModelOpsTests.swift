import Foundation
import XCTest

@testable import Backbones
@testable import WeightLoader

/// The ops and activations a saved model's config can name beyond keras.applications' (merges,
/// Permute, UpSampling2D, TFOpLambda constants, the rarer activations), each checked against
/// values computed here on their own: by hand, by a scalar loop, or in Double.
final class SavedModelOpsTests: KernelTestCase {
    // MARK: activations

    /// Inputs across every branch: both signs, zero, the softplus switch points (±13.94),
    /// large values.
    let samples: [Float] = [-20, -14, -13.9, -5, -1.5, -1, -0.25, -1e-3, 0, 1e-3, 0.25, 1, 2.5, 3, 7, 13.9, 14, 20]

    /// Runs `a` on `samples` as a step would (`apply(_:count:)`) and value by value.
    func applied(_ a: Activation) -> (array: [Float], scalar: [Float]) {
        let x = buffer(samples)
        a.apply(x.pointer, count: samples.count)
        return (x.array, samples.map { a($0) })
    }

    /// TensorFlow's formulas, written here in Float in the kernels' operation order: the same
    /// float operations, so the bits must be equal; then the exact function in Double within
    /// `tolerance` (absolute, scaled by max(1, |value|)), which bounds the formula's own error
    /// (`exp(x) - 1` cancels near 0, where TensorFlow's Elu/Selu cancel too).
    func check(_ a: Activation, float: (Float) -> Float, exact: (Double) -> Double, tolerance: Double) {
        let (array, scalar) = applied(a)
        for (i, x) in samples.enumerated() {
            let expected = float(x)
            XCTAssertEqual(array[i].bitPattern, expected.bitPattern, "\(a)(\(x)) apply: \(array[i]) vs \(expected)")
            XCTAssertEqual(scalar[i].bitPattern, expected.bitPattern, "\(a)(\(x)) scalar: \(scalar[i]) vs \(expected)")
            let e = exact(Double(x))
            XCTAssertLessThanOrEqual(
                abs(Double(array[i]) - e), tolerance * max(1, abs(e)), "\(a)(\(x)) = \(array[i]), exact \(e)")
        }
    }

    func testEluSeluMatchTensorFlowKernels() {
        for alpha: Float in [1, 0.5, 2] {
            check(
                .elu(alpha: alpha), float: { x in x > 0 ? x : alpha * (x < 0 ? Foundation.exp(x) - 1 : x) },
                exact: { x in x > 0 ? x : Double(alpha) * Foundation.expm1(x) }, tolerance: 1e-7 * 4)
        }
        let scale: Float = 1.0507009873554804934193349852946
        let scaleAlpha: Float = 1.7580993408473768599402175208123
        check(
            .selu, float: { x in x < 0 ? scaleAlpha * (Foundation.exp(x) - 1) : scale * x },
            exact: { x in
                x < 0
                    ? 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717 * Foundation.expm1(x)
                    : 1.0507009873554804934193349852946 * x
            }, tolerance: 1e-7 * 4)
    }

    func testLeakySoftsignExponentialHardSigmoidLegacy() {
        check(
            .leakyRelu(slope: 0.3), float: { x in x > 0 ? x : x * 0.3 }, exact: { x in x > 0 ? x : x * 0.3 },
            tolerance: 1e-7)
        check(.softsign, float: { x in x / (abs(x) + 1) }, exact: { x in x / (abs(x) + 1) }, tolerance: 1e-7)
        check(.exponential, float: { x in Foundation.exp(x) }, exact: { x in Foundation.exp(x) }, tolerance: 2e-7)
        check(
            .hardSigmoidLegacy, float: { x in min(max(x * 0.2 + 0.5, 0), 1) },
            exact: { x in min(max(0.2 * x + 0.5, 0), 1) },
            tolerance: 1e-7)
        // tf-keras 2's hard_sigmoid by hand: 0.2 x + 0.5 clipped to [0, 1].
        XCTAssertEqual(Activation.hardSigmoidLegacy(0), 0.5)
        XCTAssertEqual(Activation.hardSigmoidLegacy(-3), 0)
        XCTAssertEqual(Activation.hardSigmoidLegacy(2.5), 1)
        XCTAssertEqual(Activation.hardSigmoidLegacy(1), 0.7, accuracy: 1e-7)
    }

    func testSoftplusAndMish() {
        // TensorFlow's Softplus kernel: x above -t, exp(x) below t, log1p(exp(x)) between,
        // t = log(float epsilon) + 2 = -13.94.
        let t = Foundation.log(Float.ulpOfOne) + 2
        XCTAssertEqual(t, -13.942385, accuracy: 1e-5)
        let softplus: (Float) -> Float = { x in
            x > -t ? x : (x < t ? Foundation.exp(x) : Foundation.log1p(Foundation.exp(x)))
        }
        // The exact function, in the stable form; the cut-offs are within float epsilon of it.
        let exact: (Double) -> Double = { x in Foundation.log1p(Foundation.exp(-abs(x))) + max(x, 0) }
        check(.softplus, float: softplus, exact: exact, tolerance: 2e-7)
        check(
            .mish, float: { x in x * Foundation.tanh(softplus(x)) }, exact: { x in x * Foundation.tanh(exact(x)) },
            tolerance: 4e-7)
    }

    /// Keras' `ReLU(max_value, negative_slope, threshold)` on the docstring's examples, and a
    /// case with all three, by hand.
    func testReluClippedFollowsKeras() {
        let x: [Float] = [-10, -5, 0, 5, 10]
        func run(_ a: Activation) -> [Float] {
            let b = buffer(x)
            a.apply(b.pointer, count: x.count)
            XCTAssertEqual(b.array, x.map { a($0) }, "\(a)")
            return b.array
        }
        XCTAssertEqual(run(.reluClipped(maxValue: nil, negativeSlope: 0, threshold: 0)), [0, 0, 0, 5, 10])
        XCTAssertEqual(run(.reluClipped(maxValue: nil, negativeSlope: 0.5, threshold: 0)), [-5, -2.5, 0, 5, 10])
        XCTAssertEqual(run(.reluClipped(maxValue: 5, negativeSlope: 0, threshold: 0)), [0, 0, 0, 5, 5])
        XCTAssertEqual(run(.reluClipped(maxValue: 6, negativeSlope: 0, threshold: 0)), [0, 0, 0, 5, 6])
        let thresholded = run(.reluClipped(maxValue: nil, negativeSlope: 0, threshold: 5))
        XCTAssertEqual(thresholded, [0, 0, 0, 0, 10])
        // x * (x > threshold): negative x times 0 is -0, as Keras prints it.
        XCTAssertEqual(thresholded.map { $0.sign }, [.minus, .minus, .plus, .plus, .plus])
        // All three: x*(x > 1) clipped to [0, 6], minus 0.1 * relu(1 - x).
        let all = Activation.reluClipped(maxValue: 6, negativeSlope: 0.1, threshold: 1)
        let inputs: [Float] = [-10, 0.5, 1, 3, 8]
        let expected: [Double] = [-0.1 * 11, -0.1 * 0.5, 0, 3, 6]
        for (v, e) in zip(inputs, expected) { XCTAssertEqual(Double(all(v)), e, accuracy: 1e-6, "\(v)") }
    }

    // MARK: softmax on any rank

    /// `Activation("softmax")` after a map normalizes each pixel's channels (and a flat
    /// tensor's values, and a (T, C) sequence's rows).
    func testStandaloneSoftmaxOnEveryRank() throws {
        for dims in [[2, 2, 3], [3, 4], [5]] {
            var g = Graph(name: "softmax", input: FeatureShape(dims))
            try g.add("act", .activation(.softmax), g.input)
            let model = try CompiledGraph(g, weights: noWeights)
            var random = Random(seed: 3)
            let input = random.floats(FeatureShape(dims).count, in: -4...4)
            let ours = try model.run(input)
            let c = dims.last!
            var expected = [Float](repeating: 0, count: input.count)
            Kernels.softmaxNaive(input, rows: input.count / c, channels: c, output: &expected)
            assertClose(ours, expected, tolerance: 1e-6, "softmax \(dims)")
            for r in 0..<(input.count / c) {
                XCTAssertEqual(ours[(r * c)..<((r + 1) * c)].reduce(0, +), 1, accuracy: 1e-6)
            }
        }
    }

    // MARK: merges

    func testSubtractAverageMaximumMinimumByHand() {
        let a = buffer([1, -2, 0.1, 7])
        let b = buffer([10, 20, 0.2, -7])
        let c = buffer([0.5, -30, 0.4, 0])
        let out = output(count: 4)
        Kernels.subtract(a.const, b.const, count: 4, output: out.pointer)
        XCTAssertEqual(out.array, [-9, -22, Float(0.1) - Float(0.2), 14])
        Kernels.maximum([a.const, b.const, c.const], count: 4, output: out.pointer)
        XCTAssertEqual(out.array, [10, 20, 0.4, 7])
        Kernels.minimum([a.const, b.const, c.const], count: 4, output: out.pointer)
        XCTAssertEqual(out.array, [0.5, -30, 0.1, -7])
        // Keras: ((a + b) + c) / 3, one float division.
        Kernels.average([a.const, b.const, c.const], count: 4, output: out.pointer)
        let expected = (0..<4).map { i in ((a.array[i] + b.array[i]) + c.array[i]) / Float(3) }
        XCTAssertEqual(out.array.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(out.array[0], 11.5 / 3)
        Kernels.average([a.const, b.const], count: 4, output: out.pointer)
        XCTAssertEqual(out.array, [5.5, 9, (Float(0.1) + Float(0.2)) / 2, 0])
    }

    // MARK: constants, channel reversal

    func testConstantArithmeticScalarAndPerChannel() {
        let x: [Float] = [1, -2, 4, 0.5, 8, -3]  // (rows 2, C 3)
        let perChannel: [Float] = [2, -4, 0.25]
        typealias K = ConstantArithmetic.Kind
        let scalarOps: [(K, (Float, Float) -> Float)] = [
            (.add, { $0 + $1 }), (.subtract, { $0 - $1 }), (.reverseSubtract, { $1 - $0 }),
            (.multiply, { $0 * $1 }), (.divide, { $0 / $1 }), (.reverseDivide, { $1 / $0 }),
            (.maximum, { max($0, $1) }), (.minimum, { min($0, $1) }),
        ]
        for (kind, f) in scalarOps {
            for values in [[Float(1.5)], perChannel] {
                let out = output(count: 6)
                Kernels.constantArithmetic(
                    buffer(x).const, rows: 2, channels: 3, ConstantArithmetic(kind, values), output: out.pointer)
                var expected: [Float] = []
                for r in 0..<2 {
                    for ch in 0..<3 { expected.append(f(x[r * 3 + ch], values.count == 1 ? values[0] : values[ch])) }
                }
                XCTAssertEqual(out.array.map(\.bitPattern), expected.map(\.bitPattern), "\(kind) \(values)")
            }
        }
        // By hand: a per-channel bias_add, and `c - x` with a scalar.
        let out = output(count: 6)
        Kernels.constantArithmetic(
            buffer(x).const, rows: 2, channels: 3, ConstantArithmetic(.add, perChannel), output: out.pointer)
        XCTAssertEqual(out.array, [3, -6, 4.25, 2.5, 4, -2.75])
        Kernels.constantArithmetic(
            buffer(x).const, rows: 2, channels: 3, ConstantArithmetic(.reverseSubtract, [1]), output: out.pointer)
        XCTAssertEqual(out.array, [0, 3, -3, 0.5, -7, 4])
    }

    /// `tf.math.truediv(x, 127.5)` divides: for some pixel values that differs from a product
    /// by 1/127.5 in the last bit, and the op must give the quotient.
    func testConstantDivideIsTrueDivision() {
        let pixels = (0...255).map(Float.init)
        let reciprocal = 1 / Float(127.5)
        let differing = pixels.filter { $0 / 127.5 != $0 * reciprocal }
        XCTAssertFalse(differing.isEmpty, "some x / 127.5 differ from x * (1 / 127.5)")
        let out = output(count: pixels.count)
        Kernels.constantArithmetic(
            buffer(pixels).const, rows: pixels.count, channels: 1, ConstantArithmetic(.divide, [127.5]),
            output: out.pointer)
        XCTAssertEqual(out.array.map(\.bitPattern), pixels.map { ($0 / 127.5).bitPattern })
    }

    func testReverseChannels() {
        let out = output(count: 6)
        Kernels.reverseChannels(buffer([1, 2, 3, 4, 5, 6]).const, rows: 2, channels: 3, output: out.pointer)
        XCTAssertEqual(out.array, [3, 2, 1, 6, 5, 4])
    }

    // MARK: Permute

    func testPermuteRank2And3() {
        // (2, 3) -> (3, 2): a transpose.
        let out = output(count: 6)
        Kernels.permute(buffer(ramp(6)).const, dimensions: [2, 3], axes: [1, 0], output: out.pointer)
        XCTAssertEqual(out.array, [0, 3, 1, 4, 2, 5])
        // (2, 3, 4) by every permutation, against index arithmetic.
        let dims = [2, 3, 4]
        let input = ramp(24)
        for axes in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            let out = output(count: 24)
            Kernels.permute(buffer(input).const, dimensions: dims, axes: axes, output: out.pointer)
            let od = axes.map { dims[$0] }
            var expected: [Float] = []
            for i in 0..<od[0] {
                for j in 0..<od[1] {
                    for k in 0..<od[2] {
                        var index = [0, 0, 0]
                        (index[axes[0]], index[axes[1]], index[axes[2]]) = (i, j, k)
                        expected.append(input[(index[0] * 3 + index[1]) * 4 + index[2]])
                    }
                }
            }
            XCTAssertEqual(out.array, expected, "axes \(axes)")
        }
    }

    // MARK: UpSampling2D

    func testUpSamplingNearestByHand() {
        // (2, 2, 1) by (2, 3).
        let out = output(count: 24)
        Kernels.upSample2dNearest(
            buffer([1, 2, 3, 4]).const, batch: 1, height: 2, width: 2, channels: 1, size: (2, 3),
            output: out.pointer)
        let top: [Float] = [1, 1, 1, 2, 2, 2]
        let bottom: [Float] = [3, 3, 3, 4, 4, 4]
        XCTAssertEqual(out.array, top + top + bottom + bottom)
    }

    /// TensorFlow's half-pixel bilinear on a 1×2 row doubled: positions -0.25, 0.25, 0.75, 1.25
    /// clamp to [0, 1], so 0, 0.25, 0.75, 1 of the way; rows likewise.
    func testUpSamplingBilinearByHand() {
        let out = output(count: 4)
        Kernels.upSample2dBilinear(
            buffer([0, 1]).const, batch: 1, height: 1, width: 2, channels: 1, size: (1, 2), output: out.pointer)
        XCTAssertEqual(out.array, [0, 0.25, 0.75, 1])
        let grid = output(count: 16)
        Kernels.upSample2dBilinear(
            buffer([0, 4, 8, 12]).const, batch: 1, height: 2, width: 2, channels: 1, size: (2, 2),
            output: grid.pointer)
        // value = 4 * x + 8 * y at the clamped positions (0, 0.25, 0.75, 1).
        let t: [Float] = [0, 0.25, 0.75, 1]
        XCTAssertEqual(grid.array, t.flatMap { y in t.map { x in 4 * x + 8 * y } })
    }

    func testUpSamplingBilinearMatchesNaive() {
        var random = Random(seed: 11)
        let (n, h, w, c) = (2, 3, 5, 4)
        let input = buffer(random.floats(n * h * w * c))
        for size in [(2, 2), (3, 2), (1, 4)] {
            let count = n * h * size.0 * w * size.1 * c
            let (fast, naive) = (output(count: count), output(count: count))
            Kernels.upSample2dBilinear(
                input.const, batch: n, height: h, width: w, channels: c, size: size, output: fast.pointer)
            Kernels.upSample2dBilinearNaive(
                input.const, batch: n, height: h, width: w, channels: c, size: size, output: naive.pointer)
            XCTAssertEqual(fast.array.map(\.bitPattern), naive.array.map(\.bitPattern), "size \(size)")
        }
    }

    // MARK: shapes

    func testShapeRules() throws {
        var g = Graph(name: "shapes", input: FeatureShape([4, 6, 3]))
        let p = try g.add("p", .permute([2, 1, 3]), g.input)
        XCTAssertEqual(g.shape(p), FeatureShape([6, 4, 3]))
        let p2 = try g.add("p2", .permute([3, 1, 2]), g.input)
        XCTAssertEqual(g.shape(p2), FeatureShape([3, 4, 6]))
        let up = try g.add("up", .upSampling2d(.init(size: (2, 3), bilinear: true)), g.input)
        XCTAssertEqual(g.shape(up), FeatureShape([8, 18, 3]))
        let c = try g.add("c", .constant(.init(.divide, [127.5])), g.input)
        XCTAssertEqual(g.shape(c), FeatureShape([4, 6, 3]))
        let c3 = try g.add("c3", .constant(.init(.add, [1, 2, 3])), g.input)
        XCTAssertEqual(g.shape(c3), FeatureShape([4, 6, 3]))
        XCTAssertThrowsError(try g.add("c2", .constant(.init(.add, [1, 2])), g.input))
        XCTAssertThrowsError(try g.add("bad", .permute([1, 1, 3]), g.input))
        XCTAssertThrowsError(try g.add("bad2", .permute([1, 2]), g.input))
        XCTAssertThrowsError(try g.add("s", .subtract, g.input, up))
        XCTAssertThrowsError(try g.add("s3", .subtract, g.input, g.input, g.input))
        XCTAssertThrowsError(try g.add("avg1", .average, g.input))
        var flat = Graph(name: "flat", input: FeatureShape([5]))
        XCTAssertThrowsError(try flat.add("up", .upSampling2d(.init(size: (2, 2))), flat.input))
        for op: GraphOp in [.subtract, .average, .maximum, .minimum, .add, .multiply] {
            let merged = try flat.add("\(op)", op, flat.input, flat.input)
            XCTAssertEqual(flat.shape(merged), FeatureShape([5]))
        }
        for op: GraphOp in [
            .subtract, .average, .maximum, .minimum, .permute([1]), .upSampling2d(.init(size: (2, 2))),
            .constant(.init(.add, [1])), .reverseChannels,
        ] {
            XCTAssertEqual(op.weightSpec(input: FeatureShape([2, 2, 3])), [], "\(op)")
            XCTAssertFalse(op.hasWeights)
        }
    }

    // MARK: graphs

    var noWeights: BoundWeights {
        BoundWeights(
            architecture: try! ArchitectureCatalog.architecture("MobileNetV2_0.35"), method: .positional, layers: [])
    }

    /// A caffe-style preprocess and an image head made of the new ops, planned and run, against
    /// the same kernels composed by hand here.
    func testMapGraphOfNewOps() throws {
        var g = Graph(name: "ops", input: FeatureShape([2, 3, 3]))
        let bgr = try g.add("reverse", .reverseChannels, g.input)
        let centered = try g.add("bias_add", .constant(.init(.subtract, [103.939, 116.779, 123.68])), bgr)
        let scaled = try g.add("truediv", .constant(.init(.divide, [127.5])), g.input)
        let elu = try g.add("elu", .activation(.elu(alpha: 0.5)), scaled)
        let diff = try g.add("subtract", .subtract, centered, elu)
        let avg = try g.add("average", .average, diff, elu, scaled)
        let hi = try g.add("maximum", .maximum, avg, scaled, diff)
        let lo = try g.add("minimum", .minimum, hi, elu)
        let near = try g.add("up_nearest", .upSampling2d(.init(size: (2, 2))), lo)
        let bil = try g.add("up_bilinear", .upSampling2d(.init(size: (2, 2), bilinear: true)), lo)
        let both = try g.add("add", .add, near, bil)
        let act = try g.add("selu", .activation(.selu), both)
        try g.add("permute", .permute([2, 1, 3]), act)
        let model = try CompiledGraph(g, weights: noWeights)
        XCTAssertEqual(model.outputShape, FeatureShape([6, 4, 3]))

        var random = Random(seed: 5)
        let x = random.floats(18, in: 0...255)
        let n = 18
        func k(_ body: (UnsafeMutablePointer<Float>) -> Void, _ count: Int = 18) -> [Float] {
            let out = output(count: count)
            body(out.pointer)
            return out.array
        }
        let rev = k { Kernels.reverseChannels(x, rows: 6, channels: 3, output: $0) }
        let cen = k {
            Kernels.constantArithmetic(
                rev, rows: 6, channels: 3, .init(.subtract, [103.939, 116.779, 123.68]), output: $0)
        }
        let sc = x.map { $0 / 127.5 }
        let el = sc.map { Activation.elu(alpha: 0.5)($0) }
        let df = zip(cen, el).map { $0 - $1 }
        let av = (0..<n).map { ((df[$0] + el[$0]) + sc[$0]) / 3 }
        let mx = (0..<n).map { max(av[$0], sc[$0], df[$0]) }
        let mn = (0..<n).map { min(mx[$0], el[$0]) }
        let up1 = k(
            { Kernels.upSample2dNearest(mn, batch: 1, height: 2, width: 3, channels: 3, size: (2, 2), output: $0) }, 72)
        let up2 = k(
            {
                Kernels.upSample2dBilinearNaive(
                    mn, batch: 1, height: 2, width: 3, channels: 3, size: (2, 2), output: $0)
            }, 72)
        let se = zip(up1, up2).map { Activation.selu($0 + $1) }
        let expected = k({ Kernels.permute(se, dimensions: [4, 6, 3], axes: [1, 0, 2], output: $0) }, 72)
        let ours = try model.run(x)
        XCTAssertEqual(ours.map(\.bitPattern), expected.map(\.bitPattern))
    }

    /// Flat vectors after Dense: BatchNormalization (folded into the Dense) and the merges on
    /// rank 1, Dense on a map (every pixel a row), against naive kernels.
    func testFlatGraphDenseBatchNormMerges() throws {
        var g = Graph(name: "flat", input: FeatureShape([4]))
        let d1 = try g.add("d1", .dense(units: 3), g.input)
        let bn = try g.add("bn", .batchNorm(epsilon: 1e-3), d1)
        let d2 = try g.add("d2", .dense(units: 3, activation: .leakyRelu(slope: 0.2)), g.input)
        let s = try g.add("sub", .subtract, bn, d2)
        let m = try g.add("mul", .multiply, s, d2)
        let a = try g.add("avg", .average, m, s)
        try g.add("soft", .activation(.softplus), a)
        var random = Random(seed: 9)
        func layer(_ name: String, _ arrays: [(String, [Int])]) -> BoundLayer {
            BoundLayer(
                name: name, className: "", sourceName: name,
                arrays: arrays.map { v, shape in
                    BoundArray(
                        name: "\(name)/\(v)", shape: shape,
                        values: random.floats(shape.reduce(1, *), in: v == "moving_variance" ? 0.5...1.5 : -1...1))
                })
        }
        let layers = [
            layer("d1", [("kernel", [4, 3]), ("bias", [3])]),
            layer("bn", ["gamma", "beta", "moving_mean", "moving_variance"].map { ($0, [3]) }),
            layer("d2", [("kernel", [4, 3]), ("bias", [3])]),
        ]
        let w = BoundWeights(
            architecture: try! ArchitectureCatalog.architecture("MobileNetV2_0.35"), method: .positional,
            layers: layers)
        let model = try CompiledGraph(g, weights: w)
        // The BN folds into d1.
        XCTAssertTrue(model.steps.contains { $0.layers == ["d1", "bn"] }, "\(model.steps.map(\.layers))")
        func arr(_ l: String, _ v: String) -> [Float] { w.layer(l)!.arrays.first { $0.name == "\(l)/\(v)" }!.values }
        let x = random.floats(4)
        var h1 = [Float](repeating: 0, count: 3)
        var h2 = h1
        Kernels.denseNaive(
            x, rows: 1, inFeatures: 4, weights: arr("d1", "kernel"), outFeatures: 3, bias: arr("d1", "bias"),
            output: &h1)
        Kernels.denseNaive(
            x, rows: 1, inFeatures: 4, weights: arr("d2", "kernel"), outFeatures: 3, bias: arr("d2", "bias"),
            activation: .leakyRelu(slope: 0.2), output: &h2)
        let (gamma, beta, mean, variance) = (
            arr("bn", "gamma"), arr("bn", "beta"), arr("bn", "moving_mean"), arr("bn", "moving_variance")
        )
        let expected: [Float] = (0..<3).map { c in
            let b =
                (Double(h1[c]) - Double(mean[c])) / (Double(variance[c]) + 1e-3).squareRoot() * Double(gamma[c])
                + Double(beta[c])
            let sub = b - Double(h2[c])
            let avg = (sub * Double(h2[c]) + sub) / 2
            return Float(Foundation.log1p(Foundation.exp(-abs(avg))) + max(avg, 0))
        }
        assertClose(try model.run(x), expected, tolerance: 1e-5, "flat graph")

        // Dense on a map: each pixel's channels are one row.
        var map = Graph(name: "map", input: FeatureShape([2, 2, 4]))
        try map.add("d1", .dense(units: 3), map.input)
        let mapModel = try CompiledGraph(map, weights: w)
        let pixels = random.floats(16)
        var rows = [Float](repeating: 0, count: 12)
        Kernels.denseNaive(
            pixels, rows: 4, inFeatures: 4, weights: arr("d1", "kernel"), outFeatures: 3, bias: arr("d1", "bias"),
            output: &rows)
        assertClose(try mapModel.run(pixels), rows, tolerance: 1e-6, "dense on a map")
    }
}
