import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// DenseNet's structure: the padded stem, channel growth and transitions, and the plan for
/// pre-activation blocks (a BN feeding a ReLU becomes a scale/offset step with the ReLU fused;
/// a BN after a conv folds). Parity with Keras is BackboneParityTests'.
final class DenseNetTests: XCTestCase {
    /// Shapes Keras reports at 97: pad 103, conv1 49, pad 51, pool1 25, then /2 per transition;
    /// channels 64 + 32 per conv block, halved by each transition.
    func testShapesAt97() throws {
        let expected: [DenseNet.Variant: [(String, [Int])]] = [
            .densenet121: [
                ("zero_padding2d", [103, 103, 3]), ("conv1_conv", [49, 49, 64]),
                ("zero_padding2d_1", [51, 51, 64]), ("pool1", [25, 25, 64]),
                ("conv2_block1_concat", [25, 25, 96]), ("pool2_pool", [12, 12, 128]),
                ("pool3_pool", [6, 6, 256]), ("pool4_pool", [3, 3, 512]), ("relu", [3, 3, 1024]),
            ],
            .densenet169: [("pool4_conv", [6, 6, 640]), ("relu", [3, 3, 1664])],
            .densenet201: [("pool4_conv", [6, 6, 896]), ("relu", [3, 3, 1920])],
        ]
        for (variant, shapes) in expected {
            let g = try DenseNet.graph(variant, height: 97, width: 97)
            for (name, dims) in shapes {
                let node = try XCTUnwrap(g.nodes.first { $0.name == name }, name)
                XCTAssertEqual(g.shape(node.id).dimensions, dims, "\(variant) \(name)")
            }
            XCTAssertEqual(g.name, variant.modelName)
            XCTAssertEqual(g.nodes.last?.name, "relu")
        }
    }

    func testSizesAndPoolingNames() throws {
        XCTAssertThrowsError(try DenseNet.graph(.densenet121, height: 31, width: 224))
        let avg = try DenseNet.graph(.densenet169, height: 32, width: 45, pooling: .avg)
        XCTAssertEqual(avg.nodes.last?.name, "avg_pool")
        XCTAssertEqual(avg.shape(avg.outputNode).dimensions, [1664])
        let max = try DenseNet.graph(.densenet201, height: 224, width: 224, pooling: .max)
        XCTAssertEqual(max.nodes.last?.name, "max_pool")
    }

    /// Every `_0_bn`/`pool*_bn`/`bn` (input shared with a concat or a block output) is a
    /// scale/offset step carrying its ReLU; every conv absorbs the BN + ReLU after it, except
    /// `_2_conv` and the transition conv, which feed a concat and a pool.
    func testPlanFusesPreActivation() throws {
        let file = try KerasWeightFile.open(Fixtures.path("reference/densenet121_97.h5"))
        let model = try CompiledGraph(
            DenseNet.graph(.densenet121, height: 97, width: 97),
            weights: Binder.bind(file, to: ArchitectureCatalog.architecture("DenseNet121")))
        var affine = 0
        for step in model.steps {
            switch step.kind {
            case .scaleOffset(_, _, let activation):
                affine += 1
                XCTAssertEqual(activation, .relu, "\(step.layers)")
                XCTAssertEqual(step.layers.count, 2, "\(step.layers)")
            case .activation:
                XCTFail("unfused ReLU \(step.layers)")
            case .conv, .winograd:
                let name = step.layers[0]
                if name.hasSuffix("_1_conv") {
                    XCTAssertEqual(step.layers.count, 3, "\(step.layers)")
                } else if name == "conv1_conv" {
                    // Its BN and ReLU, and the zero padding before it as its own padding.
                    XCTAssertEqual(step.layers, ["conv1_conv", "conv1_bn", "conv1_relu", "zero_padding2d"])
                } else {
                    XCTAssertEqual(step.layers, [name], "nothing to fold after \(name)")
                }
            default: break
            }
        }
        // 58 conv blocks + 3 transitions + the final bn.
        XCTAssertEqual(affine, 58 + 3 + 1)
        XCTAssertTrue(model.steps.contains { $0.layers == ["conv2_block1_0_bn", "conv2_block1_0_relu"] })
        XCTAssertTrue(model.steps.contains { $0.layers == ["bn", "relu"] })
        XCTAssertTrue(model.steps.contains { $0.layers == ["conv1_conv", "conv1_bn", "conv1_relu", "zero_padding2d"] })
    }

    /// The tf-keras file with '/'-separated names (`conv1/conv`) binds and plans.
    func testPlansAgainstSlashNamedFile() throws {
        let file = try KerasWeightFile.open(Fixtures.path("legacy/densenet121_slash_tfkeras.h5"))
        let weights = try Binder.bind(file, to: ArchitectureCatalog.architecture("DenseNet121"))
        let g = try DenseNet.graph(.densenet121, height: 224, width: 224)
        XCTAssertNoThrow(try CompiledGraph(g, weights: weights))
    }
}
