import XCTest

@testable import Backbones
@testable import WeightLoader

/// The planner on a tiny graph MobileNetV2 does not exercise: a conv read twice (so its BN is
/// not folded), a standalone BN with its ReLU fused, Add, Concatenate, pools; checked against
/// the same layers composed from the naive kernels.
final class GraphExecutorTests: XCTestCase {
    func weights(_ layers: [(String, String, [(String, [Int])])]) -> BoundWeights {
        var seed: UInt32 = 7
        func next() -> Float {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Float(seed >> 8) / Float(1 << 24) + 0.25  // (0.25, 1.25): positive variances
        }
        let bound = layers.map { name, cls, arrays in
            BoundLayer(
                name: name, className: cls, sourceName: name,
                arrays: arrays.map { v, shape in
                    BoundArray(
                        name: "\(name)/\(v)", shape: shape, values: (0..<shape.reduce(1, *)).map { _ in next() - 0.5 })
                })
        }
        return BoundWeights(
            architecture: try! ArchitectureCatalog.architecture("MobileNetV2_0.35"), method: .positional, layers: bound)
    }

    /// BatchNormalization after a convolution with its own ReLU normalizes the activated values:
    /// it must not be folded into the convolution.
    func testBatchNormAfterActivatedConvIsNotFolded() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 1, width: 1, channels: 1))
        let c = try g.add("c", .conv2d(.init(filters: 1, kernel: (1, 1), activation: .relu)), g.input)
        try g.add("b", .batchNorm(epsilon: 0), c)
        let bn = ["gamma", "beta", "moving_mean", "moving_variance"].map { ($0, [1]) }
        let w = weights([("c", "Conv2D", [("kernel", [1, 1, 1, 1]), ("bias", [1])]), ("b", "BatchNormalization", bn)])
        let model = try CompiledGraph(g, weights: w)
        XCTAssertEqual(model.steps.map(\.layers), [["input_layer"], ["c"], ["b"]])
        // relu(k*x + bias), then (y - mean) / sqrt(var) * gamma + beta, by hand.
        func arr(_ l: String, _ v: String) -> Float { w.layer(l)!.arrays.first { $0.name == "\(l)/\(v)" }!.values[0] }
        let x: Float = -3
        let y = max(arr("c", "kernel") * x + arr("c", "bias"), 0)
        let expected =
            (y - arr("b", "moving_mean")) / arr("b", "moving_variance").squareRoot() * arr("b", "gamma")
            + arr("b", "beta")
        XCTAssertEqual(try model.run([x])[0], expected, accuracy: 1e-5)
    }

    func testUnfoldedBatchNormAddConcatPoolsMatchNaiveKernels() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 5, width: 5, channels: 2))
        let c = try g.add("c", .conv2d(.init(filters: 3, kernel: (3, 3), strides: (2, 2), padding: .same)), g.input)
        let b = try g.add("b", .batchNorm(epsilon: 1e-3), c)
        let r = try g.add("r", .activation(.relu), b)
        let s = try g.add("s", .add, c, r)
        let cat = try g.add("cat", .concat, s, c)
        let p = try g.add("p", .maxPool(.init(pool: (2, 2), strides: (1, 1))), cat)
        try g.add("gap", .globalAveragePool(keepDims: false), p)
        let bn = ["gamma", "beta", "moving_mean", "moving_variance"].map { ($0, [3]) }
        let w = weights([("c", "Conv2D", [("kernel", [3, 3, 2, 3]), ("bias", [3])]), ("b", "BatchNormalization", bn)])
        let model = try CompiledGraph(g, weights: w)
        XCTAssertEqual(
            model.steps.map(\.layers), [["input_layer"], ["c"], ["b", "r"], ["s"], ["cat"], ["p"], ["gap"]])
        XCTAssertEqual(model.outputShape.dimensions, [6])

        let input = (0..<50).map { Float($0 % 7) / 3 - 1 }
        let ours = try model.run(input + input.reversed())

        // The same layers from the naive kernels, per image.
        func arr(_ l: String, _ v: String) -> [Float] { w.layer(l)!.arrays.first { $0.name == "\(l)/\(v)" }!.values }
        let win = Window2D.same(batch: 1, height: 5, width: 5, channels: 2, kernel: (3, 3), strides: (2, 2))
        var expected: [Float] = []
        for image in [input, input.reversed()] {
            var conv = [Float](repeating: 0, count: 27)
            Kernels.conv2dNaive(
                image, window: win, kernel: arr("c", "kernel"), outChannels: 3, bias: arr("c", "bias"), output: &conv)
            var norm = [Float](repeating: 0, count: 27)
            Kernels.batchNormNaive(
                conv, rows: 9, channels: 3, mean: arr("b", "moving_mean"), variance: arr("b", "moving_variance"),
                gamma: arr("b", "gamma"), beta: arr("b", "beta"), epsilon: 1e-3, activation: .relu, output: &norm)
            let sum = zip(conv, norm).map { $0 + $1 }
            var cat = [Float](repeating: 0, count: 54)
            for px in 0..<9 {
                for ch in 0..<3 { cat[px * 6 + ch] = sum[px * 3 + ch]; cat[px * 6 + 3 + ch] = conv[px * 3 + ch] }
            }
            var pooled = [Float](repeating: 0, count: 24)
            Kernels.maxPool2dNaive(
                cat, window: Window2D(batch: 1, height: 3, width: 3, channels: 6, kernel: (2, 2)), output: &pooled)
            expected += (0..<6).map { ch in (0..<4).map { pooled[$0 * 6 + ch] }.reduce(0, +) / 4 }
        }
        XCTAssertEqual(ours.count, expected.count)
        for (a, e) in zip(ours, expected) { XCTAssertEqual(a, e, accuracy: 1e-5 * max(1, abs(e))) }
    }

    /// EfficientNet's block shape: ZeroPadding2D folds into the conv and the depthwise conv
    /// that read it, and the squeeze-excite multiply into the 1×1 projection (its kernel scaled
    /// per image by the gate); against the unfolded layers from the naive kernels.
    func testZeroPaddingAndSqueezeExciteGateFold() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 7, width: 6, channels: 3))
        let pad0 = try g.add("stem_pad", .zeroPadding(Padding(top: 0, bottom: 1, left: 0, right: 1)), g.input)
        let stem = try g.add(
            "stem", .conv2d(.init(filters: 8, kernel: (3, 3), strides: (2, 2), activation: .swish)), pad0)
        let pad1 = try g.add("dw_pad", .zeroPadding(Padding(top: 1, bottom: 1, left: 1, right: 1)), stem)
        let dw = try g.add("dw", .depthwiseConv2d(.init(kernel: (3, 3), activation: .swish)), pad1)
        let gap = try g.add("squeeze", .globalAveragePool(keepDims: true), dw)
        let se = try g.add("se", .conv2d(.init(filters: 8, kernel: (1, 1), activation: .sigmoid)), gap)
        let excite = try g.add("excite", .multiply, dw, se)
        try g.add("project", .conv2d(.init(filters: 5, kernel: (1, 1), useBias: false)), excite)
        let w = weights([
            ("stem", "Conv2D", [("kernel", [3, 3, 3, 8]), ("bias", [8])]),
            ("dw", "DepthwiseConv2D", [("depthwise_kernel", [3, 3, 8, 1]), ("bias", [8])]),
            ("se", "Conv2D", [("kernel", [1, 1, 8, 8]), ("bias", [8])]),
            ("project", "Conv2D", [("kernel", [1, 1, 8, 5])]),
        ])
        let model = try CompiledGraph(g, weights: w)
        XCTAssertEqual(
            model.steps.map(\.layers),
            [["input_layer"], ["stem", "stem_pad"], ["dw", "dw_pad"], ["squeeze"], ["se"], ["project", "excite"]])
        XCTAssertEqual(model.outputShape.dimensions, [3, 3, 5])

        let input = (0..<126).map { Float($0 % 11) / 4 - 1.2 }
        let ours = try model.run(input + input.reversed())

        func arr(_ l: String, _ v: String) -> [Float] { w.layer(l)!.arrays.first { $0.name == "\(l)/\(v)" }!.values }
        var expected: [Float] = []
        for image in [input, input.reversed()] {
            var padded = [Float](repeating: 0, count: 8 * 7 * 3)
            Kernels.zeroPad2d(
                image, batch: 1, height: 7, width: 6, channels: 3,
                padding: Padding(top: 0, bottom: 1, left: 0, right: 1), output: &padded)
            var stemOut = [Float](repeating: 0, count: 3 * 3 * 8)
            Kernels.conv2dNaive(
                padded, window: Window2D(batch: 1, height: 8, width: 7, channels: 3, kernel: (3, 3), strides: (2, 2)),
                kernel: arr("stem", "kernel"), outChannels: 8, bias: arr("stem", "bias"), activation: .swish,
                output: &stemOut)
            var padded1 = [Float](repeating: 0, count: 5 * 5 * 8)
            Kernels.zeroPad2d(
                stemOut, batch: 1, height: 3, width: 3, channels: 8,
                padding: Padding(top: 1, bottom: 1, left: 1, right: 1), output: &padded1)
            var dwOut = [Float](repeating: 0, count: 3 * 3 * 8)
            Kernels.depthwiseConv2dNaive(
                padded1, window: Window2D(batch: 1, height: 5, width: 5, channels: 8, kernel: (3, 3)),
                kernel: arr("dw", "depthwise_kernel"), bias: arr("dw", "bias"), activation: .swish, output: &dwOut)
            let (seKernel, seBias, project) = (arr("se", "kernel"), arr("se", "bias"), arr("project", "kernel"))
            var mean = [Float](repeating: 0, count: 8)
            for px in 0..<9 { for c in 0..<8 { mean[c] += dwOut[px * 8 + c] / 9 } }
            let sigmoid = Activation.sigmoid
            var gate = [Float](repeating: 0, count: 8)
            for o in 0..<8 {
                var z = seBias[o]
                for c in 0..<8 { z += mean[c] * seKernel[c * 8 + o] }
                gate[o] = sigmoid(z)
            }
            for px in 0..<9 {
                for o in 0..<5 {
                    var y: Float = 0
                    for c in 0..<8 { y += dwOut[px * 8 + c] * gate[c] * project[c * 5 + o] }
                    expected.append(y)
                }
            }
        }
        XCTAssertEqual(ours.count, expected.count)
        for (a, e) in zip(ours, expected) { XCTAssertEqual(a, e, accuracy: 1e-5 * max(1, abs(e))) }
    }

    func testShapeErrorsAreTyped() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 4, width: 4, channels: 2))
        let a = try g.add("a", .conv2d(.init(filters: 3, kernel: (1, 1))), g.input)
        XCTAssertThrowsError(try g.add("bad_add", .add, a, g.input)) {
            guard case .badGraph(let layer, _)? = $0 as? GraphError else { return XCTFail("\($0)") }
            XCTAssertEqual(layer, "bad_add")
        }
        XCTAssertThrowsError(try g.add("big", .conv2d(.init(filters: 3, kernel: (7, 7))), a))
        XCTAssertThrowsError(try g.add("a", .activation(.relu), a))  // duplicate name
        // Softmax normalizes a row: a convolution's value-by-value epilogue cannot run it.
        XCTAssertThrowsError(try g.add("soft", .conv2d(.init(filters: 3, kernel: (1, 1), activation: .softmax)), a))
        XCTAssertThrowsError(try g.add("no_units", .dense(units: 0), a))
    }

    /// A VGG-style head: Flatten of a (2, 2, 3) map, Dense + ReLU, Dense whose following
    /// softmax Activation runs in its epilogue, and a per-pixel Dense on a map; against the naive
    /// kernels. The head's shapes: flat (12), (5), (4); the per-pixel Dense keeps (2, 2, 6).
    func testFlattenDenseSoftmaxHead() throws {
        var g = Graph(name: "head", input: FeatureShape(height: 2, width: 2, channels: 3))
        let pixel = try g.add("pixel", .dense(units: 6), g.input)
        XCTAssertEqual(g.shape(pixel), FeatureShape(height: 2, width: 2, channels: 6))
        var x = try g.add("flatten", .flatten, g.input)
        XCTAssertEqual(g.shape(x), FeatureShape(height: 1, width: 1, channels: 12, flat: true))
        x = try g.add("fc1", .dense(units: 5, activation: .relu), x)
        x = try g.add("predictions", .dense(units: 4), x)
        try g.add("act_softmax", .activation(.softmax), x)
        XCTAssertEqual(g.weightedLayerNames, ["pixel", "fc1", "predictions"])
        let w = weights([
            ("pixel", "Dense", [("kernel", [3, 6]), ("bias", [6])]),
            ("fc1", "Dense", [("kernel", [12, 5]), ("bias", [5])]),
            ("predictions", "Dense", [("kernel", [5, 4]), ("bias", [4])]),
        ])
        let model = try CompiledGraph(g, weights: w)
        XCTAssertEqual(
            model.steps.map(\.layers), [["input_layer"], ["flatten"], ["fc1"], ["predictions", "act_softmax"]])
        XCTAssertEqual(model.outputShape.dimensions, [4])

        func arr(_ l: String, _ v: String) -> [Float] { w.layer(l)!.arrays.first { $0.name == "\(l)/\(v)" }!.values }
        let input = (0..<12).map { Float($0 % 5) - 2 }
        var hidden = [Float](repeating: 0, count: 5)
        Kernels.denseNaive(
            input, rows: 1, inFeatures: 12, weights: arr("fc1", "kernel"), outFeatures: 5,
            bias: arr("fc1", "bias"), activation: .relu, output: &hidden)
        var expected = [Float](repeating: 0, count: 4)
        Kernels.denseNaive(
            hidden, rows: 1, inFeatures: 5, weights: arr("predictions", "kernel"), outFeatures: 4,
            bias: arr("predictions", "bias"), activation: .softmax, output: &expected)
        let ours = try model.run(input)
        for (a, e) in zip(ours, expected) { XCTAssertEqual(a, e, accuracy: 1e-6) }
        XCTAssertEqual(ours.reduce(0, +), 1, accuracy: 1e-6)

        // The per-pixel Dense: each of the 4 pixels is one row of the GEMM.
        g.output = pixel
        let perPixel = try CompiledGraph(g, weights: w)
        var rows = [Float](repeating: 0, count: 24)
        Kernels.denseNaive(
            input, rows: 4, inFeatures: 3, weights: arr("pixel", "kernel"), outFeatures: 6,
            bias: arr("pixel", "bias"), output: &rows)
        for (a, e) in zip(try perPixel.run(input), rows) { XCTAssertEqual(a, e, accuracy: 1e-5) }
    }
}
