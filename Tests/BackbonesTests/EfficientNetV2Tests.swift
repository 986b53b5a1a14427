import Foundation
import TestSupport
import XCTest

@testable import Backbones
@testable import WeightLoader

/// EfficientNetV2's structure: Keras' layers for all seven variants (B1-B3, M and L have no
/// value parity), the per-variant preprocessing, "same" padding at an odd size, round_filters /
/// round_repeats, Fused vs MBConv blocks, and the plan. Parity with Keras is
/// BackboneParityTests' (reference/efficientnetv2b0_97.h5, _224.h5, efficientnetv2s_97.h5).
final class EfficientNetV2Tests: XCTestCase {
    /// The graph has as many nodes as Keras' `model.layers` (input included) and the catalog's
    /// weighted-layer order; no ZeroPadding2D anywhere.
    func testNodesMirrorKerasLayers() throws {
        for variant in EfficientNetV2.Variant.allCases {
            let arch = try ArchitectureCatalog.architecture(variant.rawValue)
            let g = try EfficientNetV2.graph(variant, height: 97, width: 101)
            XCTAssertEqual(g.nodes.count, arch.numLayers, variant.rawValue)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), variant.rawValue)
            XCTAssertFalse(g.nodes.contains { $0.name.hasSuffix("_pad") }, variant.rawValue)
        }
        XCTAssertEqual(EfficientNetV2.Variant.b0.modelName, "efficientnetv2-b0")
        XCTAssertEqual(EfficientNetV2.Variant.s.modelName, "efficientnetv2-s")
    }

    /// Dropout exists where Keras' survival_probability is non-zero (every block but the
    /// first) and the block has a residual; expand_ratio 1 Fused blocks end in a swish.
    func testResidualsDropoutsAndFusedBlocks() throws {
        let s = try EfficientNetV2.graph(.s, height: 97, width: 97)
        XCTAssertNotNil(shape(s, "block1a_add"))  // 24 -> 24, stride 1
        XCTAssertNil(shape(s, "block1a_drop"))  // b = 0
        XCTAssertNotNil(shape(s, "block1b_drop"))
        XCTAssertNotNil(shape(s, "block1a_project_activation"))
        XCTAssertNil(shape(s, "block1a_expand_conv"))
        XCTAssertNil(shape(s, "block2a_project_activation"))
        XCTAssertNil(shape(s, "block2a_add"))
        XCTAssertNil(shape(s, "block3a_se_squeeze"))  // Fused blocks have se_ratio 0
        XCTAssertNotNil(shape(s, "block4a_se_squeeze"))
        XCTAssertEqual(s.nodes.first { $0.name == "block2b_add" }?.inputs.count, 2)

        let b0 = try EfficientNetV2.graph(.b0, height: 97, width: 97)
        XCTAssertNil(shape(b0, "block1a_add"))  // 32 -> 16
        XCTAssertNotNil(shape(b0, "block6h_add"))
        XCTAssertNil(shape(b0, "block6i_project_conv"))
    }

    func testPreprocessingLayers() throws {
        let b0 = try EfficientNetV2.graph(.b0, height: 224, width: 224)
        XCTAssertEqual(b0.nodes[1...3].map(\.name), ["rescaling", "normalization", "stem_conv"])
        XCTAssertEqual(b0.nodes[1].op, .rescaling(scale: Float(1.0 / 255), offset: 0))
        guard case .normalization(let mean?, let variance?) = b0.nodes[2].op else { return XCTFail() }
        XCTAssertFalse(b0.nodes[2].op.hasWeights)  // constants, not in the weight file
        XCTAssertEqual(mean, [0.485, 0.456, 0.406])
        XCTAssertEqual(variance, [0.052441, 0.050176, 0.050625].map { Float($0) })

        for variant in [EfficientNetV2.Variant.s, .m, .l] {
            let g = try EfficientNetV2.graph(variant, height: 97, width: 97)
            XCTAssertEqual(g.nodes[1...2].map(\.name), ["rescaling", "stem_conv"], variant.rawValue)
            XCTAssertEqual(g.nodes[1].op, .rescaling(scale: 1.0 / 128, offset: -1), variant.rawValue)
        }
    }

    /// TF "same" at 97×101: 49×51 -> 25×26 -> 13×13 -> 7×7 -> 4×4. SE widths from the block
    /// input (block4a: 48 * 0.25 = 12, not 192 * 0.25).
    func testShapesAtOddSize() throws {
        let g = try EfficientNetV2.graph(.b0, height: 97, width: 101)
        XCTAssertEqual(shape(g, "stem_conv"), [49, 51, 32])
        XCTAssertEqual(shape(g, "block1a_project_conv"), [49, 51, 16])  // fused 3×3, no expand
        XCTAssertEqual(shape(g, "block2a_expand_conv"), [25, 26, 64])  // fused 3×3 stride 2
        XCTAssertEqual(shape(g, "block2a_project_conv"), [25, 26, 32])  // 1×1
        XCTAssertEqual(shape(g, "block3a_expand_conv"), [13, 13, 128])
        XCTAssertEqual(shape(g, "block4a_dwconv2"), [7, 7, 192])
        XCTAssertEqual(shape(g, "block4a_se_squeeze"), [192])
        XCTAssertEqual(shape(g, "block4a_se_reshape"), [1, 1, 192])
        XCTAssertEqual(shape(g, "block4a_se_reduce"), [1, 1, 12])
        XCTAssertEqual(shape(g, "block4a_se_excite"), [7, 7, 192])
        XCTAssertEqual(shape(g, "block6a_dwconv2"), [4, 4, 672])
        XCTAssertEqual(g.shape(g.outputNode).dimensions, [4, 4, 1280])

        // The minimum input: 32 -> 16 -> 8 -> 4 -> 2 -> 1; 31 is refused as Keras does.
        let small = try EfficientNetV2.graph(.l, height: 32, width: 33)
        XCTAssertEqual(small.shape(small.outputNode).dimensions, [1, 2, 1280])
        XCTAssertThrowsError(try EfficientNetV2.graph(.m, height: 31, width: 224))
    }

    /// round_filters (no 10% correction, unlike V1) and round_repeats (ceil in double).
    func testScaling() throws {
        XCTAssertEqual(EfficientNetV2.roundFilters(32, 1.1), 32)  // int(35.2 + 4) // 8 * 8
        XCTAssertEqual(EfficientNetV2.roundFilters(32, 1.2), 40)
        XCTAssertEqual(EfficientNetV2.roundFilters(1280, 1.1), 1408)
        XCTAssertEqual(EfficientNetV2.roundRepeats(3, 1.1), 4)  // 3.3000000000000003
        XCTAssertEqual(EfficientNetV2.roundRepeats(8, 1.4), 12)

        let b3 = try EfficientNetV2.graph(.b3, height: 300, width: 300, pooling: .max)
        XCTAssertEqual(shape(b3, "stem_conv"), [150, 150, 40])
        XCTAssertEqual(shape(b3, "top_conv"), [10, 10, 1536])
        XCTAssertNotNil(shape(b3, "block6l_add"))
        XCTAssertNil(shape(b3, "block6m_project_conv"))
        XCTAssertEqual(b3.nodes.last?.name, "max_pool")
        XCTAssertEqual(b3.shape(b3.outputNode).dimensions, [1536])

        let l = try EfficientNetV2.graph(.l, height: 97, width: 97, pooling: .avg)
        XCTAssertNotNil(shape(l, "block6y_add"))  // 25 repeats: a ... y
        XCTAssertNotNil(shape(l, "block7g_add"))
        XCTAssertEqual(l.nodes.last?.name, "avg_pool")
    }

    /// The plan on the B0 reference weights: constant Normalization, BN folded, swish fused
    /// (also the Fused block's project_activation), Reshape and Dropout as copies.
    func testPlan() throws {
        let file = try KerasWeightFile.open(Fixtures.path("reference/efficientnetv2b0_97.h5"))
        let weights = try Binder.bind(file, to: ArchitectureCatalog.architecture("EfficientNetV2B0"))
        let model = try CompiledGraph(EfficientNetV2.graph(.b0, height: 97, width: 97), weights: weights)
        let layers = model.steps.map(\.layers)
        XCTAssertEqual(layers[1...3], [["rescaling"], ["normalization"], ["stem_conv", "stem_bn", "stem_activation"]])
        XCTAssertTrue(layers.contains(["block1a_project_conv", "block1a_project_bn", "block1a_project_activation"]))
        XCTAssertTrue(layers.contains(["block4a_dwconv2", "block4a_bn", "block4a_activation"]))
        guard case .subtractDivide(let mean, let divide) = model.steps[2].kind else { return XCTFail() }
        XCTAssertEqual(mean, EfficientNetV2.imagenetMean)
        XCTAssertEqual(divide, EfficientNetV2.imagenetVariance.map { $0.squareRoot() })
        for step in model.steps {
            switch step.kind {
            case .activation: XCTFail("unfused activation \(step.layers)")
            case .scaleOffset where step.layers.contains(where: { $0.hasSuffix("bn") }):
                XCTFail("unfolded BN \(step.layers)")
            case .copy: XCTAssertTrue(step.layers[0].hasSuffix("_drop") || step.layers[0].hasSuffix("_se_reshape"))
            default: break
            }
        }
    }
}
