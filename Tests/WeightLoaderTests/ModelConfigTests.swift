import Foundation
import XCTest

@testable import WeightLoader

/// A saved model's input as each Keras era writes it in its config (the snippets are cut from
/// configs Keras 3.15 and tf-keras 2.21 wrote; the end-to-end runs are in DefaultsCommandTests).
final class ModelConfigTests: XCTestCase {
    func testKeras3FunctionalWithANestedBackbone() {
        let json = """
            {"class_name": "Functional", "config": {"name": "functional", "layers": [
              {"class_name": "InputLayer", "name": "input_layer_1",
               "config": {"batch_shape": [null, 160, 160, 3], "dtype": "float32", "name": "input_layer_1"}},
              {"class_name": "Functional", "name": "mobilenetv2_1.00_160", "config": {"name": "mobilenetv2_1.00_160",
               "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 160, 160, 3], "name": "input_layer"}}]}},
              {"class_name": "Dense", "config": {"name": "dense", "units": 19}}]}}
            """
        let (outer, nested) = ModelConfigInput.inputs(ofConfig: json, nested: "mobilenetv2_1.00_160")
        XCTAssertEqual(outer, ModelConfigInput(model: "functional", shape: [160, 160, 3]))
        XCTAssertEqual(nested, ModelConfigInput(model: "mobilenetv2_1.00_160", shape: [160, 160, 3]))
        XCTAssertTrue(outer?.isFixed == true)
    }

    func testTfKeras2SequentialTakesTheFirstLayersBatchInputShape() {
        let json = """
            {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
              {"class_name": "Conv2D", "config": {"name": "conv2d", "batch_input_shape": [null, 96, 128, 1], "filters": 8}},
              {"class_name": "Flatten", "config": {"name": "flatten"}}]}}
            """
        let input = ModelConfigInput.inputs(ofConfig: json).outer
        XCTAssertEqual(input?.shape, [96, 128, 1])
        XCTAssertEqual(input?.height, 96)
        XCTAssertEqual(input?.width, 128)
        XCTAssertEqual(input?.channels, 1)
    }

    func testKeras3SequentialWithoutInputLayerUsesItsBuildConfig() {
        let json = """
            {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
              {"class_name": "Dense", "config": {"name": "dense", "units": 2}}]},
             "build_config": {"input_shape": [null, 64, 64, 3]}}
            """
        XCTAssertEqual(ModelConfigInput.inputs(ofConfig: json).outer?.shape, [64, 64, 3])
    }

    /// An outer input of any size (None, None, 3) fixes nothing; the nested backbone's may.
    func testAnOpenOuterInputIsNotFixed() {
        let json = """
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, null, null, 3], "name": "in"}},
              {"class_name": "Functional", "config": {"name": "inner", "layers": [
                {"class_name": "Functional", "config": {"name": "resnet50", "layers": [
                  {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 224, 224, 3]}}]}}]}}]}}
            """
        let (outer, nested) = ModelConfigInput.inputs(ofConfig: json, nested: "resnet50")
        XCTAssertEqual(outer?.shape, [nil, nil, 3])
        XCTAssertEqual(outer?.isFixed, false)
        XCTAssertEqual(nested?.shape, [224, 224, 3], "found two models deep")
        XCTAssertNil(ModelConfigInput.inputs(ofConfig: "not json").outer)
    }
}
