/// Where each value lives while an image runs: arena slots sized in floats per image.
///
/// Greedy packing in step order: a step's output takes a free slot (the smallest that is
/// already large enough, else the largest, which grows); its inputs' slots are released after
/// it if it was their last reader. Output never shares an input's slot, so no kernel runs in
/// place. The graph's outputs are read after the last step. The peak memory is about the
/// largest set of simultaneously live activations.
struct Arena: Sendable {
    let slotOf: [NodeID: Int]
    let slotSizes: [Int]

    static func assign(_ steps: [CompiledGraph.Step], graph: Graph) -> Arena {
        var lastUse: [NodeID: Int] = [:]
        for (k, step) in steps.enumerated() { for i in step.inputs { lastUse[i] = k } }
        for out in graph.outputNodes { lastUse[out] = steps.count }
        var slotOf: [NodeID: Int] = [:]
        var sizes: [Int] = []
        var free: [Int] = []
        for (k, step) in steps.enumerated() {
            let need = graph.shape(step.output).count
            let fitting = free.filter { sizes[$0] >= need }.min { sizes[$0] < sizes[$1] }
            let slot: Int
            if let s = fitting ?? free.max(by: { sizes[$0] < sizes[$1] }) {
                slot = s
                free.removeAll { $0 == s }
                sizes[s] = max(sizes[s], need)
            } else {
                slot = sizes.count
                sizes.append(need)
            }
            slotOf[step.output] = slot
            for i in Set(step.inputs) where lastUse[i] == k { free.append(slotOf[i]!) }
            if lastUse[step.output] == nil { free.append(slot) }  // computed but never read
        }
        return Arena(slotOf: slotOf, slotSizes: sizes)
    }
}
