import Foundation
import TestSupport
import XCTest

@testable import WeightLoader

/// Every fixture `scripts/make_fixtures.py` wrote with Keras: the layout is recognised, the
/// counts agree, and the arrays land where Keras put them (checked by sums and first values
/// computed from the Keras model object, not from the file).
final class FixtureBindingTests: XCTestCase {
    var expectations: [String: Fixtures.Expectation] = [:]

    override func setUpWithError() throws {
        expectations = try Fixtures.expectations()
        XCTAssertFalse(expectations.isEmpty)
    }

    var goodFixtures: [(String, Fixtures.Expectation)] {
        expectations.filter { $0.value.layout != "error" }.sorted { $0.key < $1.key }
    }

    func testLayoutAndCountsOfEveryFixture() throws {
        for (name, want) in goodFixtures {
            let file = try KerasWeightFile.open(Fixtures.path(name))
            XCTAssertEqual(file.layout.rawValue, want.layout, name)
            XCTAssertEqual(file.kerasVersion, want.kerasVersion, "\(name) keras_version")
            if let count = want.layerNamesCount { XCTAssertEqual(file.layers.count, count, "\(name) layer_names") }
            if let weighted = want.weightedLayers, want.nestedIn == nil {
                XCTAssertEqual(file.weightedLayers.count, weighted, "\(name) weighted layers")
            }
            if let params = want.params { XCTAssertEqual(file.params, params, "\(name) parameters") }
        }
    }

    func testEveryFixtureBindsWithKerasValuesInPlace() throws {
        for (name, want) in goodFixtures {
            guard let archID = want.architecture else { continue }
            let file = try KerasWeightFile.open(Fixtures.path(name))
            let arch = try ArchitectureCatalog.architecture(archID)
            let bound = try Binder.bind(file, to: arch)
            if want.tracking == "attributes" {
                XCTAssertEqual(bound.method, .byTrackedName(path: want.bindingPath, model: want.nestedIn), name)
            } else if let nested = want.nestedIn {
                XCTAssertEqual(bound.method, .byName(nestedIn: nested), name)
            } else if file.layout == .legacyWeights || file.layout == .legacyFullModel {
                XCTAssertEqual(bound.method, .positional, name)
            }
            XCTAssertEqual(bound.layers.count, arch.numWeightedLayers, name)
            for check in want.checks ?? [] {
                let layer = bound.layers[check.layerIndex]
                XCTAssertEqual(layer.name, check.kerasLayer, "\(name) layer \(check.layerIndex)")
                let array = layer.arrays[check.arrayIndex]
                XCTAssertEqual(array.shape, check.shape, "\(name) \(layer.name)")
                let sum = array.values.reduce(0.0) { $0 + Double($1) }
                XCTAssertEqual(
                    sum, check.sum, accuracy: 1e-5 * max(1, abs(check.sum)) + 1e-4, "\(name) \(layer.name) sum")
                for (got, expected) in zip(array.values, check.first) {
                    XCTAssertEqual(
                        Double(got), expected, accuracy: 1e-6 * max(1, abs(expected)), "\(name) \(layer.name) values")
                }
            }
        }
    }

    func testDetectionNamesTheArchitecture() throws {
        for (name, want) in goodFixtures {
            guard let archID = want.architecture else { continue }
            let file = try KerasWeightFile.open(Fixtures.path(name))
            let plans = Binder.detect(file)
            XCTAssertEqual(plans.first?.architecture.id, archID, "\(name): detected \(plans.map(\.architecture.id))")
        }
    }

    func testFrozenAndUnfrozenNestedSavesBindToTheSameValues() throws {
        let pairs = [
            ("full/nested_unfrozen_k3.h5", "full/nested_frozen_k3.h5"),
            ("full/nested_tfkeras.h5", "full/nested_frozen_tfkeras.h5"),
        ]
        for (a, b) in pairs {
            let arch = try ArchitectureCatalog.architecture("MobileNetV2_0.35")
            let x = try Binder.bind(KerasWeightFile.open(Fixtures.path(a)), to: arch)
            let y = try Binder.bind(KerasWeightFile.open(Fixtures.path(b)), to: arch)
            for (lx, ly) in zip(x.layers, y.layers) {
                XCTAssertEqual(lx.name, ly.name)
                for (ax, ay) in zip(lx.arrays, ly.arrays) {
                    XCTAssertEqual(ax.values, ay.values, "\(a) vs \(b): \(ax.name)")
                }
            }
        }
    }
}
