import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// InceptionV3's and InceptionResNetV2's structure: Keras 3's automatic names, branch order in
/// the concatenations, odd-size shapes, and the plan (BN without gamma folded, the scaled
/// residual fused with its ReLU). Parity with Keras is BackboneParityTests'.
final class InceptionTests: XCTestCase {
    func bind(_ id: String, _ reference: String) throws -> BoundWeights {
        let file = try KerasWeightFile.open(Fixtures.path("reference/\(reference).h5"))
        return try Binder.bind(file, to: ArchitectureCatalog.architecture(id))
    }

    func node(_ g: Graph, _ name: String) throws -> GraphNode {
        try XCTUnwrap(g.nodes.first { $0.name == name }, name)
    }

    /// Shapes Keras reports at 97 (odd: 97 -> 48 -> 46 -> 22 -> 20 -> 9 -> 4 -> 1) and the
    /// concat inputs of the blocks whose branch order sets the channel layout.
    func testInceptionV3ShapesAndBranchOrderAt97() throws {
        let g = try InceptionV3.graph(height: 97, width: 97)
        let expected: [(String, [Int])] = [
            ("conv2d", [48, 48, 32]), ("max_pooling2d", [22, 22, 64]),
            ("max_pooling2d_1", [9, 9, 192]), ("mixed0", [9, 9, 256]), ("mixed2", [9, 9, 288]),
            ("mixed3", [4, 4, 768]), ("mixed7", [4, 4, 768]), ("mixed8", [1, 1, 1280]),
            ("mixed9", [1, 1, 2048]), ("mixed10", [1, 1, 2048]),
        ]
        for (name, dims) in expected {
            XCTAssertEqual(try g.shape(node(g, name).id).dimensions, dims, name)
        }
        func inputs(_ name: String) throws -> [String] {
            try node(g, name).inputs.map { g.nodes[$0].name }
        }
        XCTAssertEqual(try inputs("mixed0"), ["activation_5", "activation_7", "activation_10", "activation_11"])
        XCTAssertEqual(try inputs("mixed3"), ["activation_26", "activation_29", "max_pooling2d_2"])
        XCTAssertEqual(try inputs("mixed9"), ["activation_76", "mixed9_0", "concatenate", "activation_84"])
        XCTAssertEqual(try inputs("mixed10"), ["activation_85", "mixed9_1", "concatenate_1", "activation_93"])
        XCTAssertEqual(try inputs("average_pooling2d"), ["max_pooling2d_1"])
        XCTAssertEqual(g.nodes.last?.name, "mixed10")
        XCTAssertEqual(g.name, "inception_v3")
    }

    func testInceptionV3SizesAndPooling() throws {
        XCTAssertThrowsError(try InceptionV3.graph(height: 74, width: 299))
        let g = try InceptionV3.graph(height: 299, width: 299, pooling: .max)
        XCTAssertEqual(g.nodes.last?.name, "global_max_pooling2d")
        XCTAssertEqual(try g.shape(node(g, "mixed10").id).dimensions, [8, 8, 2048])
        let smallest = try InceptionV3.graph(height: 75, width: 75, pooling: .avg)
        XCTAssertEqual(smallest.nodes.last?.name, "global_average_pooling2d")
        XCTAssertEqual(smallest.shape(smallest.outputNode).dimensions, [2048])
    }

    /// Every conv2d_N absorbs batch_normalization_N (scale=False: no gamma in the file) and
    /// activation_N, whether it runs as im2col/GEMM or Winograd; the average pools run as steps
    /// of their own.
    func testInceptionV3PlanFoldsEveryBatchNorm() throws {
        let model = try CompiledGraph(
            InceptionV3.graph(height: 97, width: 97), weights: bind("InceptionV3", "inceptionv3_97"))
        var convs = 0
        var winograd = 0
        for step in model.steps {
            switch step.kind {
            case .conv, .winograd:
                convs += 1
                if case .winograd = step.kind { winograd += 1 }
                let n = step.layers[0].dropFirst("conv2d".count)
                XCTAssertEqual(step.layers, ["conv2d\(n)", "batch_normalization\(n)", "activation\(n)"])
            case .scaleOffset, .activation:
                XCTFail("unfused step \(step.layers)")
            default: break
            }
        }
        XCTAssertEqual(convs, 94)
        // The stride-1 3×3 ones whose channels are multiples of 8 (conv2d_2 has 32 in, ...).
        XCTAssertEqual(winograd, 12)
        let pools = model.steps.filter {
            if case .averagePool = $0.kind { return true } else { return false }
        }
        XCTAssertEqual(pools.count, 9)
    }

    /// A tf-keras file (auto names from a tf-keras session, `input_1`) binds by the catalog's
    /// Keras 3 names and plans against the graph, every array's shape checked.
    func testInceptionV3PlansAgainstTFKerasFile() throws {
        let file = try KerasWeightFile.open(Fixtures.path("legacy/inception_v3_tfkeras.h5"))
        let weights = try Binder.bind(file, to: ArchitectureCatalog.architecture("InceptionV3"))
        XCTAssertNoThrow(try CompiledGraph(InceptionV3.graph(height: 299, width: 299), weights: weights))
    }

    /// At 139 every stage is odd: 139 -> 69 -> 67 -> 33 -> 31 -> 15 -> 7 -> 3.
    func testInceptionResNetV2ShapesAt139() throws {
        let g = try InceptionResNetV2.graph(height: 139, width: 139)
        let expected: [(String, [Int])] = [
            ("conv2d", [69, 69, 32]), ("max_pooling2d", [33, 33, 64]),
            ("max_pooling2d_1", [15, 15, 192]), ("mixed_5b", [15, 15, 320]),
            ("block35_10_ac", [15, 15, 320]), ("mixed_6a", [7, 7, 1088]),
            ("block17_20_ac", [7, 7, 1088]), ("mixed_7a", [3, 3, 2080]),
            ("custom_scale_layer_39", [3, 3, 2080]), ("conv_7b_ac", [3, 3, 1536]),
        ]
        for (name, dims) in expected {
            XCTAssertEqual(try g.shape(node(g, name).id).dimensions, dims, name)
        }
        XCTAssertNil(g.nodes.first { $0.name == "block8_10_ac" }, "block8_10 has no activation")
        XCTAssertEqual(
            try node(g, "block35_1_mixed").inputs.map { g.nodes[$0].name },
            ["activation_12", "activation_14", "activation_17"])
        XCTAssertEqual(
            try node(g, "custom_scale_layer").inputs.map { g.nodes[$0].name },
            ["mixed_5b", "block35_1_conv"])
        XCTAssertThrowsError(try InceptionResNetV2.graph(height: 139, width: 74))
        XCTAssertEqual(g.name, "inception_resnet_v2")
    }

    /// The up-projections keep their bias and have no BN; `x + up * scale` absorbs the block's
    /// ReLU with Keras' scales (0.17, 0.1, 0.2), except block8_10 (1.0, linear).
    func testInceptionResNetV2PlanScalesAndFuses() throws {
        let model = try CompiledGraph(
            InceptionResNetV2.graph(height: 139, width: 139),
            weights: bind("InceptionResNetV2", "inceptionresnetv2_139"))
        var scaled: [String: (Float, Activation)] = [:]
        for step in model.steps {
            switch step.kind {
            case .scaledAdd(let scale, let activation):
                scaled[step.layers.joined(separator: "+")] = (scale, activation)
            case .conv(let p, _, let bias) where step.layers[0].hasSuffix("_conv"):
                XCTAssertEqual(step.layers.count, 1, "\(step.layers)")
                XCTAssertNotNil(bias, step.layers[0])
                XCTAssertEqual(p.activation, .linear)
            case .scaleOffset, .activation:
                XCTFail("unfused step \(step.layers)")
            default: break
            }
        }
        XCTAssertEqual(scaled.count, 40)
        XCTAssertEqual(scaled["custom_scale_layer+block35_1_ac"]?.0, 0.17)
        XCTAssertEqual(scaled["custom_scale_layer_10+block17_1_ac"]?.0, 0.1)
        XCTAssertEqual(scaled["custom_scale_layer_30+block8_1_ac"]?.0, 0.2)
        XCTAssertEqual(scaled["custom_scale_layer_30+block8_1_ac"]?.1, .relu)
        XCTAssertEqual(scaled["custom_scale_layer_39"]?.0, 1.0)
        XCTAssertEqual(scaled["custom_scale_layer_39"]?.1, .linear)
        XCTAssertTrue(model.steps.contains { $0.layers == ["conv_7b", "conv_7b_bn", "conv_7b_ac"] })
    }
}
