import Foundation
import TestSupport
import XCTest

@testable import Backbones
@testable import WeightLoader

/// NASNet's structure: which `_adjust_block` path each cell takes (none, the two shifted
/// stride-2 paths, the 1×1 projection), NASNetLarge's `skip_reduction`, Keras' automatic names
/// and layer counts, the one-pixel shift of Cropping2D, and the plan. Parity with Keras is
/// BackboneParityTests' (NASNetMobile at 97 and 224; NASNetLarge by structure only).
final class NASNetTests: XCTestCase {
    func node(_ g: Graph, _ name: String) throws -> GraphNode {
        try XCTUnwrap(g.nodes.first { $0.name == name }, name)
    }

    func inputs(_ g: Graph, _ name: String) throws -> [String] {
        try node(g, name).inputs.map { g.nodes[$0].name }
    }

    /// Shapes, inputs and names as Keras 3.15 reports them for input_shape=(97, 97, 3)
    /// (`model.layers`: 769 layers for Mobile, 1039 for Large).
    func testMobileAt97MatchesKerasLayers() throws {
        let g = try NASNet.graph(.mobile, height: 97, width: 97)
        XCTAssertEqual(g.name, "nasnet_mobile")
        XCTAssertEqual(g.nodes.count, 769)
        let expected: [(String, [Int])] = [
            ("stem_bn1", [48, 48, 32]), ("separable_conv_1_pad_reduction_left1_stem_1", [51, 51, 11]),
            ("separable_conv_1_pad_reduction_right1_stem_1", [53, 53, 32]),
            ("reduction_pad_1_stem_1", [49, 49, 11]), ("reduction_concat_stem_1", [24, 24, 44]),
            ("zero_padding2d", [49, 49, 32]), ("cropping2d", [48, 48, 32]),
            ("adjust_bn_stem_2", [24, 24, 22]), ("reduction_concat_stem_2", [12, 12, 88]),
            ("normal_concat_3", [12, 12, 264]), ("reduction_concat_reduce_4", [6, 6, 352]),
            ("concatenate_3", [3, 3, 176]), ("normal_concat_12", [3, 3, 1056]),
            ("activation_187", [3, 3, 1056]),
        ]
        for (name, dims) in expected {
            XCTAssertEqual(try g.shape(node(g, name).id).dimensions, dims, name)
        }
        XCTAssertEqual(g.nodes.last?.name, "activation_187")
        // stem_1 has no `p`: no adjust layers, its right branches read ReLUs of stem_bn1.
        XCTAssertFalse(g.nodes.contains { $0.name.hasSuffix("_stem_1") && $0.name.hasPrefix("adjust") })
        XCTAssertEqual(try inputs(g, "activation_3"), ["stem_bn1"])
        // Widths differ: ReLU, then 1×1/2 subsampling straight and shifted by one pixel.
        XCTAssertEqual(try inputs(g, "adjust_relu_1_stem_2"), ["stem_bn1"])
        XCTAssertEqual(try inputs(g, "zero_padding2d"), ["adjust_relu_1_stem_2"])
        XCTAssertEqual(try inputs(g, "adjust_avg_pool_2_stem_2"), ["cropping2d"])
        XCTAssertEqual(try inputs(g, "concatenate"), ["adjust_conv_1_stem_2", "adjust_conv_2_stem_2"])
        XCTAssertEqual(try node(g, "cropping2d").op, .cropping2d(Padding(top: 1, bottom: 0, left: 1, right: 0)))
        XCTAssertEqual(try inputs(g, "adjust_relu_1_0"), ["reduction_concat_stem_1"])
        // Same width, other channels: the auto-named ReLU + 1×1 projection.
        XCTAssertEqual(try inputs(g, "adjust_conv_projection_1"), ["activation_33"])
        XCTAssertEqual(try inputs(g, "adjust_bn_reduce_4"), ["adjust_conv_projection_reduce_4"])
        // Without skip_reduction the cell after a reduction gets the reduction's input as `p`.
        XCTAssertEqual(try inputs(g, "adjust_relu_1_5"), ["normal_concat_3"])
        XCTAssertEqual(try inputs(g, "adjust_relu_1_9"), ["normal_concat_8"])
        // Reduction block 4's add is unnamed in Keras.
        XCTAssertEqual(try inputs(g, "add_2"), ["reduction_add_2_reduce_4", "reduction_left4_reduce_4"])
        XCTAssertEqual(
            try inputs(g, "normal_concat_12"),
            [
                "adjust_bn_12", "normal_add_1_12", "normal_add_2_12", "normal_add_3_12", "normal_add_4_12",
                "normal_add_5_12",
            ])
    }

    func testLargeSkipsTheReductionInput() throws {
        let g = try NASNet.graph(.large, height: 97, width: 97)
        XCTAssertEqual(g.name, "nasnet_large")
        XCTAssertEqual(g.nodes.count, 1039)
        XCTAssertEqual(g.nodes.last?.name, "activation_259")
        XCTAssertEqual(try g.shape(node(g, "activation_259").id).dimensions, [3, 3, 4032])
        XCTAssertEqual(try g.shape(node(g, "reduction_concat_stem_1").id).dimensions, [24, 24, 168])
        // skip_reduction: cell 7 adjusts the `p` that reduce_6 received (cell 5's input).
        XCTAssertEqual(try inputs(g, "adjust_relu_1_7"), ["normal_concat_4"])
        XCTAssertEqual(try inputs(g, "adjust_relu_1_13"), ["normal_concat_11"])
        XCTAssertEqual(try g.shape(node(g, "concatenate_3").id).dimensions, [3, 3, 672])
    }

    func testSizesAndPooling() throws {
        XCTAssertThrowsError(try NASNet.graph(.mobile, height: 31, width: 224))
        let small = try NASNet.graph(.mobile, height: 32, width: 32)
        XCTAssertEqual(small.shape(small.outputNode).dimensions, [1, 1, 1056])
        // Keras compares widths only in `_adjust_block`; both axes halve alike.
        let wide = try NASNet.graph(.large, height: 32, width: 45)
        XCTAssertEqual(wide.shape(wide.outputNode).dimensions, [1, 2, 4032])
        let avg = try NASNet.graph(.mobile, height: 224, width: 224, pooling: .avg)
        XCTAssertEqual(avg.nodes.last?.name, "global_average_pooling2d")
        XCTAssertEqual(avg.shape(avg.outputNode).dimensions, [1056])
        let max = try NASNet.graph(.large, height: 331, width: 331, pooling: .max)
        XCTAssertEqual(max.nodes.last?.name, "global_max_pooling2d")
        XCTAssertEqual(try max.shape(node(max, "activation_259").id).dimensions, [11, 11, 4032])
    }

    /// `_adjust_block`'s two paths on a 5×5 ramp: 1×1/2 pooling keeps the even pixels; padding
    /// bottom/right and cropping top/left first keeps the odd ones (zero past the border).
    func testShiftedSubsamplingByHand() throws {
        var g = Graph(name: "shift", input: FeatureShape(height: 5, width: 5, channels: 1))
        let halve = GraphOp.averagePool(.init(pool: (1, 1), strides: (2, 2)))
        let p1 = try g.add("p1", halve, g.input)
        var p2 = try g.add("pad", .zeroPadding(Padding(top: 0, bottom: 1, left: 0, right: 1)), g.input)
        p2 = try g.add("crop", .cropping2d(Padding(top: 1, bottom: 0, left: 1, right: 0)), p2)
        p2 = try g.add("p2", halve, p2)
        try g.add("cat", .concat, p1, p2)
        let none = BoundWeights(
            architecture: try ArchitectureCatalog.architecture("NASNetMobile"), method: .positional, layers: [])
        let out = try CompiledGraph(g, weights: none).run((0..<25).map(Float.init))
        let straight: [Float] = [0, 2, 4, 10, 12, 14, 20, 22, 24]
        let shifted: [Float] = [6, 8, 0, 16, 18, 0, 0, 0, 0]
        XCTAssertEqual(out, zip(straight, shifted).flatMap { [$0, $1] })

        XCTAssertThrowsError(try g.add("empty", .cropping2d(Padding(top: 3, bottom: 2, left: 0, right: 0)), g.input)) {
            guard case .badGraph(let layer, _)? = $0 as? GraphError else { return XCTFail("\($0)") }
            XCTAssertEqual(layer, "empty")
        }
    }

    /// 160 SeparableConv2D steps (16 cells × 5 blocks × 2), each with its BN folded into the
    /// pointwise half and, in the first of a block, the ReLU between them in the epilogue; the
    /// only unfolded BNs are the four `adjust_bn` after a concatenate.
    func testPlanFoldsBatchNorms() throws {
        let file = try KerasWeightFile.open(Fixtures.path("reference/nasnetmobile_97.h5"))
        let model = try CompiledGraph(
            NASNet.graph(.mobile, height: 97, width: 97),
            weights: Binder.bind(file, to: ArchitectureCatalog.architecture("NASNetMobile")))
        var separable = 0
        var affine: [[String]] = []
        for step in model.steps {
            switch step.kind {
            case .separable(_, _, _, let bias):
                separable += 1
                XCTAssertNotNil(bias, "\(step.layers)")
                let first = step.layers[0].hasPrefix("separable_conv_1_")
                let bn = step.layers[0].replacingOccurrences(
                    of: first ? "conv_1_" : "conv_2_", with: first ? "conv_1_bn_" : "conv_2_bn_")
                XCTAssertEqual(step.layers.dropFirst().first, bn)
                XCTAssertEqual(step.layers.count, first ? 3 : 2, "\(step.layers)")
            case .scaleOffset:
                affine.append(step.layers)
            default: break
            }
        }
        XCTAssertEqual(separable, 160)
        XCTAssertEqual(affine, [["adjust_bn_stem_2"], ["adjust_bn_0"], ["adjust_bn_5"], ["adjust_bn_9"]])
        for layers in [
            ["stem_conv1", "stem_bn1"], ["reduction_conv_1_stem_1", "reduction_bn_1_stem_1"],
            ["adjust_conv_projection_1", "adjust_bn_1"], ["adjust_conv_1_stem_2"], ["cropping2d"],
        ] {
            XCTAssertTrue(model.steps.contains { $0.layers == layers }, "\(layers)")
        }
    }
}
