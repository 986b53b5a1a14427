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

/// The graphs' weight specs (each op's `weightSpec`, at the op's own input shape) are the
/// arrays Keras creates: for every architecture of the generated catalog, every weighted layer
/// in Keras' order lists the same variables with the same shapes. The catalog is generated
/// from Keras (scripts/gen_catalog.py); this is its check of the hand-built graphs.
final class WeightSpecCatalogTests: XCTestCase {
    /// (path inside the file layer, shape) of every array the graph's nodes read, grouped by
    /// the file layer (the top-level layer, or the nested model holding the node).
    func specArrays(_ g: Graph) -> [String: [(path: String, shape: [Int])]] {
        var out: [String: [(path: String, shape: [Int])]] = [:]
        for node in g.nodes {
            guard let input = node.inputs.first else { continue }
            for w in node.op.weightSpec(input: g.shape(input)) {
                let variable = w.names.first ?? "variable"
                out[node.weightsLayer, default: []].append(
                    ((node.scopePath + [node.name, variable]).joined(separator: "/"), w.shape))
            }
        }
        return out
    }

    func testEveryGraphListsTheArraysKerasCreates() throws {
        var checked = 0
        for id in Backbone.supported + Backbone.supportedTop {
            let arch = try ArchitectureCatalog.architecture(id)
            let entry = try XCTUnwrap(WeightsManifest.shared.entries.first { $0.architecture == id }, id)
            let size = entry.defaultInput
            let g = try Backbone.graph(id, height: size, width: size)
            let spec = specArrays(g)
            XCTAssertEqual(Set(spec.keys), Set(arch.layers.map(\.name)), id)
            for layer in arch.layers {
                // Keras' Normalization also stores `count` (int64, shape []); inference never reads it.
                let keras = layer.arrays.filter { !($0.variable == "count" && $0.shape.isEmpty) }
                let ours = spec[layer.name] ?? []
                XCTAssertEqual(ours.map(\.shape), keras.map(\.shape), "\(id) \(layer.name) shapes")
                // Keras' paths may start with name scopes (NASNet's `reduction_A_block_stem_1/...`);
                // ours are the models and the layer: they must end Keras' path. LayerScale's
                // one variable has an automatic name (`variable`, `variable_1`, ...).
                for (o, k) in zip(ours, keras) {
                    let want = k.path.split(separator: "/").map(String.init)
                    var have = o.path.split(separator: "/").map(String.init)
                    if layer.className == "LayerScale" { have[have.count - 1] = want.last ?? "" }
                    XCTAssertEqual(Array(want.suffix(have.count)), have, "\(id) \(layer.name) names")
                }
                checked += ours.count
            }
        }
        XCTAssertGreaterThan(checked, 10_000)
    }
}
