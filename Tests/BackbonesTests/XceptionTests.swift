import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// Xception's structure: "valid" stem, "same" strided pools (asymmetric at odd sizes), the
/// auto-named residual branch, and the plan (each SeparableConv2D absorbs its BN).
/// Parity with Keras is BackboneParityTests'.
final class XceptionTests: XCTestCase {
    func testShapesAndResidualsAt97() throws {
        let g = try Xception.graph(height: 97, width: 97)
        func node(_ name: String) throws -> GraphNode {
            try XCTUnwrap(g.nodes.first { $0.name == name }, name)
        }
        let expected: [(String, [Int])] = [
            ("block1_conv1", [48, 48, 32]), ("block1_conv2", [46, 46, 64]),
            ("block2_pool", [23, 23, 128]), ("conv2d", [23, 23, 128]),
            ("block3_pool", [12, 12, 256]), ("block4_pool", [6, 6, 728]), ("add_10", [6, 6, 728]),
            ("conv2d_3", [3, 3, 1024]), ("block13_pool", [3, 3, 1024]),
            ("block14_sepconv2_act", [3, 3, 2048]),
        ]
        for (name, dims) in expected {
            XCTAssertEqual(try g.shape(node(name).id).dimensions, dims, name)
        }
        func inputs(_ name: String) throws -> [String] { try node(name).inputs.map { g.nodes[$0].name } }
        // Strided blocks add the pooled main path to the 1×1/2 conv + BN of the block input;
        // the middle flow adds the block input itself.
        XCTAssertEqual(try inputs("add"), ["block2_pool", "batch_normalization"])
        XCTAssertEqual(try inputs("conv2d"), ["block1_conv2_act"])
        XCTAssertEqual(try inputs("add_3"), ["block5_sepconv3_bn", "add_2"])
        XCTAssertEqual(try inputs("add_11"), ["block13_pool", "batch_normalization_3"])
        XCTAssertEqual(try inputs("block2_sepconv1"), ["block1_conv2_act"])
        XCTAssertEqual(g.nodes.last?.name, "block14_sepconv2_act")
    }

    func testSizesAndPooling() throws {
        XCTAssertThrowsError(try Xception.graph(height: 70, width: 71))
        let g = try Xception.graph(height: 71, width: 71, pooling: .avg)
        XCTAssertEqual(g.nodes.last?.name, "global_average_pooling2d")
        XCTAssertEqual(g.shape(g.outputNode).dimensions, [2048])
        let h = try Xception.graph(height: 299, width: 299, pooling: .max)
        XCTAssertEqual(h.nodes.last?.name, "global_max_pooling2d")
        let last = try XCTUnwrap(h.nodes.first { $0.name == "block14_sepconv2_act" })
        XCTAssertEqual(h.shape(last.id).dimensions, [10, 10, 2048])
    }

    /// 34 separable steps, each with its BN folded into the pointwise half (and block14's ReLU
    /// in the epilogue); the ReLUs that read a block output shared with the residual stay apart.
    func testPlanFoldsBatchNormIntoSeparable() throws {
        let file = try KerasWeightFile.open(Fixtures.path("reference/xception_97.h5"))
        let model = try CompiledGraph(
            Xception.graph(height: 97, width: 97),
            weights: Binder.bind(file, to: ArchitectureCatalog.architecture("Xception")))
        var separable: [[String]] = []
        for step in model.steps {
            switch step.kind {
            case .separable(let p, let depthwise, let pointwise, let bias):
                separable.append(step.layers)
                XCTAssertEqual(step.layers[1], step.layers[0] + "_bn")
                XCTAssertEqual(depthwise.count % 9, 0)
                XCTAssertEqual(pointwise.count % p.filters, 0)
                XCTAssertEqual(bias?.count, p.filters, "folded BN gives the bias")
            case .scaleOffset:
                XCTFail("unfolded BN \(step.layers)")
            default: break
            }
        }
        XCTAssertEqual(separable.count, 34)
        XCTAssertTrue(separable.contains(["block14_sepconv2", "block14_sepconv2_bn", "block14_sepconv2_act"]))
        XCTAssertTrue(model.steps.contains { $0.layers == ["block3_sepconv1_act"] })
        XCTAssertTrue(model.steps.contains { $0.layers == ["conv2d_1", "batch_normalization_1"] })
    }

    /// The Keras 1 file layout (`convolution2d_1`, `separableconvolution2d_1`, ...) binds
    /// positionally and plans against the graph, every array's shape checked.
    func testPlansAgainstKeras1AutoNamedFile() throws {
        let file = try KerasWeightFile.open(Fixtures.path("legacy/xception_keras1_autonames.h5"))
        let weights = try Binder.bind(file, to: ArchitectureCatalog.architecture("Xception"))
        XCTAssertNoThrow(try CompiledGraph(Xception.graph(height: 299, width: 299), weights: weights))
    }
}
