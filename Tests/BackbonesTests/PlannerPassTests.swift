import XCTest

@testable import Backbones
@testable import WeightLoader

/// Each planner pass alone on a tiny graph: the steps it plans (layers, kinds, inputs) and the
/// values, which must equal the unoptimized plan's up to the rounding the fold changes.
final class PlannerPassTests: XCTestCase {
    /// Seeded weights for the graph's weighted layers, read off the graph itself; variances
    /// and gammas positive.
    func weights(_ layers: [(String, [(String, [Int])])]) -> BoundWeights {
        var random = Random(seed: 21)
        let bound = layers.map { name, arrays in
            BoundLayer(
                name: name, className: "", sourceName: name,
                arrays: arrays.map { v, shape in
                    BoundArray(
                        name: "\(name)/\(v)", shape: shape,
                        values: random.floats(
                            shape.reduce(1, *), in: v == "moving_variance" || v == "gamma" ? 0.5...1.5 : -1...1))
                })
        }
        return BoundWeights(
            architecture: try! ArchitectureCatalog.architecture("MobileNetV2_0.35"), method: .positional, layers: bound)
    }

    /// Plans `graph` with only `pass`, checks its steps' layers, and that it computes what
    /// the plan without optimizations computes (within `tolerance` of max |value|).
    @discardableResult
    func check(
        _ pass: PlannerPass, _ graph: Graph, _ w: BoundWeights, layers: [[String]], tolerance: Float = 1e-6,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> CompiledGraph {
        let optimized = try CompiledGraph(graph, weights: w, options: .init(), optimizations: [pass])
        let plain = try CompiledGraph(graph, weights: w, options: .init(), optimizations: [])
        XCTAssertEqual(optimized.steps.map(\.layers), layers, pass.name, file: file, line: line)
        XCTAssertEqual(plain.steps.count, graph.nodes.count, file: file, line: line)
        var random = Random(seed: 3)
        let input = random.floats(graph.shape(graph.input).count)
        assertClose(
            try optimized.run(input), try plain.run(input), tolerance: tolerance, pass.name, file: file, line: line)
        return optimized
    }

    func testFoldZeroPaddingBecomesTheConvolutionsPadding() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 5, width: 5, channels: 2))
        let p = try g.add("pad", .zeroPadding(Padding(top: 0, bottom: 1, left: 1, right: 1)), g.input)
        try g.add("conv", .conv2d(.init(filters: 3, kernel: (3, 3), strides: (2, 2))), p)
        let w = weights([("conv", [("kernel", [3, 3, 2, 3]), ("bias", [3])])])
        let model = try check(FoldZeroPadding(), g, w, layers: [["input_layer"], ["conv", "pad"]])
        XCTAssertEqual(model.steps[1].inputs, [g.input])
        guard case .conv(let params, _, _) = model.steps[1].kind else { return XCTFail("\(model.steps[1].kind)") }
        XCTAssertEqual(params.padding, .explicit(Padding(top: 0, bottom: 1, left: 1, right: 1)))
        // The window is resolved at plan time over the unpadded input.
        XCTAssertEqual(model.steps[1].window?.height, 5)
        XCTAssertEqual(model.steps[1].window?.outHeight, 2)  // (5 + 0 + 1 - 3) / 2 + 1
    }

    func testFoldSqueezeExciteGateScalesThePointwiseKernel() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 4, width: 4, channels: 3))
        let squeeze = try g.add("squeeze", .globalAveragePool(keepDims: true), g.input)
        let gate = try g.add("reduce", .conv2d(.init(filters: 3, kernel: (1, 1), activation: .sigmoid)), squeeze)
        let excite = try g.add("excite", .multiply, g.input, gate)
        try g.add("project", .conv2d(.init(filters: 2, kernel: (1, 1), useBias: false)), excite)
        let w = weights([
            ("reduce", [("kernel", [1, 1, 3, 3]), ("bias", [3])]), ("project", [("kernel", [1, 1, 3, 2])]),
        ])
        let model = try check(
            FoldSqueezeExciteGate(), g, w, layers: [["input_layer"], ["squeeze"], ["reduce"], ["project", "excite"]])
        guard case .gatedPointwise = model.steps[3].kind else { return XCTFail("\(model.steps[3].kind)") }
        XCTAssertEqual(model.steps[3].inputs, [g.input, gate])
    }

    func testFoldBatchNormIntoConvolutionDepthwiseAndDense() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 4, width: 4, channels: 2))
        var x = try g.add("conv", .conv2d(.init(filters: 3, kernel: (3, 3), padding: .same, useBias: false)), g.input)
        x = try g.add("conv_bn", .batchNorm(epsilon: 1e-3), x)
        x = try g.add("dw", .depthwiseConv2d(.init(kernel: (3, 3), padding: .same, useBias: false)), x)
        x = try g.add("dw_bn", .batchNorm(epsilon: 1e-3, scale: false), x)
        x = try g.add("dense", .dense(units: 2), x)
        try g.add("dense_bn", .batchNorm(epsilon: 1e-5, center: false), x)
        let bn = { (c: Int, vars: [String]) in vars.map { ($0, [c]) } }
        let w = weights([
            ("conv", [("kernel", [3, 3, 2, 3])]),
            ("conv_bn", bn(3, ["gamma", "beta", "moving_mean", "moving_variance"])),
            ("dw", [("depthwise_kernel", [3, 3, 3, 1])]), ("dw_bn", bn(3, ["beta", "moving_mean", "moving_variance"])),
            ("dense", [("kernel", [3, 2]), ("bias", [2])]),
            ("dense_bn", bn(2, ["gamma", "moving_mean", "moving_variance"])),
        ])
        let model = try check(
            FoldBatchNorm(), g, w,
            layers: [["input_layer"], ["conv", "conv_bn"], ["dw", "dw_bn"], ["dense", "dense_bn"]], tolerance: 1e-5)
        // A fold gives the convolution a bias it did not have.
        guard case .conv(let p, _, let bias) = model.steps[1].kind else { return XCTFail() }
        XCTAssertTrue(p.useBias)
        XCTAssertEqual(bias?.count, 3)
    }

    func testFoldLayerScaleIntoDense() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 2, width: 2, channels: 3))
        let d = try g.add("pwconv2", .dense(units: 3), g.input)
        try g.add("layer_scale", .layerScale, d)
        let w = weights([("pwconv2", [("kernel", [3, 3]), ("bias", [3])]), ("layer_scale", [("variable", [3])])])
        try check(FoldLayerScale(), g, w, layers: [["input_layer"], ["pwconv2", "layer_scale"]])
    }

    func testFuseActivationIntoConvolutionAddAndBatchNormButSoftmaxOnlyIntoDense() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 3, width: 3, channels: 2))
        let c = try g.add("conv", .conv2d(.init(filters: 2, kernel: (1, 1))), g.input)
        let r = try g.add("conv_relu", .activation(.relu), c)
        let a = try g.add("add", .add, r, g.input)
        let ar = try g.add("add_relu", .activation(.relu6), a)
        let b = try g.add("bn", .batchNorm(epsilon: 1e-3), ar)
        let s = try g.add("bn_softmax", .activation(.softmax), b)  // normalizes rows: stays a step
        let d = try g.add("dense", .dense(units: 4), s)
        try g.add("predictions", .activation(.softmax), d)
        let w = weights([
            ("conv", [("kernel", [1, 1, 2, 2]), ("bias", [2])]),
            ("bn", ["gamma", "beta", "moving_mean", "moving_variance"].map { ($0, [2]) }),
            ("dense", [("kernel", [2, 4]), ("bias", [4])]),
        ])
        try check(
            FuseActivation(), g, w,
            layers: [
                ["input_layer"], ["conv", "conv_relu"], ["add", "add_relu"], ["bn"], ["bn_softmax"],
                ["dense", "predictions"],
            ])
    }

    /// A chain reuses slots: each value's slot is free once its reader ran, and no step writes
    /// the slot it reads.
    func testArenaReusesSlotsOfDeadValues() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 2, width: 2, channels: 4))
        var x = g.input
        for k in 0..<5 { x = try g.add("relu_\(k)", .activation(.relu), x) }
        let model = try CompiledGraph(g, weights: weights([]), options: .init(), optimizations: [])
        XCTAssertEqual(model.slotSizes, [16, 16])
        for step in model.steps {
            for i in step.inputs { XCTAssertNotEqual(model.slotOf[i], model.slotOf[step.output]) }
        }
    }
}
