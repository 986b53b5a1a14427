import Foundation
import TestSupport
import WeightLoader
import XCTest

@testable import Backbones

/// Every architecture `Backbone` builds mirrors the catalog (Keras' weighted-layer order) and
/// plans against its published-layout skeleton (scripts/make_skeletons.py), so every array's
/// shape is checked at the manifest's default input size.
final class BackboneRegistryTests: XCTestCase {
    func testEverySupportedArchitectureMatchesItsPublishedLayout() throws {
        for id in Backbone.supported {
            let arch = try ArchitectureCatalog.architecture(id)
            let entry = try XCTUnwrap(
                WeightsManifest.shared.entries.first { $0.architecture == id && !$0.includeTop }, id)
            let size = entry.defaultInput
            let g = try Backbone.graph(id, height: size, width: size, pooling: .avg)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), id)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, [entry.outputWidth], id)
            let file = try KerasWeightFile.open(Fixtures.path("skeletons/\(id).h5"))
            XCTAssertNoThrow(try CompiledGraph(g, weights: Binder.bind(file, to: arch)), id)
        }
    }

    /// The include_top=True graphs (catalog `_top` ids, the published top files): Keras'
    /// weighted-layer order including the classifier, (1000) probabilities out, and every array
    /// of the skeleton bound at the default size (VGG16's fc1 is (25088, 4096) there).
    func testEveryTopArchitectureMatchesItsPublishedLayout() throws {
        XCTAssertEqual(
            Set(Backbone.supportedTop),
            [
                "ResNet50_top", "VGG16_top", "MobileNet_1.0_top", "MobileNetV2_1.0_top", "InceptionV3_top",
                "Xception_top", "DenseNet121_top", "EfficientNetB0_top",
            ])
        for id in Backbone.supportedTop {
            let arch = try ArchitectureCatalog.architecture(id)
            let entry = try XCTUnwrap(
                WeightsManifest.shared.entries.first { $0.architecture == id && $0.includeTop }, id)
            let size = entry.defaultInput
            let g = try Backbone.graph(id, height: size, width: size)
            XCTAssertEqual(g.weightedLayerNames, arch.layers.map(\.name), id)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, [1000], id)
            XCTAssertEqual(g.nodes[g.outputNode].name, "predictions", id)
            // The same graph through the flag.
            let flagged = try Backbone.graph(
                String(id.dropLast(4)), height: size, width: size, includeTop: true)
            XCTAssertEqual(flagged.nodes.map(\.name), g.nodes.map(\.name), id)
            let file = try KerasWeightFile.open(Fixtures.path("skeletons/\(id).h5"))
            let model = try CompiledGraph(g, weights: Binder.bind(file, to: arch))
            XCTAssertEqual(model.steps.last?.layers.last, "predictions", id)
        }
    }

    /// The families without a published top file in the catalog still build Keras' head
    /// (names as `keras.applications` gives them with include_top=True).
    func testHeadsOfTheOtherFamilies() throws {
        let heads: [(String, Int, [String])] = [
            (
                "MobileNetV3Small", 224,
                ["global_average_pooling2d", "conv_2", "activation_18", "dropout", "logits", "flatten", "predictions"]
            ),
            (
                "MobileNetV3Large_minimalistic", 224,
                ["global_average_pooling2d", "conv_2", "re_lu_31", "dropout", "logits", "flatten", "predictions"]
            ),
            ("InceptionResNetV2", 299, ["avg_pool", "predictions"]),
            ("ResNet152V2", 224, ["avg_pool", "predictions"]),
            ("EfficientNetB3", 300, ["avg_pool", "top_dropout", "predictions"]),
            ("VGG19", 224, ["flatten", "fc1", "fc2", "predictions"]),
        ]
        for (id, size, tail) in heads {
            let g = try Backbone.graph(id, height: size, width: size, includeTop: true)
            XCTAssertEqual(Array(g.nodes.map(\.name).suffix(tail.count)), tail, id)
            XCTAssertEqual(g.shape(g.outputNode).dimensions, [1000], id)
        }
        XCTAssertThrowsError(try Backbone.graph("ResNet50_top", height: 224, width: 224, pooling: .avg)) {
            XCTAssertTrue(String(describing: $0).contains("pooling avg"), "\($0)")
        }
    }

    func testUnknownArchitectureNamesWhatRuns() {
        XCTAssertThrowsError(try Backbone.graph("NoSuchNet", height: 224, width: 224)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("NoSuchNet") && text.contains("ResNet50"), text)
        }
    }
}
