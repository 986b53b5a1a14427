import XCTest

@testable import Backbones

/// The config dialects of every Keras era, written as each era's `get_config` writes them
/// (Keras 1.2 and 2.0 from their sources; tf.keras and Keras 3 as the installed versions wrote
/// them), read into the same graph. Values against Keras itself are checked end to end by
/// `SavedModelCommandTests`; these pin what each dialect's syntax means.
final class SavedModelConfigTests: XCTestCase {
    func build(_ json: String, keras3: Bool = false, layer: String? = nil) throws -> SavedModelGraph {
        try SavedModelBuilder.build(config: json, keras3: keras3, layer: layer)
    }

    func summary(_ g: Graph) -> [String] {
        g.nodes.map { "\($0.path) \($0.shape)" }
    }

    /// Keras 2.0–2.1: a Sequential's `config` is the bare list of layers; the first holds
    /// `batch_input_shape`.
    func testKeras20SequentialList() throws {
        let json = """
            {"class_name": "Sequential", "config": [
              {"class_name": "Conv2D", "config": {"name": "conv2d_1", "trainable": true,
                "batch_input_shape": [null, 8, 8, 3], "dtype": "float32", "filters": 4,
                "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
                "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "relu",
                "use_bias": true}},
              {"class_name": "Dropout", "config": {"name": "dropout_1", "rate": 0.5}},
              {"class_name": "Flatten", "config": {"name": "flatten_1"}},
              {"class_name": "Dense", "config": {"name": "dense_1", "units": 2, "activation": "softmax",
                "use_bias": true}}]}
            """
        let built = try build(json)
        XCTAssertEqual(
            summary(built.graph),
            ["input_layer (8,8,3)", "conv2d_1 (4,4,4)", "dropout_1 (4,4,4)", "flatten_1 (64)", "dense_1 (2)"])
        guard case .conv2d(let p) = built.graph.nodes[1].op else { return XCTFail("conv2d_1 is not a Conv2D") }
        XCTAssertEqual(p, Conv2DParams(filters: 4, kernel: (3, 3), strides: (2, 2), padding: .same, activation: .relu))
        XCTAssertEqual(built.graph.nodes[4].op, .dense(units: 2, useBias: true, activation: .softmax))
    }

    /// Keras 1: `Model`, nested-list `inbound_nodes`, `Convolution2D` with `nb_filter`,
    /// `nb_row`, `subsample`, `border_mode`, and the `Merge` layer.
    func testKeras1FunctionalWithMerge() throws {
        let json = """
            {"class_name": "Model", "keras_version": "1.2.2", "config": {"name": "model_1",
              "layers": [
                {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
                 "config": {"batch_input_shape": [null, 6, 6, 3], "input_dtype": "float32", "name": "input_1"}},
                {"class_name": "Convolution2D", "name": "a", "inbound_nodes": [[["input_1", 0, 0]]],
                 "config": {"name": "a", "nb_filter": 5, "nb_row": 1, "nb_col": 1, "subsample": [1, 1],
                   "border_mode": "valid", "dim_ordering": "tf", "activation": "linear", "bias": true}},
                {"class_name": "Convolution2D", "name": "b", "inbound_nodes": [[["input_1", 0, 0]]],
                 "config": {"name": "b", "nb_filter": 2, "nb_row": 3, "nb_col": 3, "subsample": [1, 1],
                   "border_mode": "same", "dim_ordering": "tf", "activation": "tanh", "bias": false}},
                {"class_name": "Merge", "name": "merge_1", "inbound_nodes": [[["a", 0, 0], ["b", 0, 0]]],
                 "config": {"name": "merge_1", "mode": "concat", "concat_axis": -1}}],
              "input_layers": [["input_1", 0, 0]], "output_layers": [["merge_1", 0, 0]]}}
            """
        let built = try build(json)
        XCTAssertEqual(summary(built.graph), ["input_1 (6,6,3)", "a (6,6,5)", "b (6,6,2)", "merge_1 (6,6,7)"])
        XCTAssertEqual(built.graph.nodes[3].op, .concat)
        XCTAssertEqual(built.graph.nodes[3].inputs, [1, 2])
        guard case .conv2d(let b) = built.graph.nodes[2].op else { return XCTFail("b is not a convolution") }
        XCTAssertEqual(b, Conv2DParams(filters: 2, kernel: (3, 3), padding: .same, useBias: false, activation: .tanh))
        XCTAssertEqual(built.outputNames, ["merge_1"])
    }

    /// tf.keras: `preprocess_input` inside a model is TFOpLambda nodes whose constants are in
    /// the node's kwargs; a constant first operand is `_CONSTANT_VALUE` (`1.0 - x`).
    func testTFKerasOpLambdas() throws {
        let json = """
            {"class_name": "Functional", "config": {"name": "model", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 4, 3], "name": "input_1"},
               "name": "input_1", "inbound_nodes": []},
              {"class_name": "TFOpLambda", "config": {"name": "tf.math.truediv", "function": "math.truediv"},
               "name": "tf.math.truediv", "inbound_nodes": [["input_1", 0, 0, {"y": 127.5, "name": null}]]},
              {"class_name": "SlicingOpLambda", "config": {"name": "tf.__operators__.getitem", "function": "__operators__.getitem"},
               "name": "tf.__operators__.getitem", "inbound_nodes": [["tf.math.truediv", 0, 0, {"slice_spec":
                 [{"class_name": "__ellipsis__"}, {"start": null, "stop": null, "step": -1}]}]]},
              {"class_name": "TFOpLambda", "config": {"name": "tf.nn.bias_add", "function": "nn.bias_add"},
               "name": "tf.nn.bias_add", "inbound_nodes": [["tf.__operators__.getitem", 0, 0,
                 {"bias": [-103.939, -116.779, -123.68], "data_format": "NHWC"}]]},
              {"class_name": "TFOpLambda", "config": {"name": "tf.math.subtract", "function": "math.subtract"},
               "name": "tf.math.subtract", "inbound_nodes": [["_CONSTANT_VALUE", -1, 1.0,
                 {"y": ["tf.nn.bias_add", 0, 0], "name": null}]]}],
              "input_layers": [["input_1", 0, 0]], "output_layers": [["tf.math.subtract", 0, 0]]}}
            """
        let g = try build(json).graph
        XCTAssertEqual(
            g.nodes.map(\.name),
            ["input_1", "tf.math.truediv", "tf.__operators__.getitem", "tf.nn.bias_add", "tf.math.subtract"])
        XCTAssertEqual(g.nodes[1].op, .constant(ConstantArithmetic(.divide, [127.5])))
        XCTAssertEqual(g.nodes[2].op, .reverseChannels)
        XCTAssertEqual(g.nodes[3].op, .constant(ConstantArithmetic(.add, [-103.939, -116.779, -123.68])))
        XCTAssertEqual(g.nodes[4].op, .constant(ConstantArithmetic(.reverseSubtract, [1])))
        XCTAssertEqual(g.nodes[4].inputs, [3])
    }

    /// Keras 3: operations with positional constants, `__tensor__` constants, and caffe's
    /// channel flip written as three `GetItem`s and a `Stack`.
    func testKeras3Operations() throws {
        func tensor(_ layer: String) -> String {
            #"{"class_name": "__keras_tensor__", "config": {"shape": [null, 4, 4, 3], "dtype": "float32", "keras_history": [""#
                + layer + #"", 0, 0]}}"#
        }
        func op(_ cls: String, _ name: String, _ args: String) -> String {
            #"{"module": "keras.src.ops.numpy", "class_name": ""# + cls + #"", "config": {"name": ""# + name
                + #""}, "registered_name": ""# + cls + #"", "name": ""# + name + #"", "inbound_nodes": [{"args": ["#
                + args + #"], "kwargs": {}}]}"#
        }
        let ellipsis = #"{"class_name": "__ellipsis__", "config": {}}"#
        let json =
            #"{"module": "keras", "class_name": "Functional", "config": {"name": "functional", "layers": ["#
            + #"{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 3], "dtype": "float32", "name": "input_layer"}, "registered_name": null, "name": "input_layer", "inbound_nodes": []},"#
            + op("GetItem", "get_item", tensor("input_layer") + ", [\(ellipsis), 2]") + ","
            + op("GetItem", "get_item_1", tensor("input_layer") + ", [\(ellipsis), 1]") + ","
            + op("GetItem", "get_item_2", tensor("input_layer") + ", [\(ellipsis), 0]") + ","
            + op(
                "Stack", "stack",
                "[" + tensor("get_item") + "," + tensor("get_item_1") + "," + tensor("get_item_2") + "]")
            + ","
            + op(
                "Add", "add",
                tensor("stack")
                    + #", {"class_name": "__tensor__", "config": {"value": [[[[-103.9, -116.7, -123.6]]]], "dtype": "float32"}}"#
            ) + ","
            + op("TrueDivide", "true_divide", tensor("add") + ", 127.5") + ","
            + op("Subtract", "subtract", "1.0, " + tensor("true_divide"))
            + #"], "input_layers": [["input_layer", 0, 0]], "output_layers": ["subtract", 0, 0]}}"#
        let g = try build(json, keras3: true).graph
        XCTAssertEqual(g.nodes.map(\.name), ["input_layer", "stack", "add", "true_divide", "subtract"])
        XCTAssertEqual(g.nodes[1].op, .reverseChannels)
        XCTAssertEqual(g.nodes[2].op, .constant(ConstantArithmetic(.add, [-103.9, -116.7, -123.6])))
        XCTAssertEqual(g.nodes[3].op, .constant(ConstantArithmetic(.divide, [127.5])))
        XCTAssertEqual(g.nodes[4].op, .constant(ConstantArithmetic(.reverseSubtract, [1])))
    }

    /// A Lambda layer and a layer of unknown class: one error naming both; an earlier layer
    /// still builds with `layer`; a shared layer's second call is a node of its own.
    func testUnsupportedLayersAreListedTogether() throws {
        let json = """
            {"class_name": "Functional", "config": {"name": "model", "layers": [
              {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4, 4, 3], "name": "input_1"},
               "name": "input_1", "inbound_nodes": []},
              {"class_name": "Conv2D", "config": {"name": "shared", "filters": 3, "kernel_size": [1, 1]},
               "name": "shared", "inbound_nodes": [[["input_1", 0, 0, {}]], [["lambda", 0, 0, {}]]]},
              {"class_name": "Lambda", "config": {"name": "lambda", "function": ["4wEAAAA...", null, null]},
               "name": "lambda", "inbound_nodes": [[["shared", 0, 0, {}]]]},
              {"class_name": "MyCustomLayer", "config": {"name": "custom"},
               "name": "custom", "inbound_nodes": [[["shared", 1, 0, {}]]]}],
              "input_layers": [["input_1", 0, 0]], "output_layers": [["custom", 0, 0]]}}
            """
        XCTAssertThrowsError(try build(json)) { error in
            guard case SavedModelError.unsupportedLayers(let layers) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(layers.count, 2, "\(layers)")
            XCTAssertTrue(layers[0].hasPrefix("lambda (Lambda"), "\(layers)")
            XCTAssertTrue(layers[1].hasPrefix("custom (MyCustomLayer"), "\(layers)")
            XCTAssertTrue(String(describing: error).contains("never run"), "\(error)")
        }
        let early = try build(json, layer: "shared")
        XCTAssertEqual(early.graph.outputNodes.map { early.graph.nodes[$0].name }, ["shared"])
        XCTAssertEqual(early.unsupported.count, 2)
    }
}
