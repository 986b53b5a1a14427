import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// MobileNet(alpha 0.5, 97×97) and VGG16 (97×97) against Keras' `model.predict` of the same
/// seeded weights (`scripts/make_fixtures.py make_backbone_references`): the reference
/// weight files bound by the loader, the graphs built in Swift, both images compared with
/// max|ours-keras| <= 1e-4 max|keras| and cosine >= 0.99999. 97 is odd, so MobileNet's
/// ZeroPadding2D(((0,1),(0,1))) blocks differ from TF "same" and VGG's pools floor.
final class MobileNetVGGParityTests: XCTestCase {
    struct Case: Sendable {
        let stem: String
        let architecture: String
        let graph: @Sendable (GlobalPooling) throws -> Graph
    }

    static let mobileNet = Case(
        stem: "reference/mobilenet_0.5_97", architecture: "MobileNet_0.5",
        graph: { try MobileNet.graph(alpha: 0.5, height: 97, width: 97, pooling: $0) })
    static let vgg16 = Case(
        stem: "reference/vgg16_97", architecture: "VGG16",
        graph: { try VGG.graph(depth: 16, height: 97, width: 97, pooling: $0) })

    func loadWeights(_ c: Case) throws -> BoundWeights {
        let file = try KerasWeightFile.open(Fixtures.path("\(c.stem).h5"))
        return try Binder.bind(file, to: ArchitectureCatalog.architecture(c.architecture))
    }

    func checkFeatureMap(_ c: Case) throws {
        let model = try CompiledGraph(c.graph(.none), weights: loadWeights(c))
        XCTAssertEqual(model.outputShape.dimensions, [3, 3, 512], c.architecture)
        let input = try floats("reference/backbones_97_input.f32")
        XCTAssertEqual(input.count, 2 * 97 * 97 * 3)
        let keras = try floats("\(c.stem)_output.f32")
        let ours = try model.run(input)
        compare(ours, keras, "\(c.architecture) 97 feature map (2,3,3,512)")
        // Random weights must still leave a live signal, or the comparison proves little.
        XCTAssertGreaterThan(keras.filter { $0 > 0 }.count, keras.count / 10, c.architecture)

        // One image at a time gives the same rows as the batch of two.
        let per = 97 * 97 * 3
        for n in 0..<2 {
            let single = try model.run(Array(input[n * per..<(n + 1) * per]))
            let rows = Array(ours[n * single.count..<(n + 1) * single.count])
            let differing = zip(single, rows).filter { $0 != $1 }.count
            let worst = zip(single, rows).map { abs($0 - $1) }.max() ?? 0
            print("\(c.architecture) image \(n) alone vs in the batch: \(differing) of \(rows.count) differ, max \(worst)")
            XCTAssertEqual(differing, 0, "\(c.architecture) image \(n) alone vs in the batch (max difference \(worst))")
        }
    }

    func checkAveragePooled(_ c: Case) throws {
        let model = try CompiledGraph(c.graph(.avg), weights: loadWeights(c))
        XCTAssertEqual(model.outputShape.dimensions, [512], c.architecture)
        let ours = try model.run(floats("reference/backbones_97_input.f32"))
        compare(ours, try floats("\(c.stem)_avg.f32"), "\(c.architecture) 97 pooling avg (2,512)")
    }

    func testMobileNetFeatureMapMatchesKeras() throws { try checkFeatureMap(Self.mobileNet) }
    func testMobileNetAveragePooledMatchesKeras() throws { try checkAveragePooled(Self.mobileNet) }
    func testVGG16FeatureMapMatchesKeras() throws { try checkFeatureMap(Self.vgg16) }
    func testVGG16AveragePooledMatchesKeras() throws { try checkAveragePooled(Self.vgg16) }

    func testReferenceShapesAreRecordedInExpectations() throws {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("expectations.json"))
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let refs = try XCTUnwrap(json?["references"] as? [String: [String: Any]])
        for c in [Self.mobileNet, Self.vgg16] {
            XCTAssertEqual(refs["\(c.stem)_output.f32"]?["shape"] as? [Int], [2, 3, 3, 512], c.stem)
            XCTAssertEqual(refs["\(c.stem)_avg.f32"]?["shape"] as? [Int], [2, 512], c.stem)
            XCTAssertEqual(refs["reference/backbones_97_input.f32"]?["shape"] as? [Int], [2, 97, 97, 3], c.stem)
            XCTAssertEqual(refs["\(c.stem)_output.f32"]?["weights"] as? String, "\(c.stem).h5", c.stem)
        }
    }

    /// The Swift graphs list the weighted layers exactly as Keras' legacy order does.
    func testWeightedLayersMirrorKeras() throws {
        for alpha in [0.25, 0.5, 0.75, 1.0] {
            let id = "MobileNet_\(alpha)"
            let arch = try ArchitectureCatalog.architecture(id)
            let g = try MobileNet.graph(alpha: alpha, height: 224, width: 224)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), id)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, arch.outputShape.compactMap { $0 }, id)
            XCTAssertEqual(g.name, MobileNet.modelName(alpha: alpha, size: 224))
        }
        for depth in [16, 19] {
            let id = "VGG\(depth)"
            let arch = try ArchitectureCatalog.architecture(id)
            let g = try VGG.graph(depth: depth, height: 224, width: 224)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), id)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, [7, 7, 512], id)
            XCTAssertEqual(g.nodes.last?.name, "block5_pool", id)
        }
        XCTAssertEqual(MobileNet.modelName(alpha: 0.5, size: 97), "mobilenet_0.50_97")
    }

    /// Keras' stride-2 blocks pad (0,1),(0,1) then run "valid": 97 -> conv1 49 -> 24 -> 12 -> 6 -> 3.
    func testMobileNetStridedPaddingAtOddSize() throws {
        let g = try MobileNet.graph(alpha: 0.5, height: 97, width: 97)
        func shape(_ name: String) -> [Int]? {
            g.nodes.first { $0.name == name }.map { g.shape($0.id).dimensions }
        }
        XCTAssertEqual(shape("conv1"), [49, 49, 16])
        XCTAssertEqual(shape("conv_pad_2"), [50, 50, 32])
        XCTAssertEqual(shape("conv_dw_2"), [24, 24, 32])
        XCTAssertEqual(shape("conv_dw_4"), [12, 12, 64])
        XCTAssertEqual(shape("conv_dw_6"), [6, 6, 128])
        XCTAssertEqual(shape("conv_dw_12"), [3, 3, 256])
        XCTAssertEqual(shape("conv_pw_13_relu"), [3, 3, 512])
        XCTAssertNil(shape("conv_pad_3"))
    }
}
