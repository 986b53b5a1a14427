// Two Keras conventions a branching backbone must reproduce to match the published weights:
// the automatic layer names (fixed by creation order, i.e. the application file's code order)
// and the order of `model.layers` (fixed by the graph's shape, keras/src/ops/function.py
// `map_graph`), which is the legacy weight order. Builders create nodes in code order with
// `KerasAutoNames`, then reorder with `Graph.inKerasLayerOrder()`.

/// Keras 3's automatic layer names in a fresh session: the snake-case class name for the first
/// layer of a class, then `_1`, `_2`, ... (`backend.get_uid(prefix)`). Layers given a name
/// take no number.
struct KerasAutoNames {
    private var used: [String: Int] = [:]

    /// The next name for a layer of class prefix `prefix` ("conv2d", "batch_normalization").
    mutating func callAsFunction(_ prefix: String) -> String {
        let n = used[prefix, default: 0]
        used[prefix] = n + 1
        return n == 0 ? prefix : "\(prefix)_\(n)"
    }
}

extension Graph {
    /// The same layers in the order Keras' functional model lists them: by decreasing depth
    /// (the longest path to the output), ties by the order in which a depth-first walk from
    /// the output, visiting each layer's inputs in order, first reaches them (`_build_map`).
    /// Layers the output does not depend on are dropped, as Keras never sees them.
    public func inKerasLayerOrder() throws -> Graph {
        let out = outputNode
        var firstVisit = [Int](repeating: -1, count: nodes.count)
        var finished = [Bool](repeating: false, count: nodes.count)
        var postOrder: [NodeID] = []
        // Iterative form of `_build_map_helper`: (node, next input to visit).
        var stack: [(id: NodeID, next: Int)] = [(out, 0)]
        var visits = 0
        firstVisit[out] = 0
        while let (id, next) = stack.last {
            let inputs = nodes[id].inputs
            if next < inputs.count {
                stack[stack.count - 1].next += 1
                let parent = inputs[next]
                if finished[parent] { continue }
                if firstVisit[parent] < 0 {
                    visits += 1
                    firstVisit[parent] = visits
                }
                stack.append((parent, 0))
            } else {
                finished[id] = true
                postOrder.append(id)
                stack.removeLast()
            }
        }
        // `map_graph`: walking from the output back, each parent sits at least one deeper.
        var depth = [Int](repeating: 0, count: nodes.count)
        for id in postOrder.reversed() {
            for parent in nodes[id].inputs { depth[parent] = max(depth[parent], depth[id] + 1) }
        }
        let order = postOrder.sorted { (-depth[$0], firstVisit[$0]) < (-depth[$1], firstVisit[$1]) }
        guard order.first == input else {
            throw GraphError.badGraph(layer: name, detail: "the output does not depend on the input")
        }
        var sorted = Graph(name: name, input: nodes[input].shape, inputName: nodes[input].name)
        var newID = [NodeID: NodeID]()
        newID[input] = sorted.input
        for id in order.dropFirst() {
            let node = nodes[id]
            newID[id] = try sorted.add(
                node.name, node.op, inputs: node.inputs.map { newID[$0]! }, in: node.scopePath)
        }
        sorted.output = newID[out]
        return sorted
    }
}
