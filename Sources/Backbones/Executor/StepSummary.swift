extension CompiledGraph {
    /// What a step computes, for profiles: its kernel (with the convolution algorithm), window
    /// and shapes, e.g. `conv 3×3/1 winograd F(4×4) (56,56,64) -> (56,56,64)`.
    public func summary(_ step: Step) -> String {
        let shapes = (step.inputs.first.map { "\(graph.shape($0)) -> " } ?? "") + "\(graph.shape(step.output))"
        func window(_ k: (Int, Int), _ s: (Int, Int)) -> String { "\(k.0)×\(k.1)/\(s.0)" }
        let kind: String
        switch step.kind {
        case .conv(let p, _, _):
            kind = "conv \(window(p.kernel, p.strides))" + (p.kernel == (1, 1) ? " gemm" : " im2col+gemm")
        case .winograd(let p, let m, _, _): kind = "conv \(window(p.kernel, p.strides)) winograd F(\(m)×\(m))"
        case .gatedPointwise: kind = "conv 1×1/1 gated gemm"
        case .depthwise(let p, _, _): kind = "depthwise \(window(p.kernel, p.strides))"
        case .separable(let p, _, _, _): kind = "separable \(window(p.kernel, p.strides))"
        case .dense: kind = "dense"
        case .maxPool(let p): kind = "max pool \(window(p.pool, p.strides))"
        case .averagePool(let p): kind = "average pool \(window(p.pool, p.strides))"
        default: kind = "\(step.kind)".split(separator: "(").first.map(String.init) ?? "\(step.kind)"
        }
        return "\(kind) \(shapes)"
    }
}
