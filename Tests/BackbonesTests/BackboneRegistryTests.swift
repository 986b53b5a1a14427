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

    func testUnknownArchitectureNamesWhatRuns() {
        XCTAssertThrowsError(try Backbone.graph("NoSuchNet", height: 224, width: 224)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("NoSuchNet") && text.contains("ResNet50"), text)
        }
    }
}
