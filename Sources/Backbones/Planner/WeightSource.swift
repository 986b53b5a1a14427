import WeightLoader

/// Typed access to `BoundWeights` by Keras layer name and variable name. A layer of a nested
/// model reads the nested model's layer, restricted to its own `<scope>/<name>/...` arrays.
struct WeightSource {
    let weights: BoundWeights
    let model: String
    /// Nested layer name -> the nested model holding its weights.
    let scopes: [String: String]

    init(weights: BoundWeights, graph: Graph) {
        self.weights = weights
        model = graph.name
        scopes = Dictionary(
            graph.nodes.compactMap { n in n.scope.map { (n.name, $0) } }, uniquingKeysWith: { a, _ in a })
    }

    /// The arrays of `layer`: all of its file layer's, or a nested layer's share of its model's.
    private func arrays(_ layer: String) throws -> [BoundArray] {
        let scope = scopes[layer]
        guard let bound = weights.layer(scope ?? layer) else {
            throw GraphError.missingLayer(model: model, layer: scope ?? layer)
        }
        guard scope != nil else { return bound.arrays }
        return bound.arrays.filter { $0.name.split(separator: "/").dropLast().last.map(String.init) == layer }
    }

    private func checked(_ found: BoundArray, _ layer: String, shape: [Int]) throws -> [Float] {
        guard found.shape == shape else {
            throw GraphError.shapeMismatch(layer: layer, array: found.name, expected: shape, actual: found.shape)
        }
        return found.values
    }

    /// The layer's array whose variable name (the part after the last '/') is one of `names`.
    func array(_ layer: String, _ names: [String], shape: [Int]) throws -> [Float] {
        let arrays = try arrays(layer)
        let variable = { (a: BoundArray) in String(a.name.split(separator: "/").last ?? "") }
        guard let found = arrays.first(where: { names.contains(variable($0)) }) else {
            throw GraphError.missingArray(layer: layer, array: names[0], available: arrays.map(variable))
        }
        return try checked(found, layer, shape: shape)
    }

    /// The layer's one array, whatever its variable name (`LayerScale`'s is an auto name).
    func soleArray(_ layer: String, shape: [Int]) throws -> [Float] {
        let arrays = try arrays(layer)
        guard arrays.count == 1 else {
            throw GraphError.badGraph(
                layer: layer, detail: "expects 1 weight array, the file has \(arrays.count)")
        }
        return try checked(arrays[0], layer, shape: shape)
    }

    func batchNorm(_ layer: String, channels: Int, scale: Bool, center: Bool) throws -> BatchNormStats {
        let c = [channels]
        return BatchNormStats(
            mean: try array(layer, ["moving_mean"], shape: c),
            variance: try array(layer, ["moving_variance"], shape: c),
            gamma: scale ? try array(layer, ["gamma"], shape: c) : nil,
            beta: center ? try array(layer, ["beta"], shape: c) : nil
        )
    }
}
