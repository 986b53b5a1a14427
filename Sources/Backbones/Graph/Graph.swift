import Foundation
import WeightLoader

// A model as a graph of Keras layers over NHWC float32 tensors, built as Keras' Functional API
// builds one: inputs, layers called on earlier layers' outputs, outputs.
//
// The hard-coded model families (Zoo/) build a `Graph` node by node with Keras' own layer
// names; a builder reading a saved model's `model_config` can produce the same thing. Models
// nested in models (a Functional or Sequential model used as a layer, any depth) are scopes:
// their layers are nodes of this one graph whose `scopePath` names the models around them, so
// names need only be unique within a scope, as in Keras. `CompiledGraph` plans the graph
// (`Planner`) and runs it.

public typealias NodeID = Int

public struct GraphNode: Sendable {
    public let id: NodeID
    /// The Keras layer name, also the weight file's layer name within its scope.
    public let name: String
    public let op: GraphOp
    public let inputs: [NodeID]
    public let shape: FeatureShape
    /// The nested models this layer belongs to, outermost first (`["inner", "innermost"]` for
    /// a layer of a model in a model in the top model); empty for a top-level layer. The weight
    /// file stores such a layer's arrays under the outermost nested model's group, as
    /// `<scope>/.../<name>/<variable>`, and `model.layers` lists only that nested model.
    public let scopePath: [String]

    /// The top-level nested model (a Keras `Sequential` used as one layer, as ConvNeXt's stem
    /// and downsampling blocks are) this layer belongs to, or nil for a top-level layer.
    public var scope: String? { scopePath.first }

    /// The layer of the weight file (and of the catalog) holding this node's weights.
    public var weightsLayer: String { scope ?? name }

    /// `scope/.../name`: the layer's name unique in the whole graph.
    public var path: String { (scopePath + [name]).joined(separator: "/") }
}

/// A model whose layers are added in Keras' `model.layers` order (a topological order).
public struct Graph: Sendable {
    public let name: String
    public private(set) var nodes: [GraphNode] = []
    /// The input nodes, in the order `CompiledGraph.run(inputs:)` takes their values (Keras'
    /// `model.inputs`).
    public private(set) var inputs: [NodeID] = []
    /// The nodes whose values a run returns, in order (Keras' `model.outputs`); the last node
    /// when empty.
    public var outputs: [NodeID] = []

    /// Starts a graph with its input node (`input_layer`) of the given static per-image shape.
    public init(name: String, input: FeatureShape, inputName: String = "input_layer") {
        self.name = name
        nodes.append(
            GraphNode(id: 0, name: inputName, op: .input, inputs: [], shape: input, scopePath: []))
        inputs = [0]
    }

    /// Another input (`keras.Input(shape, name=name)`), after the first.
    @discardableResult
    public mutating func addInput(_ name: String, _ shape: FeatureShape) throws -> NodeID {
        try checkName(name, in: [])
        let id = nodes.count
        nodes.append(GraphNode(id: id, name: name, op: .input, inputs: [], shape: shape, scopePath: []))
        inputs.append(id)
        return id
    }

    /// The first input.
    public var input: NodeID { inputs[0] }

    /// The single output: setting it makes it the only one.
    public var output: NodeID? {
        get { outputs.first }
        set { outputs = newValue.map { [$0] } ?? [] }
    }

    /// The first output node.
    public var outputNode: NodeID { outputNodes[0] }
    /// The nodes whose values the caller reads after a run.
    public var outputNodes: [NodeID] { outputs.isEmpty ? [nodes.count - 1] : outputs }

    /// The node named `name` in the scope `scopePath` (Keras: `model.get_layer(name)`, in the
    /// nested model `scopePath` names).
    public func node(_ name: String, in scopePath: [String] = []) -> GraphNode? {
        nodes.first { $0.name == name && $0.scopePath == scopePath }
    }

    public func shape(_ id: NodeID) -> FeatureShape { nodes[id].shape }

    /// Names of the layers with weights, in node order: for a faithful graph, Keras' legacy
    /// weighted-layer order (the architecture catalog's list). The layers of a nested model
    /// count once, under its name.
    public var weightedLayerNames: [String] {
        var names: [String] = []
        for node in nodes where node.op.hasWeights {
            if node.scope == nil || names.last != node.scope { names.append(node.weightsLayer) }
        }
        return names
    }

    /// Keras' `min_size` of an application: smaller inputs are refused before any layer is built.
    public static func requireInput(height: Int, width: Int, atLeast side: Int) throws {
        guard height >= side, width >= side else {
            throw GraphError.badGraph(
                layer: "input_layer", detail: "input \(height)×\(width) is smaller than \(side)×\(side)")
        }
    }

    /// Keras' `pooling` argument after the last block: nothing, or GlobalAveragePooling2D /
    /// GlobalMaxPooling2D under the family's layer names (the auto names by default).
    @discardableResult
    public mutating func addPooling(
        _ pooling: GlobalPooling, _ x: NodeID, avg: String = "global_average_pooling2d",
        max: String = "global_max_pooling2d"
    ) throws -> NodeID {
        switch pooling {
        case .none: return x
        case .avg: return try add(avg, .globalAveragePool(keepDims: false), x)
        case .max: return try add(max, .globalMaxPool(keepDims: false), x)
        }
    }

    /// Appends a layer and infers its output shape from the static input shapes. `scope` names
    /// the nested model the layer belongs to (`GraphNode.scope`).
    @discardableResult
    public mutating func add(
        _ name: String, _ op: GraphOp, _ inputs: NodeID..., in scope: String? = nil
    ) throws -> NodeID {
        try add(name, op, inputs: inputs, in: scope.map { [$0] } ?? [])
    }

    @discardableResult
    public mutating func add(
        _ name: String, _ op: GraphOp, inputs: [NodeID], in scope: String? = nil
    ) throws -> NodeID {
        try add(name, op, inputs: inputs, in: scope.map { [$0] } ?? [])
    }

    /// A layer of the models nested `scopePath` deep (outermost first).
    @discardableResult
    public mutating func add(
        _ name: String, _ op: GraphOp, _ inputs: NodeID..., in scopePath: [String]
    ) throws -> NodeID {
        try add(name, op, inputs: inputs, in: scopePath)
    }

    @discardableResult
    public mutating func add(
        _ name: String, _ op: GraphOp, inputs: [NodeID], in scopePath: [String]
    ) throws -> NodeID {
        for i in inputs where i < 0 || i >= nodes.count {
            throw GraphError.badGraph(layer: name, detail: "input node \(i) does not exist")
        }
        try checkName(name, in: scopePath)
        let shape = try Graph.inferShape(name, op, inputs.map { nodes[$0].shape })
        let id = nodes.count
        nodes.append(
            GraphNode(id: id, name: name, op: op, inputs: inputs, shape: shape, scopePath: scopePath))
        return id
    }

    /// Keras refuses two layers of one name in a model; other models may reuse it.
    private func checkName(_ name: String, in scopePath: [String]) throws {
        if node(name, in: scopePath) != nil {
            let scope = scopePath.isEmpty ? name : scopePath.joined(separator: "/") + "/" + name
            throw GraphError.badGraph(layer: scope, detail: "duplicate layer name")
        }
    }
}
