import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// MobileNetV2(alpha 0.35, 96×96) against Keras' `model.predict` of the same seeded weights
/// (`scripts/make_fixtures.py make_references`): the fixture weights bound by the loader, the
/// graph built in Swift, both images compared with max|ours-keras| <= 1e-4 max|keras| and
/// cosine >= 0.99999.
final class MobileNetV2ParityTests: XCTestCase {
    static let stem = "reference/mobilenet_v2_0.35_96"

    func loadWeights() throws -> BoundWeights {
        let file = try KerasWeightFile.open(Fixtures.path("legacy/mobilenet_v2_0.35_96_k3.h5"))
        return try Binder.bind(file, to: ArchitectureCatalog.architecture("MobileNetV2_0.35"))
    }

    func testFeatureMapMatchesKeras() throws {
        let model = try CompiledGraph(
            MobileNetV2.graph(alpha: 0.35, height: 96, width: 96), weights: loadWeights())
        XCTAssertEqual(model.outputShape.dimensions, [3, 3, 1280])
        let input = try floats("\(Self.stem)_input.f32")
        XCTAssertEqual(input.count, 2 * 96 * 96 * 3)
        let keras = try floats("\(Self.stem)_output.f32")
        let ours = try model.run(input)
        compare(ours, keras, "MobileNetV2 0.35 96 feature map (2,3,3,1280)")
        // Random weights must still leave a live signal, or the comparison proves little.
        XCTAssertGreaterThan(keras.filter { $0 > 0 }.count, keras.count / 10)

        // One image at a time gives the same rows as the batch of two.
        let per = 96 * 96 * 3
        for n in 0..<2 {
            let single = try model.run(Array(input[n * per..<(n + 1) * per]))
            let rows = Array(ours[n * single.count..<(n + 1) * single.count])
            let differing = zip(single, rows).filter { $0 != $1 }.count
            let worst = zip(single, rows).map { abs($0 - $1) }.max() ?? 0
            print("image \(n) alone vs in the batch: \(differing) of \(rows.count) differ, max \(worst)")
            XCTAssertEqual(differing, 0, "image \(n) alone vs in the batch (max difference \(worst))")
        }
    }

    func testAveragePooledFeaturesMatchKeras() throws {
        let model = try CompiledGraph(
            MobileNetV2.graph(alpha: 0.35, height: 96, width: 96, pooling: .avg),
            weights: loadWeights())
        XCTAssertEqual(model.outputShape.dimensions, [1280])
        let ours = try model.run(floats("\(Self.stem)_input.f32"))
        compare(ours, try floats("\(Self.stem)_avg.f32"), "MobileNetV2 0.35 96 pooling avg (2,1280)")
    }

    func testReferenceShapesAreRecordedInExpectations() throws {
        let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent("expectations.json"))
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let refs = try XCTUnwrap(json?["references"] as? [String: [String: Any]])
        XCTAssertEqual(refs["\(Self.stem)_output.f32"]?["shape"] as? [Int], [2, 3, 3, 1280])
        XCTAssertEqual(refs["\(Self.stem)_avg.f32"]?["shape"] as? [Int], [2, 1280])
        XCTAssertEqual(refs["\(Self.stem)_input.f32"]?["shape"] as? [Int], [2, 96, 96, 3])
    }

    /// The Swift graph lists the weighted layers exactly as Keras' legacy order does.
    func testWeightedLayersMirrorKeras() throws {
        for alpha in [0.35, 0.5, 0.75, 1.0, 1.3, 1.4] {
            let id = "MobileNetV2_\(alpha)"
            let arch = try ArchitectureCatalog.architecture(id)
            let g = try MobileNetV2.graph(alpha: alpha, height: 224, width: 224)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), id)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, arch.outputShape.compactMap { $0 }, id)
        }
    }

    func testPlanFoldsBatchNormAndFusesReLU6() throws {
        let model = try CompiledGraph(
            MobileNetV2.graph(alpha: 0.35, height: 96, width: 96), weights: loadWeights())
        // 52 convolutions, each with its BN folded in; no separate BN or activation step.
        XCTAssertEqual(model.steps.first?.layers, ["input_layer"])
        XCTAssertEqual(model.steps[1].layers, ["Conv1", "bn_Conv1", "Conv1_relu"])
        for step in model.steps {
            switch step.kind {
            case .scaleOffset, .activation: XCTFail("unfused step \(step.layers)")
            default: break
            }
        }
        XCTAssertEqual(model.steps.filter { if case .conv = $0.kind { return true } else { return false } }.count, 35)
        // The arena holds a few activations, far less than all of them.
        let all = model.graph.nodes.reduce(0) { $0 + $1.shape.count }
        XCTAssertLessThan(model.arenaFloatsPerImage, all / 4)
        print(
            "arena \(model.arenaFloatsPerImage) floats/image in \(model.slotSizes.count) slots; all activations \(all)")
    }

    func testMissingLayerAndWrongShapeAreTypedErrors() throws {
        let weights = try loadWeights()
        var g = Graph(name: "probe", input: FeatureShape(height: 8, width: 8, channels: 3))
        try g.add("no_such_layer", .conv2d(.init(filters: 4, kernel: (3, 3))), g.input)
        XCTAssertThrowsError(try CompiledGraph(g, weights: weights)) {
            XCTAssertEqual($0 as? GraphError, .missingLayer(model: "probe", layer: "no_such_layer"))
        }
        var h = Graph(name: "probe", input: FeatureShape(height: 8, width: 8, channels: 3))
        try h.add("Conv1", .conv2d(.init(filters: 8, kernel: (3, 3), useBias: false)), h.input)
        XCTAssertThrowsError(try CompiledGraph(h, weights: weights)) {
            XCTAssertEqual(
                $0 as? GraphError,
                .shapeMismatch(layer: "Conv1", array: "Conv1/kernel", expected: [3, 3, 3, 8], actual: [3, 3, 3, 16]))
        }
        var k = Graph(name: "probe", input: FeatureShape(height: 8, width: 8, channels: 3))
        try k.add("Conv1", .conv2d(.init(filters: 16, kernel: (3, 3), useBias: true)), k.input)
        XCTAssertThrowsError(try CompiledGraph(k, weights: weights)) {
            XCTAssertEqual($0 as? GraphError, .missingArray(layer: "Conv1", array: "bias", available: ["kernel"]))
        }
        let ok = try CompiledGraph(
            MobileNetV2.graph(alpha: 0.35, height: 96, width: 96), weights: weights)
        XCTAssertThrowsError(try ok.run([Float](repeating: 0, count: 100))) {
            XCTAssertEqual($0 as? GraphError, .inputSize(model: "mobilenetv2_0.35_96", expected: 27648, actual: 100))
        }
    }

    func testMakeDivisibleAndCorrectPadFollowKeras() {
        XCTAssertEqual(ApplicationUtils.makeDivisible(32 * 0.35, 8), 16)  // 8 < 0.9*11.2, bumped
        XCTAssertEqual(ApplicationUtils.makeDivisible(32 * 1.0, 8), 32)
        XCTAssertEqual(ApplicationUtils.makeDivisible(1280 * 1.4, 8), 1792)
        XCTAssertEqual(ApplicationUtils.makeDivisible(Double(Int(16 * 0.35)), 8), 8)
        // Even sizes pad (0, 1), odd sizes (1, 1): TF "same" for a 3×3 stride-2 window.
        XCTAssertEqual(
            ApplicationUtils.correctPad(height: 48, width: 47, kernel: 3), Padding(top: 0, bottom: 1, left: 1, right: 1)
        )
        XCTAssertEqual(MobileNetV2.modelName(alpha: 0.35, size: 96), "mobilenetv2_0.35_96")
        XCTAssertEqual(MobileNetV2.modelName(alpha: 1.0, size: 224), "mobilenetv2_1.00_224")
    }
}
