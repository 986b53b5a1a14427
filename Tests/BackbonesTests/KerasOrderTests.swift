import Foundation
import WeightLoader
import XCTest

@testable import Backbones

/// Keras' automatic names and `model.layers` order, which the branching families (Inception,
/// Xception, DenseNet) rely on to list their weighted layers in the published order.
final class KerasOrderTests: XCTestCase {
    func testAutoNamesCountPerClass() {
        var names = KerasAutoNames()
        XCTAssertEqual(
            ["conv2d", "conv2d", "add", "conv2d", "add"].map { names($0) },
            ["conv2d", "conv2d_1", "add", "conv2d_2", "add_1"])
    }

    /// input -> a; input -> b -> c; concat(a, c). Depths from the output: concat 0, a 1, c 1,
    /// b 2, input 3; ties at depth 1 go by first visit from the output (a before c). So Keras
    /// lists b before a although a was created first, and drops the unused d.
    func testOrderByDepthThenFirstVisit() throws {
        var g = Graph(name: "probe", input: FeatureShape(height: 4, width: 4, channels: 2))
        let relu = GraphOp.activation(.relu)
        let a = try g.add("a", relu, g.input)
        let b = try g.add("b", relu, g.input)
        try g.add("d", relu, b)
        let c = try g.add("c", relu, b)
        let out = try g.add("concat", .concat, a, c)
        g.output = out
        let sorted = try g.inKerasLayerOrder()
        XCTAssertEqual(sorted.nodes.map(\.name), ["input_layer", "b", "a", "c", "concat"])
        XCTAssertEqual(sorted.nodes[4].inputs.map { sorted.nodes[$0].name }, ["a", "c"])
        XCTAssertEqual(sorted.shape(sorted.outputNode).dimensions, [4, 4, 4])
    }

    /// ResNet's and MobileNetV2's builders were ordered by hand (and match the catalog); the
    /// generic sort must leave them as they are (v1's shortcut conv between `_2_relu` and
    /// `_3_conv`, v2's auto-named shortcut pools included).
    func testHandOrderedGraphsAreAlreadyInKerasOrder() throws {
        for g in [
            try ResNet.graph(.resnet50, height: 97, width: 97, pooling: .avg),
            try ResNet.graph(.resnet50V2, height: 97, width: 97),
            try MobileNetV2.graph(alpha: 1.0, height: 97, width: 97),
        ] {
            XCTAssertEqual(try g.inKerasLayerOrder().nodes.map(\.name), g.nodes.map(\.name), g.name)
        }
    }
}
