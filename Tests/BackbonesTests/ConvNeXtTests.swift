import Foundation
import TestSupport
import XCTest

@testable import Backbones
@testable import WeightLoader

/// ConvNeXt's structure: Keras' layer names, the nested Sequential stem and downsampling blocks
/// (one weighted layer each in the file), the final LayerNormalization after the pooling, the
/// constant preprocessing, stage sizes at odd and minimum inputs, and the plan; plus the new
/// graph ops (Dense, LayerNormalization, LayerScale, nested scopes) on a hand-checkable graph.
/// Parity with Keras is BackboneParityTests' (reference/convnexttiny_97.h5, _224.h5,
/// convnextsmall_97.h5).
final class ConvNeXtTests: XCTestCase {
    /// Keras' `model.layers` are the catalog's; the graph adds the residual `Add` operations
    /// (not layers in Keras 3) and lists a nested model's two layers instead of the model.
    func testNodesMirrorKerasLayers() throws {
        for variant in ConvNeXt.Variant.allCases {
            let arch = try ArchitectureCatalog.architecture(variant.rawValue)
            let g = try ConvNeXt.graph(variant, height: 97, width: 97)
            let blocks = variant.config.depths.reduce(0, +)
            XCTAssertEqual(g.nodes.count, arch.numLayers + blocks + 4, variant.rawValue)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), variant.rawValue)
            XCTAssertEqual(g.name, variant.modelName)
            XCTAssertEqual(g.nodes.last?.name, "layer_normalization")
            XCTAssertEqual(g.nodes.filter { $0.op == .add }.last?.name, "add_\(blocks - 1)")
        }
        let g = try ConvNeXt.graph(.tiny, height: 97, width: 97)
        XCTAssertEqual(
            g.nodes[1...4].map(\.name),
            [
                "convnext_tiny_prestem_normalization", "convnext_tiny_stem_conv",
                "convnext_tiny_stem_layernorm", "convnext_tiny_stage_0_block_0_depthwise_conv",
            ])
        XCTAssertEqual(g.nodes[2].scope, "convnext_tiny_stem")
        XCTAssertEqual(g.nodes[4].scope, nil)
        let block = g.nodes.filter { $0.name.hasPrefix("convnext_tiny_stage_1_block_2_") }
        XCTAssertEqual(
            block.map { String($0.name.dropFirst("convnext_tiny_stage_1_block_2_".count)) },
            [
                "depthwise_conv", "layernorm", "pointwise_conv_1", "gelu", "pointwise_conv_2",
                "layer_scale", "identity",
            ])
        XCTAssertEqual(
            block[0].op, .conv2d(.init(filters: 192, kernel: (7, 7), padding: .same, groups: 192)))
        XCTAssertEqual(block[2].op, .dense(units: 768))
        XCTAssertEqual(block[3].op, .activation(.gelu))
    }

    /// PreStem: constants of the layer config, so no weights (the catalog lists none).
    func testPreprocessingIsConstant() throws {
        let g = try ConvNeXt.graph(.base, height: 224, width: 224)
        guard case .normalization(let mean?, let variance?) = g.nodes[1].op else { return XCTFail() }
        XCTAssertFalse(g.nodes[1].op.hasWeights)
        XCTAssertEqual(mean, [123.675, 116.28, 103.53].map { Float($0) })
        // (0.229 * 255)^2, ... in Double, then float32: Keras' ops.cast of the Python list.
        XCTAssertEqual(variance, [3409.9760250000004, 3262.6944000000003, 3291.890625].map { Float($0) })
    }

    /// 4×4/4 valid stem then 2×2/2 valid downsampling: 97 -> 24 -> 12 -> 6 -> 3 (the 97th
    /// row and column never reach the stem); Keras' minimum 32 -> 8 -> 4 -> 2 -> 1.
    func testStageSizes() throws {
        let g = try ConvNeXt.graph(.tiny, height: 97, width: 97)
        XCTAssertEqual(shape(g, "convnext_tiny_stem_conv"), [24, 24, 96])
        XCTAssertEqual(shape(g, "convnext_tiny_stage_0_block_0_pointwise_conv_1"), [24, 24, 384])
        XCTAssertEqual(shape(g, "convnext_tiny_downsampling_layernorm_0"), [24, 24, 96])
        XCTAssertEqual(shape(g, "convnext_tiny_downsampling_conv_0"), [12, 12, 192])
        XCTAssertEqual(shape(g, "convnext_tiny_downsampling_conv_1"), [6, 6, 384])
        XCTAssertEqual(shape(g, "convnext_tiny_stage_3_block_2_depthwise_conv"), [3, 3, 768])
        XCTAssertEqual(g.shape(g.outputNode).dimensions, [3, 3, 768])

        let small = try ConvNeXt.graph(.xlarge, height: 32, width: 40)
        XCTAssertEqual(shape(small, "convnext_xlarge_stem_conv"), [8, 10, 256])
        XCTAssertEqual(small.shape(small.outputNode).dimensions, [1, 1, 2048])
        XCTAssertThrowsError(try ConvNeXt.graph(.tiny, height: 31, width: 224))
    }

    /// Keras applies the unnamed LayerNormalization after the optional pooling: per pixel
    /// without pooling, on the pooled vector with it.
    func testFinalLayerNormFollowsPooling() throws {
        let none = try ConvNeXt.graph(.tiny, height: 97, width: 97)
        XCTAssertEqual(none.nodes.suffix(2).map(\.name), ["add_17", "layer_normalization"])
        let poolings = [(GlobalPooling.avg, "global_average_pooling2d"), (.max, "global_max_pooling2d")]
        for (pooling, name) in poolings {
            let g = try ConvNeXt.graph(.tiny, height: 97, width: 97, pooling: pooling)
            XCTAssertEqual(g.nodes.suffix(3).map(\.name), ["add_17", name, "layer_normalization"])
            XCTAssertEqual(
                g.shape(g.outputNode), FeatureShape(height: 1, width: 1, channels: 768, flat: true))
        }
    }

    /// `--layer` with a nested model's name ends at its last layer, as `get_layer(...).output`.
    func testNestedModelNamesALayerOutput() throws {
        let stem = try Backbone.graph("ConvNeXtTiny", height: 97, width: 97, layer: "convnext_tiny_stem")
        XCTAssertEqual(stem.nodes[stem.outputNode].name, "convnext_tiny_stem_layernorm")
        XCTAssertEqual(stem.shape(stem.outputNode).dimensions, [24, 24, 96])
        let pooled = try Backbone.graph(
            "ConvNeXtTiny", height: 97, width: 97, layer: "convnext_tiny_downsampling_block_2",
            pooling: .avg)
        XCTAssertEqual(pooled.shape(pooled.outputNode).dimensions, [768])
        XCTAssertEqual(
            pooled.nodes[pooled.nodes[pooled.outputNode].inputs[0]].name,
            "convnext_tiny_downsampling_conv_2")
    }

    /// The plan on the skeleton (published layout): GELU in the first Dense's epilogue,
    /// LayerScale folded into the second Dense with its identity activation, nested layers
    /// reading their own arrays of the Sequential's group.
    func testPlan() throws {
        let arch = try ArchitectureCatalog.architecture("ConvNeXtTiny")
        let file = try KerasWeightFile.open(Fixtures.path("skeletons/ConvNeXtTiny.h5"))
        let model = try CompiledGraph(
            ConvNeXt.graph(.tiny, height: 32, width: 32), weights: Binder.bind(file, to: arch))
        let layers = model.steps.map(\.layers)
        // input, prestem, stem (2), 18 blocks of 5 steps, 3 downsampling blocks (2), final LN.
        XCTAssertEqual(layers.count, 1 + 1 + 2 + 18 * 5 + 3 * 2 + 1)
        let b = "convnext_tiny_stage_2_block_8_"
        XCTAssertTrue(layers.contains(["\(b)pointwise_conv_1", "\(b)gelu"]))
        XCTAssertTrue(layers.contains(["\(b)pointwise_conv_2", "\(b)layer_scale", "\(b)identity"]))
        for step in model.steps {
            switch step.kind {
            case .dense(let units, let kernel, let bias, let activation):
                XCTAssertEqual(kernel.count, graphChannels(model, step) * units)
                XCTAssertEqual(bias?.count, units)
                XCTAssertEqual(activation, step.layers.count == 2 ? .gelu : .linear, "\(step.layers)")
            case .activation, .scaleOffset: XCTFail("unfused \(step.layers)")
            case .conv(let p, let kernel, _) where step.layers == ["convnext_tiny_stem_conv"]:
                XCTAssertEqual(kernel.count, 4 * 4 * 3 * 96)
                XCTAssertEqual(p.strides.0, 4)
            case .layerNorm(let eps, let gamma, _) where step.layers == ["convnext_tiny_stem_layernorm"]:
                XCTAssertEqual(eps, 1e-6)
                XCTAssertEqual(gamma.count, 96)
            default: break
            }
        }
    }

    private func graphChannels(_ model: CompiledGraph, _ step: CompiledGraph.Step) -> Int {
        model.graph.shape(step.inputs[0]).channels
    }

    /// A nested model "seq" (1×1 conv, LayerNormalization), Dense 2->3 + GELU, Dense 3->2,
    /// LayerScale, identity, residual add, on one 1×2 image with 2 channels; expected values
    /// from the formulas in Double.
    func testNewOpsByHand() throws {
        var g = Graph(name: "toy", input: FeatureShape(height: 1, width: 2, channels: 2))
        var x = try g.add("seq_conv", .conv2d(.init(filters: 2, kernel: (1, 1))), g.input, in: "seq")
        let normed = try g.add("seq_norm", .layerNormalization(epsilon: 0), x, in: "seq")
        x = try g.add("dense", .dense(units: 3), normed)
        x = try g.add("gelu", .activation(.gelu), x)
        x = try g.add("dense_1", .dense(units: 2), x)
        x = try g.add("scale", .layerScale, x)
        x = try g.add("identity", .activation(.linear), x)
        try g.add("add", .add, normed, x)
        XCTAssertEqual(g.weightedLayerNames, ["seq", "dense", "dense_1", "scale"])
        XCTAssertEqual(g.nodes[1].weightsLayer, "seq")

        func layer(_ name: String, _ arrays: [(String, [Int], [Float])]) -> BoundLayer {
            BoundLayer(
                name: name, className: "", sourceName: name,
                arrays: arrays.map { BoundArray(name: "\(name)/\($0.0)", shape: $0.1, values: $0.2) })
        }
        let seq = layer(
            "seq",
            [
                ("seq_conv/kernel", [1, 1, 2, 2], [1, 0, 0, 1]), ("seq_conv/bias", [2], [0, 1]),
                ("seq_norm/gamma", [2], [2, 3]), ("seq_norm/beta", [2], [0.5, -0.5]),
            ])
        let layers = [
            seq,
            layer("dense", [("kernel", [2, 3], [1, 0, 1, 0, 1, 1]), ("bias", [3], [0, 0, -1])]),
            layer("dense_1", [("kernel", [3, 2], [1, 0, 0, 1, 1, 1]), ("bias", [2], [0.5, 0])]),
            layer("scale", [("variable_7", [2], [2, -1])]),
        ]
        let arch = try ArchitectureCatalog.architecture("ConvNeXtTiny")
        let model = try CompiledGraph(
            g, weights: BoundWeights(architecture: arch, method: .positional, layers: layers))
        XCTAssertEqual(
            model.steps.map(\.layers),
            [
                ["input_layer"], ["seq_conv"], ["seq_norm"], ["dense", "gelu"],
                ["dense_1", "scale", "identity"], ["add"],
            ])

        // conv (identity kernel, bias [0, 1]): [1, 4], [2, -1]; both rows have mean ± 1.5, so
        // normalized [-1, 1], [1, -1]; * gamma + beta: [-1.5, 2.5], [2.5, -3.5].
        let norm: [[Double]] = [[-1.5, 2.5], [2.5, -3.5]]
        func gelu(_ v: Double) -> Double { 0.5 * v * Foundation.erfc(-v / 2.0.squareRoot()) }
        var expected: [Float] = []
        for n in norm {
            let h = [n[0], n[1], n[0] + n[1] - 1].map(gelu)
            let y = [h[0] + h[2] + 0.5, h[1] + h[2]]
            expected += [n[0] + 2 * y[0], n[1] - y[1]].map { Float($0) }
        }
        let ours = try model.run([1, 3, 2, -2])
        for (a, e) in zip(ours, expected) {
            XCTAssertEqual(a, e, accuracy: 1e-6, "\(ours) vs \(expected)")
        }

        // Weights of a nested layer live under the nested model's name.
        func bound(_ layers: [BoundLayer]) -> BoundWeights {
            BoundWeights(architecture: arch, method: .positional, layers: layers)
        }
        XCTAssertThrowsError(try CompiledGraph(g, weights: bound(Array(layers.dropFirst())))) {
            XCTAssertEqual($0 as? GraphError, .missingLayer(model: "toy", layer: "seq"))
        }
        // LayerScale takes exactly one array, whatever its name.
        var twoScales = layers
        twoScales[3] = layer("scale", [("variable_7", [2], [2, -1]), ("gamma", [2], [1, 1])])
        XCTAssertThrowsError(try CompiledGraph(g, weights: bound(twoScales)))

        // Dense on a flat tensor stays flat; 0 units is refused.
        var flat = Graph(name: "flat", input: FeatureShape(height: 2, width: 2, channels: 4))
        let pooled = try flat.add("gap", .globalAveragePool(keepDims: false), flat.input)
        let dense = try flat.add("dense", .dense(units: 5), pooled)
        XCTAssertEqual(flat.shape(dense), FeatureShape(height: 1, width: 1, channels: 5, flat: true))
        XCTAssertThrowsError(try flat.add("none", .dense(units: 0), pooled))
    }

    /// TensorFlow's exact GELU is `0.5 x erfc(-x / sqrt 2)`: for large negative x it keeps its
    /// relative precision where `0.5 x (1 + erf(x / sqrt 2))` rounds to 0.
    func testGeluTailIsRelativelyPrecise() {
        let cases: [(Float, Double)] = [(-10, -7.619853024160593e-23), (-5, -1.4332578593959731e-06)]
        for (x, expected) in cases {
            let observed = Double(Activation.gelu(x))
            XCTAssertEqual(observed, expected, accuracy: 1e-6 * abs(expected), "gelu(\(x))")
        }
    }
}
