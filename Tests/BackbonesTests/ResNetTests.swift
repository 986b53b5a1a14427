import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// ResNet's structure: Keras' layer order, BN folding and fusion in the plan, input sizes.
/// Parity with Keras is BackboneParityTests' (reference/resnet50*_97.h5 and friends).
final class ResNetTests: XCTestCase {
    func loadWeights(_ variant: ResNet.Variant) throws -> BoundWeights {
        let file = try KerasWeightFile.open(Fixtures.path("reference/\(variant.modelName)_97.h5"))
        return try Binder.bind(file, to: ArchitectureCatalog.architecture(variant.rawValue))
    }

    /// The Swift graph lists the weighted layers exactly as Keras' legacy order does.
    func testWeightedLayersMirrorKeras() throws {
        for variant in ResNet.Variant.allCases {
            let arch = try ArchitectureCatalog.architecture(variant.rawValue)
            let g = try ResNet.graph(variant, height: 224, width: 224)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), variant.rawValue)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, [7, 7, 2048], variant.rawValue)
            XCTAssertEqual(g.name, variant.modelName)
        }
    }

    func testPlanFoldsBatchNorm() throws {
        let v1 = try CompiledGraph(ResNet.graph(.resnet50, height: 97, width: 97), weights: loadWeights(.resnet50))
        // conv1_pad is conv1_conv's padding; pool1_pad stays (max pool compares its zeros).
        XCTAssertEqual(v1.steps[1].layers, ["conv1_conv", "conv1_bn", "conv1_relu", "conv1_pad"])
        XCTAssertEqual(v1.steps[2].layers, ["pool1_pad"])
        for step in v1.steps {
            if case .scaleOffset = step.kind { XCTFail("unfolded BN \(step.layers)") }
            if case .activation = step.kind { XCTFail("unfused ReLU \(step.layers)") }
        }
        XCTAssertTrue(v1.steps.contains { $0.layers == ["conv2_block1_add", "conv2_block1_out"] })
        let v2 = try CompiledGraph(ResNet.graph(.resnet50V2, height: 97, width: 97), weights: loadWeights(.resnet50V2))
        XCTAssertTrue(v2.steps.contains { $0.layers == ["conv2_block1_preact_bn", "conv2_block1_preact_relu"] })
        XCTAssertTrue(v2.steps.contains { $0.layers == ["post_bn", "post_relu"] })
    }

    func testSmallInputIsRejectedAndOddSizesWork() throws {
        XCTAssertThrowsError(try ResNet.graph(.resnet50, height: 31, width: 64))
        let g = try ResNet.graph(.resnet50V2, height: 33, width: 45, pooling: .max)
        XCTAssertEqual(g.shape(g.outputNode).dimensions, [2048])
        XCTAssertEqual(g.nodes.last?.name, "max_pool")
        let h = try ResNet.graph(.resnet101, height: 33, width: 45)
        XCTAssertEqual(h.shape(h.outputNode).dimensions, [2, 2, 2048])
    }
}
