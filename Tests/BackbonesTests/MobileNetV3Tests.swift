import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// MobileNetV3's structure: Keras' layers and ops, the strided padding at odd and even sizes,
/// the hard-sigmoid pieces, and the plan. Parity with Keras is BackboneParityTests'
/// (reference/mobilenetv3*_97.h5, mobilenetv3large_224.h5).
final class MobileNetV3Tests: XCTestCase {
    /// Node counts equal Keras 3's `len(model.operations)` (layers plus the unnamed `x + 3.0`
    /// and `* (1/6)` ops of each squeeze-excite), and the last auto-named layer matches Keras'
    /// name in a fresh session, so no layer is missing or extra and the counters run like Keras'.
    func testNodesMirrorKerasOperations() throws {
        let cases: [(MobileNetV3.Variant, nodes: Int, last: String)] = [
            (.init(.small), 175, "activation_17"),
            (.init(.large), 203, "activation_19"),
            (.init(.small, minimalistic: true), 103, "re_lu_22"),
            (.init(.large, minimalistic: true), 139, "re_lu_30"),
        ]
        for (variant, nodes, last) in cases {
            let g = try MobileNetV3.graph(variant, height: 97, width: 97)
            XCTAssertEqual(g.nodes.count, nodes, variant.id)
            XCTAssertEqual(g.nodes.last?.name, last, variant.id)
            let arch = try ArchitectureCatalog.architecture(variant.id)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), variant.id)
        }
        let small = try MobileNetV3.graph(.init(.small), height: 97, width: 97)
        // Auto names as Keras gives them (the stem hard_swish, block 0's ReLU, its SE gate).
        let names = small.nodes.prefix(17).map(\.name)
        XCTAssertEqual(
            Array(names[4...8]),
            [
                "activation", "expanded_conv_depthwise_pad", "expanded_conv_depthwise",
                "expanded_conv_depthwise_bn", "re_lu",
            ])
        XCTAssertEqual(Array(names[13...16]), ["add", "re_lu_1", "multiply", "expanded_conv_squeeze_excite_mul"])
        XCTAssertEqual(small.nodes.filter { $0.name.hasPrefix("multiply") }.last?.name, "multiply_8")
    }

    /// The SE gate is relu6(x + 3) * (1/6), built from three nodes, and it scales the block's map.
    func testHardSigmoidGate() throws {
        let g = try MobileNetV3.graph(.init(.small), height: 97, width: 97)
        func op(_ name: String) -> GraphOp? { g.nodes.first { $0.name == name }?.op }
        XCTAssertEqual(op("add"), .rescaling(scale: 1, offset: 3))
        XCTAssertEqual(op("re_lu_1"), .activation(.relu6))
        XCTAssertEqual(op("multiply"), .rescaling(scale: Float(1.0 / 6.0), offset: 0))
        XCTAssertEqual(shape(g, "multiply"), [1, 1, 16])
        XCTAssertEqual(shape(g, "expanded_conv_squeeze_excite_mul"), [25, 25, 16])
        XCTAssertEqual(op("expanded_conv_3_squeeze_excite_avg_pool"), .globalAveragePool(keepDims: true))
        // SE width: _depth(expanded * 0.25), here _depth(96 / 4) = 24.
        XCTAssertEqual(shape(g, "expanded_conv_3_squeeze_excite_conv"), [1, 1, 24])
        // The non-minimalistic stack: hard_swish after block 3's expansion, kernel 5.
        XCTAssertEqual(op("activation_1"), .activation(.hardSwish))
        let expandBN = g.nodes.first { $0.name == "expanded_conv_3_expand_bn" }
        XCTAssertEqual(g.nodes.first { $0.name == "activation_1" }?.inputs, expandBN.map { [$0.id] })
        guard case .depthwiseConv2d(let p)? = op("expanded_conv_3_depthwise") else { return XCTFail() }
        XCTAssertEqual(p.kernel.0, 5)
    }

    /// Minimalistic: kernel 3, ReLU, no squeeze-excite, no hard_swish anywhere.
    func testMinimalisticHasNoSEOrHardSwish() throws {
        let g = try MobileNetV3.graph(.init(.large, minimalistic: true), height: 97, width: 97)
        XCTAssertFalse(g.nodes.contains { $0.name.contains("squeeze_excite") || $0.op == .multiply })
        XCTAssertFalse(g.nodes.contains { $0.op == .activation(.hardSwish) })
        for node in g.nodes {
            if case .depthwiseConv2d(let p) = node.op { XCTAssertEqual(p.kernel.0, 3, node.name) }
        }
    }

    /// correct_pad at the static size: odd sizes pad (k/2, k/2) (= TF "same"), even sizes
    /// (k/2 - 1, k/2); 97 -> 49 -> 25 -> 13 -> 7 -> 4, 96 -> 48 -> 24 -> 12 -> 6 -> 3.
    func testStridedPaddingAtOddAndEvenSizes() throws {
        let odd = try MobileNetV3.graph(.init(.small), height: 97, width: 97)
        XCTAssertEqual(shape(odd, "conv"), [49, 49, 16])
        XCTAssertEqual(shape(odd, "expanded_conv_depthwise_pad"), [51, 51, 16])
        XCTAssertEqual(shape(odd, "expanded_conv_depthwise"), [25, 25, 16])
        XCTAssertEqual(shape(odd, "expanded_conv_1_depthwise"), [13, 13, 72])
        XCTAssertEqual(shape(odd, "expanded_conv_3_depthwise_pad"), [17, 17, 96])
        XCTAssertEqual(shape(odd, "expanded_conv_3_depthwise"), [7, 7, 96])
        XCTAssertEqual(shape(odd, "expanded_conv_8_depthwise"), [4, 4, 288])
        XCTAssertEqual(odd.shape(odd.outputNode).dimensions, [4, 4, 576])
        XCTAssertNil(shape(odd, "expanded_conv_2_depthwise_pad"))
        XCTAssertNotNil(shape(odd, "expanded_conv_2_add"))
        XCTAssertNil(shape(odd, "expanded_conv_3_add"))

        let even = try MobileNetV3.graph(.init(.small), height: 96, width: 96)
        XCTAssertEqual(
            even.nodes.first { $0.name == "expanded_conv_3_depthwise_pad" }?.op,
            .zeroPadding(Padding(top: 1, bottom: 2, left: 1, right: 2)))
        XCTAssertEqual(shape(even, "expanded_conv_3_depthwise"), [6, 6, 96])
        XCTAssertEqual(even.shape(even.outputNode).dimensions, [3, 3, 576])
    }

    func testWidthPoolingAndInputSize() throws {
        let g = try MobileNetV3.graph(.init(.large, alpha: 0.75), height: 224, width: 224, pooling: .max)
        XCTAssertEqual(g.nodes.last?.name, "max_pool")
        XCTAssertEqual(g.shape(g.outputNode).dimensions, [720])
        XCTAssertEqual(shape(g, "expanded_conv_14_project_bn"), [7, 7, 120])
        XCTAssertEqual(g.name, "MobileNetV3Large")
        let avg = try MobileNetV3.graph(.init(.small, alpha: 0.75), height: 33, width: 40, pooling: .avg)
        XCTAssertEqual(avg.nodes.last?.name, "avg_pool")
        XCTAssertEqual(avg.shape(avg.outputNode).dimensions, [432])
        XCTAssertThrowsError(try MobileNetV3.graph(.init(.small), height: 31, width: 224)) {
            guard case .badGraph(let layer, _)? = $0 as? GraphError else { return XCTFail("\($0)") }
            XCTAssertEqual(layer, "input_layer")
        }
        XCTAssertEqual(MobileNetV3.Variant(id: "MobileNetV3Small_0.75"), .init(.small, alpha: 0.75))
        XCTAssertNil(MobileNetV3.Variant(id: "MobileNetV3Small_0.5"))
    }

    /// Every BN folds into its convolution and every activation but the SE gate's ReLU(6) runs in
    /// a convolution's epilogue; that ReLU(6) fuses into the `+ 3` step before it.
    func testPlanFoldsBatchNormAndFusesActivations() throws {
        let file = try KerasWeightFile.open(Fixtures.path("reference/mobilenetv3small_97.h5"))
        let weights = try Binder.bind(file, to: ArchitectureCatalog.architecture("MobileNetV3Small"))
        let model = try CompiledGraph(MobileNetV3.graph(.init(.small), height: 97, width: 97), weights: weights)
        let layers = model.steps.map(\.layers)
        XCTAssertEqual(layers[1], ["rescaling"])
        XCTAssertEqual(layers[2], ["conv", "conv_bn", "activation"])
        XCTAssertTrue(
            layers.contains(
                ["expanded_conv_depthwise", "expanded_conv_depthwise_bn", "re_lu", "expanded_conv_depthwise_pad"]))
        XCTAssertTrue(layers.contains(["expanded_conv_squeeze_excite_conv", "expanded_conv_squeeze_excite_relu"]))
        XCTAssertTrue(layers.contains(["add", "re_lu_1"]))
        XCTAssertTrue(layers.contains(["conv_1", "conv_1_bn", "activation_17"]))
        for step in model.steps {
            if case .activation = step.kind { XCTFail("unfused activation \(step.layers)") }
            if case .scaleOffset = step.kind, step.layers.contains(where: { $0.hasSuffix("_bn") }) {
                XCTFail("unfolded BN \(step.layers)")
            }
        }
    }
}
