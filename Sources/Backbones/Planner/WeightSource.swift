import WeightLoader

/// Typed access to `BoundWeights` by graph node and Keras variable name. A top-level layer
/// reads its file layer; a layer of a nested model reads the outermost nested model's file
/// layer, restricted to the arrays under its own path there (`<scope>/.../<name>/<variable>`),
/// so equal names in different scopes are different layers.
struct WeightSource {
    let weights: BoundWeights
    let model: String

    init(weights: BoundWeights, graph: Graph) {
        self.weights = weights
        model = graph.name
    }

    /// The arrays of `node`: all of its file layer's, or a nested layer's share of its model's.
    private func arrays(_ node: GraphNode) throws -> [BoundArray] {
        guard let bound = weights.layer(node.weightsLayer) else {
            throw GraphError.missingLayer(model: model, layer: node.weightsLayer)
        }
        guard node.scope != nil else { return bound.arrays }
        // The arrays whose path inside the outermost model's group (the variable dropped, the
        // group's own name too when the binder kept it) is exactly the inner scopes and the
        // layer's name: `inner/conv` is not `inner/innermost/conv`. A binder that prefixed
        // the paths otherwise still finds them by their last components.
        let tail = Array(node.scopePath.dropFirst()) + [node.name]
        let paths = bound.arrays.map { a in
            var path = a.name.split(separator: "/").dropLast().map(String.init)
            if path.first == node.scopePath[0], path.count > tail.count { path.removeFirst() }
            return path
        }
        let exact = zip(bound.arrays, paths).filter { $1 == tail }.map(\.0)
        if !exact.isEmpty { return exact }
        return zip(bound.arrays, paths).filter { $1.count >= tail.count && Array($1.suffix(tail.count)) == tail }.map(
            \.0)
    }

    private func checked(_ found: BoundArray, _ node: GraphNode, shape: [Int]) throws -> [Float] {
        guard found.shape == shape else {
            throw GraphError.shapeMismatch(layer: node.path, array: found.name, expected: shape, actual: found.shape)
        }
        return found.values
    }

    /// The layer's array whose variable name (the part after the last '/') is one of `names`.
    func array(_ node: GraphNode, _ names: [String], shape: [Int]) throws -> [Float] {
        let arrays = try arrays(node)
        let variable = { (a: BoundArray) in String(a.name.split(separator: "/").last ?? "") }
        guard let found = arrays.first(where: { names.contains(variable($0)) }) else {
            throw GraphError.missingArray(layer: node.path, array: names[0], available: arrays.map(variable))
        }
        return try checked(found, node, shape: shape)
    }

    /// The layer's one array, whatever its variable name (`LayerScale`'s is an auto name).
    func soleArray(_ node: GraphNode, shape: [Int]) throws -> [Float] {
        let arrays = try arrays(node)
        guard arrays.count == 1 else {
            throw GraphError.badGraph(
                layer: node.path, detail: "expects 1 weight array, the file has \(arrays.count)")
        }
        return try checked(arrays[0], node, shape: shape)
    }

    /// The node's arrays as its op's `weightSpec` lists them, each checked for its shape.
    func read(_ node: GraphNode, _ spec: [WeightSpec]) throws -> [[Float]] {
        try spec.map { w in
            w.names.isEmpty ? try soleArray(node, shape: w.shape) : try array(node, w.names, shape: w.shape)
        }
    }
}
