import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// ResNet50 and ResNet50V2 at 97×97 (odd: exercises the stride-2 windows and paddings) against
/// Keras' `model.predict` of the same seeded weights and BN statistics
/// (`scripts/make_fixtures.py make_backbone_references`, weights in reference/resnet50*_97.h5):
/// max|ours-keras| <= 1e-4 max|keras| and cosine >= 0.99999.
final class ResNetParityTests: XCTestCase {
    static let size = 97
    static let inputRel = "reference/backbones_97_input.f32"

    func loadWeights(_ variant: ResNet.Variant) throws -> BoundWeights {
        let file = try KerasWeightFile.open(Fixtures.path("reference/\(variant.modelName)_97.h5"))
        return try Binder.bind(file, to: ArchitectureCatalog.architecture(variant.rawValue))
    }

    func checkFeatureMap(_ variant: ResNet.Variant) throws {
        let n = Self.size
        let model = try CompiledGraph(
            ResNet.graph(variant, height: n, width: n), weights: loadWeights(variant))
        XCTAssertEqual(model.outputShape.dimensions, [4, 4, 2048])
        let input = try floats(Self.inputRel)
        XCTAssertEqual(input.count, 2 * n * n * 3)
        let keras = try floats("reference/\(variant.modelName)_97_output.f32")
        let ours = try model.run(input)
        compare(ours, keras, "\(variant.rawValue) 97 feature map (2,4,4,2048)")
        // Random weights must still leave a live signal, or the comparison proves little.
        XCTAssertGreaterThan(keras.filter { $0 > 0 }.count, keras.count / 10)

        // One image at a time gives the same rows as the batch of two.
        let per = n * n * 3
        for i in 0..<2 {
            let single = try model.run(Array(input[i * per..<(i + 1) * per]))
            let rows = Array(ours[i * single.count..<(i + 1) * single.count])
            let differing = zip(single, rows).filter { $0 != $1 }.count
            let worst = zip(single, rows).map { abs($0 - $1) }.max() ?? 0
            print("\(variant.rawValue) image \(i) alone vs in the batch: \(differing) of \(rows.count) differ, max \(worst)")
            XCTAssertEqual(differing, 0, "image \(i) alone vs in the batch (max difference \(worst))")
        }
    }

    func checkAveragePooled(_ variant: ResNet.Variant) throws {
        let n = Self.size
        let model = try CompiledGraph(
            ResNet.graph(variant, height: n, width: n, pooling: .avg), weights: loadWeights(variant))
        XCTAssertEqual(model.outputShape.dimensions, [2048])
        let ours = try model.run(floats(Self.inputRel))
        compare(ours, try floats("reference/\(variant.modelName)_97_avg.f32"), "\(variant.rawValue) 97 pooling avg (2,2048)")
    }

    func testResNet50FeatureMapMatchesKeras() throws { try checkFeatureMap(.resnet50) }
    func testResNet50AveragePooledMatchesKeras() throws { try checkAveragePooled(.resnet50) }
    func testResNet50V2FeatureMapMatchesKeras() throws { try checkFeatureMap(.resnet50V2) }
    func testResNet50V2AveragePooledMatchesKeras() throws { try checkAveragePooled(.resnet50V2) }

    func testReferenceShapesAreRecordedInExpectations() throws {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("expectations.json"))
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let refs = try XCTUnwrap(json?["references"] as? [String: [String: Any]])
        XCTAssertEqual(refs[Self.inputRel]?["shape"] as? [Int], [2, 97, 97, 3])
        for stem in ["reference/resnet50_97", "reference/resnet50v2_97"] {
            XCTAssertEqual(refs["\(stem)_output.f32"]?["shape"] as? [Int], [2, 4, 4, 2048], stem)
            XCTAssertEqual(refs["\(stem)_avg.f32"]?["shape"] as? [Int], [2, 2048], stem)
            XCTAssertEqual(refs["\(stem)_output.f32"]?["weights"] as? String, "\(stem).h5", stem)
        }
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
        XCTAssertEqual(v1.steps[2].layers, ["conv1_conv", "conv1_bn", "conv1_relu"])
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
