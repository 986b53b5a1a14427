import FeatureFiles
import Foundation
import TestSupport
import XCTest

@testable import WeightLoader

/// Keras 3 files of models that track layers as attributes (scripts/make_fixtures.py fx_attr):
/// (a) a subclassed keras.Model holding a MobileNet 0.25 backbone, a Sequential block whose
/// layers reuse the backbone's names `conv1`/`conv1_bn`, and a head; (b) a Functional model
/// with attribute-held Sequential blocks and a layer whose sub-layers are attributes. Each as
/// `.weights.h5` and `.keras`, saved with the optimizer's state.
final class AttributeLayoutTests: XCTestCase {
    static let fixtures = [
        "attr/subclassed.weights.h5", "attr/subclassed.keras",
        "attr/functional_blocks.weights.h5", "attr/functional_blocks.keras",
    ]

    func expectation(_ name: String) throws -> Fixtures.Expectation {
        try XCTUnwrap(try Fixtures.expectations()[name], "\(name) missing from expectations.json")
    }

    /// The Keras model's own backbone arrays, `<layer name>/<index>` (legacy order).
    func kerasArrays(_ name: String) throws -> [String: NpyArray] {
        try Npz.read(
            Fixtures.path(
                name.hasPrefix("attr/subclassed") ? "attr/subclassed_arrays.npz" : "attr/functional_arrays.npz"))
    }

    /// Every array of the backbone lands where Keras has it: same layer name, same index,
    /// same shape, the same float32 values bit for bit; and none is left over.
    func testEveryBackboneArrayBindsWhereKerasHasIt() throws {
        for name in Self.fixtures {
            let want = try expectation(name)
            let file = try KerasWeightFile.open(Fixtures.path(name))
            XCTAssertEqual(file.tracking, .attributes, name)
            let arch = try ArchitectureCatalog.architecture(try XCTUnwrap(want.architecture))
            let bound = try Binder.bind(file, to: arch)
            XCTAssertEqual(bound.method, .byTrackedName(path: want.bindingPath, model: want.nestedIn), name)
            let keras = try kerasArrays(name)
            var compared = 0
            for layer in bound.layers {
                XCTAssertEqual(layer.sourceName, layer.name, "\(name): bound by name")
                for (i, array) in layer.arrays.enumerated() {
                    guard let expected = keras["\(layer.name)/\(i)"] else {
                        XCTFail("\(name): Keras has no array \(layer.name)/\(i)")
                        continue
                    }
                    XCTAssertEqual(array.shape, expected.shape, "\(name) \(layer.name)/\(i)")
                    XCTAssertEqual(array.values, expected.values, "\(name) \(layer.name)/\(i) values")
                    compared += 1
                }
            }
            XCTAssertEqual(compared, keras.count, "\(name): every Keras array bound once")
            XCTAssertEqual(compared, arch.numArrays, name)
        }
    }

    /// Keras' visiting order (`_walk_saveable`): attributes by name, a subclassed model's
    /// `layers` property among them; the optimizer's state is no layer.
    func testSubclassedModelLayersInKerasOrder() throws {
        let file = try KerasWeightFile.open(Fixtures.path("attr/subclassed.weights.h5"))
        XCTAssertEqual(file.layout, .keras3Weights)
        XCTAssertEqual(file.trackedAttributes, ["backbone", "block1", "head"])
        XCTAssertEqual(file.layers.map(\.path), ["backbone", "block1", "head", "layers/global_average_pooling2d"])
        XCTAssertEqual(file.layers.map(\.name), ["mobilenet_0.25_97", "block1", "head", "global_average_pooling2d"])
        XCTAssertFalse(file.leafLayers.contains { $0.path?.hasPrefix("optimizer") == true })
        let want = try expectation("attr/subclassed.weights.h5")
        XCTAssertEqual(file.params, want.params)
        XCTAssertEqual(file.leafLayers.count, want.weightedLayers)
        XCTAssertEqual(file.leafLayers.reduce(0) { $0 + $1.arrays.count }, want.arrays)
    }

    /// `conv1` and `conv1_bn` are stored twice (the backbone's and block1's); the backbone's,
    /// which Keras visits first, is the one bound.
    func testRepeatedNamesKeepKerasOrderAndTheFirstBinds() throws {
        let file = try KerasWeightFile.open(Fixtures.path("attr/subclassed.keras"))
        let conv1 = file.leafLayers.filter { $0.name == "conv1" }
        XCTAssertEqual(conv1.map(\.path), ["backbone/layers/conv2d", "block1/layers/conv2d"])
        XCTAssertEqual(conv1.map { $0.arrays[0].shape }, [[3, 3, 3, 8], [1, 1, 256, 16]])
        let bound = try Binder.bind(file, to: ArchitectureCatalog.architecture("MobileNet_0.25"))
        let keras = try kerasArrays("attr/subclassed.keras")
        XCTAssertEqual(bound.layer("conv1")?.arrays[0].values, keras["conv1/0"]?.values)
        XCTAssertEqual(bound.layer("conv1_bn")?.arrays[3].values, keras["conv1_bn/3"]?.values)
    }

    /// A layer's attributes inside a Functional model (`layers/conv_block/bn`) are read too.
    func testSubLayersHeldAsAttributesInsideAFunctionalModel() throws {
        let file = try KerasWeightFile.open(Fixtures.path("attr/functional_blocks.weights.h5"))
        XCTAssertEqual(file.trackedAttributes, ["layers/conv_block/bn", "layers/conv_block/conv"])
        let refine = try XCTUnwrap(file.layers.first { $0.name == "refine" })
        XCTAssertEqual(refine.inner.map(\.path), ["layers/conv_block/bn", "layers/conv_block/conv"])
        XCTAssertEqual(refine.inner.map { $0.arrays.map(\.shape) }, [[[24], [24], [24], [24]], [[1, 1, 32, 24]]])
        let want = try expectation("attr/functional_blocks.weights.h5")
        XCTAssertEqual(file.params, want.params)
        XCTAssertEqual(file.leafLayers.count, want.weightedLayers)
    }

    /// The wrong variant fails with one typed line naming the file, the layer and both shapes.
    func testWrongVariantIsAShapeErrorWithFileLayerAndShapes() throws {
        let path = Fixtures.path("attr/subclassed.weights.h5")
        let file = try KerasWeightFile.open(path)
        XCTAssertThrowsError(try Binder.bind(file, to: ArchitectureCatalog.architecture("MobileNet_0.5"))) { error in
            XCTAssertEqual(
                error as? WeightLoaderError,
                .shapeMismatch(
                    path: path, layer: "conv1", array: "conv1/0", expected: [3, 3, 3, 16], actual: [3, 3, 3, 8]))
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text)
            XCTAssertTrue(text.hasPrefix(path), text)
        }
        XCTAssertThrowsError(try Binder.bind(file, to: ArchitectureCatalog.architecture("ResNet50"))) { error in
            XCTAssertNotNil(error as? WeightLoaderError, "\(error)")
        }
    }
}
