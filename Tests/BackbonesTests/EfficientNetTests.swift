import Foundation
import TestSupport
import XCTest

@testable import Backbones
@testable import WeightLoader

/// EfficientNet's structure: Keras' layers (with the imagenet-only third preprocessing layer),
/// strided padding at an odd size, squeeze-excite widths, and the plan; plus the new graph ops
/// (Normalization, per-channel Rescaling, Reshape, Dropout) on a hand-checkable graph. Parity
/// with Keras is BackboneParityTests' (reference/efficientnetb0_97.h5, _224.h5, b3_97.h5).
final class EfficientNetTests: XCTestCase {
    /// Keras' `model.layers` with weights="imagenet" are the catalog's (built with weights=None)
    /// plus `rescaling_1`; the drop layers exist exactly in the residual blocks after the first.
    func testNodesMirrorKerasLayers() throws {
        for variant in [EfficientNet.Variant.b0, .b1, .b7] {
            let arch = try ArchitectureCatalog.architecture(variant.rawValue)
            let g = try EfficientNet.graph(variant, height: 97, width: 97)
            XCTAssertEqual(g.nodes.count, arch.numLayers + 1, variant.rawValue)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), variant.rawValue)
            XCTAssertEqual(g.name, variant.rawValue.lowercased())
        }
        let b1 = try EfficientNet.graph(.b1, height: 97, width: 97)
        XCTAssertNotNil(shape(b1, "block1b_drop"))
        XCTAssertNil(shape(b1, "block1a_drop"))
        XCTAssertNil(shape(b1, "block2a_add"))
        XCTAssertEqual(b1.nodes.first { $0.name == "block2b_add" }?.inputs.count, 2)
    }

    func testPreprocessingLayers() throws {
        let g = try EfficientNet.graph(.b0, height: 224, width: 224)
        XCTAssertEqual(g.nodes[1...3].map(\.name), ["rescaling", "normalization", "rescaling_1"])
        XCTAssertEqual(g.nodes[1].op, .rescaling(scale: Float(1.0 / 255), offset: 0))
        XCTAssertEqual(g.nodes[2].op, .normalization())
        XCTAssertTrue(g.nodes[2].op.hasWeights)
        guard case .channelRescaling(let scale, let offset) = g.nodes[3].op else { return XCTFail() }
        // 1/sqrt(0.229), 1/sqrt(0.224), 1/sqrt(0.225) rounded to float32.
        XCTAssertEqual(scale, [2.0896918976428642, 2.1128856368212916, 2.1081851067789197].map { Float($0) })
        XCTAssertEqual(offset, [0, 0, 0])
    }

    /// correct_pad at the static size; 97 -> 49 -> 25 -> 13 -> 7 -> 4; SE widths from the block
    /// input (block2a: 16 * 0.25 = 4, not 96 * 0.25).
    func testShapesAtOddSize() throws {
        let g = try EfficientNet.graph(.b0, height: 97, width: 97)
        XCTAssertEqual(shape(g, "stem_conv_pad"), [99, 99, 3])
        XCTAssertEqual(shape(g, "stem_conv"), [49, 49, 32])
        XCTAssertEqual(shape(g, "block2a_dwconv_pad"), [51, 51, 96])
        XCTAssertEqual(shape(g, "block2a_dwconv"), [25, 25, 96])
        XCTAssertEqual(shape(g, "block3a_dwconv_pad"), [29, 29, 144])
        XCTAssertEqual(shape(g, "block3a_dwconv"), [13, 13, 144])
        XCTAssertEqual(shape(g, "block4a_dwconv"), [7, 7, 240])
        XCTAssertEqual(shape(g, "block6a_dwconv"), [4, 4, 672])
        XCTAssertEqual(shape(g, "block2a_se_squeeze"), [96])
        XCTAssertEqual(shape(g, "block2a_se_reshape"), [1, 1, 96])
        XCTAssertEqual(shape(g, "block2a_se_reduce"), [1, 1, 4])
        XCTAssertEqual(shape(g, "block2a_se_excite"), [25, 25, 96])
        XCTAssertEqual(g.shape(g.outputNode).dimensions, [4, 4, 1280])

        let b3 = try EfficientNet.graph(.b3, height: 300, width: 300, pooling: .max)
        XCTAssertEqual(shape(b3, "stem_conv"), [150, 150, 40])
        XCTAssertEqual(shape(b3, "top_conv"), [10, 10, 1536])
        XCTAssertEqual(b3.nodes.last?.name, "max_pool")
        XCTAssertEqual(b3.shape(b3.outputNode).dimensions, [1536])
        XCTAssertNotNil(shape(b3, "block6f_add"))  // ceil(1.4 * 4) = 6 repeats
        XCTAssertNil(shape(b3, "block6g_project_conv"))
        XCTAssertThrowsError(try EfficientNet.graph(.b0, height: 224, width: 20))
    }

    /// The plan on the B0 reference weights: BN folded, swish fused, paddings and SE gates
    /// folded, the Normalization divisor from the file's variance, Reshape and Dropout as copies.
    func testPlan() throws {
        let file = try KerasWeightFile.open(Fixtures.path("reference/efficientnetb0_97.h5"))
        let weights = try Binder.bind(file, to: ArchitectureCatalog.architecture("EfficientNetB0"))
        let model = try CompiledGraph(EfficientNet.graph(.b0, height: 97, width: 97), weights: weights)
        let layers = model.steps.map(\.layers)
        XCTAssertEqual(
            layers[1...4],
            [
                ["rescaling"], ["normalization"], ["rescaling_1"],
                ["stem_conv", "stem_bn", "stem_activation", "stem_conv_pad"],
            ])
        XCTAssertTrue(layers.contains(["block1a_dwconv", "block1a_bn", "block1a_activation"]))
        XCTAssertTrue(layers.contains(["block2a_dwconv", "block2a_bn", "block2a_activation", "block2a_dwconv_pad"]))
        // The SE gate folds into the projection where the map (25×25 here) outnumbers the
        // kernel's columns, and stays a multiply at 4×4 (block6: 192 columns).
        let project2b = try XCTUnwrap(model.steps.first { $0.layers[0] == "block2b_project_conv" })
        XCTAssertEqual(project2b.layers, ["block2b_project_conv", "block2b_project_bn", "block2b_se_excite"])
        guard case .gatedPointwise = project2b.kind else { return XCTFail("\(project2b.kind)") }
        XCTAssertTrue(layers.contains(["block6a_se_excite"]))
        XCTAssertTrue(layers.contains(["block6a_project_conv", "block6a_project_bn"]))
        guard case .subtractDivide(let mean, let divide) = model.steps[2].kind else { return XCTFail() }
        let stored = try XCTUnwrap(weights.layer("normalization")).arrays
        XCTAssertEqual(mean, stored[0].values)
        XCTAssertEqual(divide, stored[1].values.map { max($0.squareRoot(), 1e-7) })
        for step in model.steps {
            switch step.kind {
            case .activation: XCTFail("unfused activation \(step.layers)")
            case .zeroPadding: XCTFail("unfolded padding \(step.layers)")
            case .scaleOffset where step.layers.contains(where: { $0.hasSuffix("bn") }):
                XCTFail("unfolded BN \(step.layers)")
            case .copy: XCTAssertTrue(step.layers[0].hasSuffix("_drop") || step.layers[0].hasSuffix("_se_reshape"))
            case .conv(let p, _, _) where step.layers[0].hasSuffix("se_reduce"):
                XCTAssertEqual(p.activation, .swish)
            case .conv(let p, _, _) where step.layers[0].hasSuffix("se_expand"):
                XCTAssertEqual(p.activation, .sigmoid)
            default: break
            }
        }
    }

    /// Rescaling -> Normalization (weights; one zero variance, whose divisor is Keras' 1e-7) ->
    /// per-channel Rescaling -> GAP -> Reshape -> Multiply -> Dropout, checked by hand.
    func testPreprocessingAndSEOpsByHand() throws {
        var g = Graph(name: "tiny", input: FeatureShape(height: 1, width: 2, channels: 3))
        var x = try g.add("scale", .rescaling(scale: 0.5, offset: 0), g.input)
        x = try g.add("norm", .normalization(), x)
        x = try g.add("rescale", .channelRescaling(scale: [2, 1e-6, 10], offset: [0, 0, 1]), x)
        var gate = try g.add("gap", .globalAveragePool(keepDims: false), x)
        gate = try g.add("reshape", .reshape(FeatureShape(height: 1, width: 1, channels: 3)), gate)
        x = try g.add("excite", .multiply, x, gate)
        try g.add("drop", .dropout, x)
        XCTAssertEqual(g.weightedLayerNames, ["norm"])
        let arrays = [("mean", [Float](arrayLiteral: 0.5, 0.25, 0)), ("variance", [0.25, 0, 4]), ("count", [7])]
        let weights = BoundWeights(
            architecture: try ArchitectureCatalog.architecture("EfficientNetB0"), method: .positional,
            layers: [
                BoundLayer(
                    name: "norm", className: "Normalization", sourceName: "norm",
                    arrays: arrays.map {
                        BoundArray(name: "norm/\($0.0)", shape: $0.1.count == 1 ? [] : [3], values: $0.1)
                    })
            ])
        let model = try CompiledGraph(g, weights: weights)
        // pixels (0.5x): [2, 0, 0.4], [0, 2, 0.8] -> [1, 0, 0.2], [0, 1, 0.4]
        // (x - mean) / [0.5, 1e-7, 2] -> [1, -2.5e6, 0.1], [-1, 7.5e6, 0.2]
        // * [2, 1e-6, 10] + [0, 0, 1] -> [2, -2.5, 2], [-2, 7.5, 3]; mean gate [0, 2.5, 2.5]
        let ours = try model.run([2, 0, 0.4, 0, 2, 0.8])
        let expected: [Float] = [0, -6.25, 5, 0, 18.75, 7.5]
        for (a, e) in zip(ours, expected) { XCTAssertEqual(a, e, accuracy: 1e-5 * max(1, abs(e)), "\(ours)") }
        XCTAssertEqual(model.steps.map(\.layers).last, ["drop"])

        // Constant mean/variance (EfficientNetV2's layer): no weights; sizes checked.
        XCTAssertFalse(GraphOp.normalization(mean: [0, 0, 0], variance: [1, 1, 1]).hasWeights)
        XCTAssertThrowsError(try g.add("bad_norm", .normalization(mean: [0], variance: [1]), g.input))
        XCTAssertThrowsError(
            try g.add("bad_reshape", .reshape(FeatureShape(height: 2, width: 2, channels: 3)), g.input))
        XCTAssertThrowsError(try g.add("bad_scale", .channelRescaling(scale: [1, 2], offset: [0, 0]), g.input))
    }
}
