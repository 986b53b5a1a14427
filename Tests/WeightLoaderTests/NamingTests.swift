import XCTest

@testable import WeightLoader

final class NamingTests: XCTestCase {
    func testSnakeCaseMatchesKerasToSnakeCase() {
        // Values from keras/src/utils/naming.py to_snake_case on the layer classes.
        XCTAssertEqual(snakeCase("Conv2D"), "conv2d")
        XCTAssertEqual(snakeCase("DepthwiseConv2D"), "depthwise_conv2d")
        XCTAssertEqual(snakeCase("SeparableConv2D"), "separable_conv2d")
        XCTAssertEqual(snakeCase("BatchNormalization"), "batch_normalization")
        XCTAssertEqual(snakeCase("ReLU"), "re_lu")
        XCTAssertEqual(snakeCase("Dense"), "dense")
        XCTAssertEqual(snakeCase("LayerNormalization"), "layer_normalization")
    }

    func testKeras3KeysOrderByOccurrenceNumberNotText() {
        let keys = ["conv2d_10", "conv2d_2", "conv2d", "batch_normalization_1", "conv2d_1", "batch_normalization"]
        XCTAssertEqual(
            keys.sorted(by: KerasWeightFile.keras3KeyOrder),
            ["batch_normalization", "batch_normalization_1", "conv2d", "conv2d_1", "conv2d_2", "conv2d_10"])
        XCTAssertEqual(KerasWeightFile.keras3ClassKey("depthwise_conv2d_3"), "depthwise_conv2d")
        XCTAssertEqual(KerasWeightFile.keras3ClassKey("dense"), "dense")
    }

    /// saving_lib._name_key: attributes in code-point order (capitals first), private ones last.
    func testAttributesOrderAsKerasVisitsThem() {
        let names = ["head", "_aux", "Backbone", "block1", "layers", "_Z", "block10", "block2"]
        XCTAssertEqual(
            names.sorted(by: KerasWeightFile.attributeOrder),
            ["Backbone", "block1", "block10", "block2", "head", "layers", "_Z", "_aux"])
    }

    func testModelSelectionFollowsKerasDefaults() throws {
        XCTAssertEqual(try ModelSelection(name: "MobileNet").resolve().id, "mobilenet_1.0_224_notop")
        XCTAssertEqual(
            try ModelSelection(name: "mobilenet_v2", alpha: 0.35, rows: 96).resolve().id, "mobilenet_v2_0.35_96_notop")
        XCTAssertEqual(try ModelSelection(name: "resnet50").resolve().architecture, "ResNet50")
        XCTAssertEqual(try ModelSelection(name: "resnet50_v0.2").resolve().architecture, "ResNet50_v0.2")
        XCTAssertEqual(try ModelSelection(name: "resnet50", includeTop: true).resolve().includeTop, true)
        XCTAssertThrowsError(try ModelSelection(name: "mobilenet", alpha: 0.6).resolve())
        XCTAssertThrowsError(try ModelSelection(name: "alexnet").resolve())
    }

    func testWrongArchitectureMessageSpellsTheFlag() {
        let e = WeightLoaderError.wrongArchitecture(path: "w.h5", requested: "ResNet50", detected: "MobileNetV2_0.35")
        XCTAssertEqual(
            e.description,
            "w.h5: holds MobileNetV2_0.35 weights, not ResNet50; pass --model mobilenetv2 --alpha 0.35 or another weights file"
        )
    }
}
