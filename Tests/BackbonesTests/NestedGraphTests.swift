import Foundation
import TestSupport
import XCTest

@testable import Backbones
@testable import WeightLoader

/// The Graph API on a Keras 3 Functional model with two inputs, two outputs and a model nested
/// two deep (outer > inner > innermost), checked against Keras' own outputs
/// (`scripts/make_graph_fixtures.py`): layer names repeat across scopes ("conv", "bn",
/// "dense"), weights bind by their scoped paths, a Dense acts on a flat (C) and on a (T, C)
/// tensor, and Add and Concatenate join the two inputs' branches.
final class NestedGraphTests: XCTestCase {
    struct Tensor: Decodable {
        let name: String?
        let path: String?
        let shape: [Int]
        let values: [String]

        func floats() throws -> [Float] {
            try values.map { v in
                guard let f = Float(v) else {
                    throw GraphError.badGraph(layer: name ?? path ?? "", detail: "not a float: \(v)")
                }
                return f
            }
        }
    }

    struct Reference: Decodable {
        let inputs: [Tensor]
        let outputs: [Tensor]
        let weights: [Tensor]
    }

    /// outer(image_a, image_b) -> (probs (3), tokens (16, 4)), as the generator builds it.
    static func graph() throws -> Graph {
        var g = Graph(name: "outer", input: FeatureShape([8, 8, 3]), inputName: "image_a")
        let b = try g.addInput("image_b", FeatureShape([8, 8, 3]))
        let xa = try g.add("conv", .conv2d(.init(filters: 6, kernel: (3, 3), strides: (2, 2), padding: .same)), g.input)
        var xb = try g.add("conv_b", .conv2d(.init(filters: 6, kernel: (3, 3), strides: (2, 2), padding: .same)), b)
        xb = try g.add("bn", .batchNorm(epsilon: 1e-3), xb)
        let s = try g.add("add", .add, xa, xb)
        // inner(s): innermost(s) -> conv -> pool -> dense
        let innermost = ["inner", "innermost"]
        var y = try g.add(
            "conv", .conv2d(.init(filters: 8, kernel: (3, 3), padding: .same, useBias: false)), s, in: innermost)
        y = try g.add("bn", .batchNorm(epsilon: 1e-3), y, in: innermost)
        y = try g.add("relu", .activation(.relu), y, in: innermost)
        y = try g.add("conv", .conv2d(.init(filters: 8, kernel: (1, 1))), y, in: ["inner"])
        y = try g.add("pool", .globalAveragePool(keepDims: false), y, in: ["inner"])
        let v = try g.add("dense", .dense(units: 5, activation: .tanh), y, in: ["inner"])
        let logits = try g.add("dense", .dense(units: 3), v)
        let probs = try g.add("probs", .activation(.softmax), logits)
        let c = try g.add("concat", .concat, xa, s)
        let f = try g.add("flatten", .flatten, c)
        let t = try g.add("reshape", .reshape(FeatureShape([16, 12])), f)
        let tokens = try g.add("tokens", .dense(units: 4, activation: .relu), t)
        g.outputs = [probs, tokens]
        return g
    }

    /// The fixture's arrays as the binder hands a nested model's arrays over: one file layer
    /// per top-level layer, arrays named by their full path.
    static func weights(_ reference: Reference) throws -> BoundWeights {
        var layers: [String: [BoundArray]] = [:]
        var order: [String] = []
        for w in reference.weights {
            guard let path = w.path, let top = path.split(separator: "/").first.map(String.init) else { continue }
            if layers[top] == nil { order.append(top) }
            layers[top, default: []].append(BoundArray(name: path, shape: w.shape, values: try w.floats()))
        }
        return BoundWeights(
            architecture: try ArchitectureCatalog.architecture("MobileNetV2_0.35"), method: .byName(nestedIn: nil),
            layers: order.map { BoundLayer(name: $0, className: "", sourceName: $0, arrays: layers[$0] ?? []) })
    }

    func testTwoInputsTwoOutputsNestedTwoDeepMatchKeras() throws {
        let path = Fixtures.path("graph/two_in_two_out_nested.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        let g = try Self.graph()
        XCTAssertEqual(g.inputs.map { g.shape($0).dimensions }, reference.inputs.map(\.shape))
        XCTAssertEqual(g.outputNodes.map { g.shape($0).dimensions }, reference.outputs.map(\.shape))
        XCTAssertEqual(g.node("conv", in: ["inner", "innermost"])?.path, "inner/innermost/conv")

        let model = try CompiledGraph(g, weights: try Self.weights(reference))
        // Two images per input: the second is the first reversed, so a batch mix-up shows.
        let images = try reference.inputs.map { try $0.floats() }
        let outputs = try model.run(inputs: images.map { $0 + $0.reversed() }, threads: 2)
        let single = try model.run(inputs: images)
        // Float32 against TensorFlow's CPU kernels; sums of at most 54 products per value.
        let tolerance: Float = 1e-5
        for (j, expected) in reference.outputs.enumerated() {
            let keras = try expected.floats()
            let observed = Array(outputs[j].prefix(keras.count))
            let error = zip(observed, keras).map { abs($0 - $1) }.max() ?? .infinity
            print(
                "\(expected.name ?? "") \(expected.shape): expected \(keras.prefix(4)) observed \(observed.prefix(4)) "
                    + "max abs error \(error) (max |keras| \(keras.map(abs).max() ?? 0))")
            assertClose(observed, keras, tolerance: tolerance, expected.name ?? "output \(j)")
            XCTAssertEqual(Array(single[j]), observed, "the same bits alone and in a batch")
        }
        XCTAssertEqual(outputs.map(\.count), [2 * 3, 2 * 16 * 4])
    }

    /// Names are unique per scope: a repeat in one scope is refused, naming the scope.
    func testDuplicateNameInOneScopeIsRefused() throws {
        var g = Graph(name: "m", input: FeatureShape([4, 4, 2]))
        try g.add("conv", .conv2d(.init(filters: 2, kernel: (1, 1))), g.input, in: ["inner"])
        XCTAssertThrowsError(try g.add("conv", .conv2d(.init(filters: 2, kernel: (1, 1))), g.input, in: ["inner"])) {
            XCTAssertEqual($0 as? GraphError, .badGraph(layer: "inner/conv", detail: "duplicate layer name"))
        }
        XCTAssertNoThrow(try g.add("conv", .conv2d(.init(filters: 2, kernel: (1, 1))), g.input))
    }

    /// Dense on the last axis of every rank; spatial layers refuse what is not a map.
    func testShapeRulesOfEveryRank() throws {
        var g = Graph(name: "m", input: FeatureShape([6, 4]))
        let d = try g.add("dense", .dense(units: 3), g.input)
        XCTAssertEqual(g.shape(d).dimensions, [6, 3])
        let f = try g.add("flatten", .flatten, d)
        XCTAssertEqual(g.shape(f).dimensions, [18])
        let r = try g.add("reshape", .reshape(FeatureShape([3, 2, 3])), f)
        XCTAssertEqual(g.shape(r).dimensions, [3, 2, 3])
        XCTAssertThrowsError(try g.add("pool", .globalAveragePool(keepDims: false), d)) {
            XCTAssertEqual($0 as? GraphError, .badGraph(layer: "pool", detail: "pools an (H, W, C) map, got (6,3)"))
        }
        let joined = try g.add("joined", .concat, d, g.input)
        XCTAssertEqual(g.shape(joined).dimensions, [6, 7])
        XCTAssertThrowsError(try g.add("cat", .concat, d, r)) {
            guard case .badGraph(let layer, _) = $0 as? GraphError else { return XCTFail("\($0)") }
            XCTAssertEqual(layer, "cat")
        }
    }
}
