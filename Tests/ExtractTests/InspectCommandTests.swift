import Foundation
import TestSupport
import XCTest

/// `extract inspect` as a user runs it: stdout, stderr, exit status.
final class InspectCommandTests: XCTestCase {
    func testInspectPublishedLayoutPrintsStructureAndArchitecture() throws {
        let path = Fixtures.path("legacy/mobilenet_v2_0.35_96_tfkeras.h5")
        let r = try runExtract(["inspect", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("legacy-weights"), r.stdout)
        XCTAssertTrue(r.stdout.contains("MobileNetV2_0.35: binds positional, 104 layers"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Conv1/kernel:0 (3, 3, 3, 16) float32"), r.stdout)
        XCTAssertTrue(r.stdout.contains("410,208 parameters"), r.stdout)
        XCTAssertEqual(r.stderr, "")
    }

    func testInspectKeras1FileWithoutVersion() throws {
        let r = try runExtract(["inspect", Fixtures.path("legacy/vgg16_keras1.h5")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("not recorded (Keras 1 writer)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("block1_conv1_W_1:0 (3, 3, 3, 64) float32"), r.stdout)
        XCTAssertTrue(r.stdout.contains("VGG16: binds positional"), r.stdout)
    }

    func testInspectNestedModelShowsWhereTheBackboneSits() throws {
        let r = try runExtract(["inspect", Fixtures.path("full/nested_frozen_k3.h5")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("legacy-full-model"), r.stdout)
        XCTAssertTrue(r.stdout.contains("<- MobileNetV2_0.35 backbone"), r.stdout)
        XCTAssertTrue(r.stdout.contains("head [Dense]"), r.stdout)
        // The backbone's 260 arrays are listed under its group once, plus the head's 2.
        XCTAssertTrue(r.stdout.contains("2 with weights, 262 arrays, 416,613 parameters"), r.stdout)
    }

    func testJSONReportDecodes() throws {
        let r = try runExtract(["inspect", "--json", Fixtures.path("v3/nested.keras")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["layout"] as? String, "keras3-archive")
        let matches = object?["matches"] as? [[String: Any]]
        XCTAssertEqual(matches?.first?["architecture"] as? String, "MobileNetV2_0.35")
    }

    func testModelFlagBindsOrSaysWhichArchitectureTheFileIs() throws {
        let path = Fixtures.path("legacy/mobilenet_v2_0.35_96_k3.h5")
        let ok = try runExtract(["inspect", path, "--model", "mobilenetv2", "--alpha", "0.35"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("--model"), ok.stdout)

        let wrong = try runExtract(["inspect", path, "--model", "resnet50"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertEqual(wrong.stdout, "")
        XCTAssertEqual(
            wrong.stderr,
            "error: \(path): holds MobileNetV2_0.35 weights, not ResNet50; pass --model mobilenetv2 --alpha 0.35 or another weights file\n"
        )
    }

    func testEachBrokenFileGivesOneErrorLine() throws {
        let cases = [
            "bad/not_hdf5.h5": "not an HDF5 file",
            "bad/empty.h5": "the file is empty",
            "bad/unknown_layout.h5": "not a Keras weight file",
            "bad/truncated.h5": "truncated",
        ]
        for (fixture, phrase) in cases {
            let r = try runExtract(["inspect", Fixtures.path(fixture)])
            XCTAssertEqual(r.status, 1, fixture)
            XCTAssertTrue(r.stderr.hasPrefix("error: "), r.stderr)
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(fixture): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(phrase), "\(fixture): \(r.stderr)")
        }
    }

    func testLayerCountAndShapeErrorsThroughTheCLI() throws {
        let count = try runExtract([
            "inspect", Fixtures.path("bad/layer_count.h5"), "--model", "mobilenetv2", "--alpha", "0.35",
        ])
        XCTAssertEqual(count.status, 1)
        XCTAssertTrue(count.stderr.contains("the model has 104 layers with weights, the file 103"), count.stderr)
        let shape = try runExtract([
            "inspect", Fixtures.path("bad/shape_mismatch.h5"), "--model", "mobilenetv2", "--alpha", "0.35",
        ])
        XCTAssertEqual(shape.status, 1)
        XCTAssertTrue(shape.stderr.contains("shape mismatch in layer"), shape.stderr)
    }

    /// A subclassed model's file: how it binds (layout, tracking, method and where), and every
    /// layer with the group it is stored at, the repeated names included.
    func testInspectAttributeTrackedFileSaysHowItBindsAndListsItsLayers() throws {
        let path = Fixtures.path("attr/subclassed.weights.h5")
        let r = try runExtract(["inspect", path, "--all"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        XCTAssertTrue(r.stdout.contains("keras3-weights (Keras 3 .weights.h5)"), r.stdout)
        XCTAssertTrue(
            r.stdout.contains(
                "layers tracked as attributes (a subclassed model, or layers holding layers): backbone, block1, head"),
            r.stdout)
        XCTAssertTrue(
            r.stdout.contains(
                "MobileNet_0.25: binds by the layer names of an attribute-tracked layout, inside 'backbone' (mobilenet_0.25_97), 54 layers, 54 names"
            ), r.stdout)
        XCTAssertTrue(r.stdout.contains("conv1 [conv2d]  at backbone/layers/conv2d\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("conv1 [conv2d]  at block1/layers/conv2d\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("conv1/0 (1, 1, 256, 16) float32"), r.stdout)
        // An attribute's key is its name, not its class: no class is shown.
        XCTAssertTrue(r.stdout.contains("head  at head\n"), r.stdout)
        XCTAssertFalse(r.stdout.contains("optimizer"), r.stdout)

        let bound = try runExtract(["inspect", path, "--model", "mobilenet", "--alpha", "0.25"])
        XCTAssertEqual(bound.status, 0, bound.stderr)
        XCTAssertTrue(
            bound.stdout.contains(
                "--model       MobileNet_0.25: binds by the layer names of an attribute-tracked layout, inside 'backbone' (mobilenet_0.25_97) (54 layers, shapes checked)"
            ), bound.stdout)

        let json = try runExtract(["inspect", "--json", Fixtures.path("attr/functional_blocks.keras")])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["tracking"] as? String, "attributes")
        XCTAssertEqual(object?["trackedAttributes"] as? [String], ["layers/conv_block/bn", "layers/conv_block/conv"])
        let match = (object?["matches"] as? [[String: Any]])?.first
        XCTAssertEqual(match?["architecture"] as? String, "MobileNetV2_0.35")
        XCTAssertEqual(match?["path"] as? String, "layers/functional")
        XCTAssertEqual(match?["nestedIn"] as? String, "mobilenetv2_0.35_96")
    }

    func testAttributeTrackedFileOfAnotherVariantIsOneErrorLine() throws {
        let path = Fixtures.path("attr/subclassed.keras")
        let r = try runExtract(["inspect", path, "--model", "mobilenet", "--alpha", "0.5"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(
            r.stderr,
            "error: \(path): holds MobileNet_0.25 weights, not MobileNet_0.5; pass --model mobilenet --alpha 0.25 or another weights file\n"
        )
    }

    func testUnknownModelIsAUsageLevelErrorWithChoices() throws {
        let r = try runExtract(["inspect", Fixtures.path("legacy/mobilenet_v2_0.35_96_k3.h5"), "--model", "resnet49"])
        XCTAssertEqual(r.status, 64, "a bad command line")
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("unknown model 'resnet49'; choose one of: resnet50"), r.stderr)
    }
}
