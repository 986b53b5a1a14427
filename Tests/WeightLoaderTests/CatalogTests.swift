import Foundation
import TestSupport
import XCTest

@testable import WeightLoader

/// The manifest and the catalog agree, and every architecture binds a file laid out like a
/// published one (skeletons written by scripts/make_skeletons.py from the Keras-built lists).
final class CatalogTests: XCTestCase {
    func testEveryManifestEntryHasItsArchitectureWithTheSameCounts() throws {
        let manifest = WeightsManifest.shared
        XCTAssertGreaterThanOrEqual(manifest.entries.count, 97)
        XCTAssertEqual(Set(manifest.entries.map(\.id)).count, manifest.entries.count, "ids are unique")
        for entry in manifest.entries {
            let arch = try ArchitectureCatalog.architecture(entry.architecture)
            XCTAssertEqual(arch.numWeightedLayers, entry.weightedLayers, entry.id)
            XCTAssertEqual(arch.numParams, entry.params, entry.id)
            XCTAssertEqual(arch.layers.count, arch.numWeightedLayers, entry.id)
            XCTAssertEqual(arch.layers.flatMap(\.arrays).count, arch.numArrays, entry.id)
            XCTAssertEqual(
                arch.layers.flatMap(\.arrays).reduce(0) { $0 + $1.shape.reduce(1, *) }, arch.numParams, entry.id)
            if let algorithm = entry.hashAlgorithm {
                XCTAssertEqual(entry.hash?.count, algorithm == "sha256" ? 64 : 32, entry.id)
            }
        }
    }

    func testTheTwoResNet50ReleasesAreTwoEntries() throws {
        let sameName = WeightsManifest.shared.entries(forFile: "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
        XCTAssertEqual(
            Set(sameName.compactMap(\.hash)), ["4d473c1dd8becc155b73f8504c6f6626", "a268eb855778b3df3c7506639542a6af"])
        XCTAssertEqual(
            WeightsManifest.shared.entries(withHash: "a268eb855778b3df3c7506639542a6af").first?.bnEpsilon, 0.001)
        XCTAssertEqual(
            WeightsManifest.shared.entries(withHash: "4d473c1dd8becc155b73f8504c6f6626").first?.bnEpsilon, 1.001e-5)
    }

    func testEveryArchitectureBindsAPublishedStyleFileAndIsDetected() throws {
        for id in ArchitectureCatalog.ids {
            let file = try KerasWeightFile.open(Fixtures.path("skeletons/\(id).h5"))
            XCTAssertEqual(file.layout, .legacyWeights, id)
            let arch = try ArchitectureCatalog.architecture(id)
            let plan = try Binder.plan(file, arch)
            XCTAssertEqual(plan.method, .positional, id)
            XCTAssertEqual(plan.pairs.count, arch.numWeightedLayers, id)
            // Several architectures can share shapes (the two ResNet50 releases); names decide.
            XCTAssertEqual(Binder.detect(file).first?.architecture.id, id, id)
        }
    }
}
