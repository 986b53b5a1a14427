/// ConvNeXt's `LayerScale` after a Dense (or convolution) without its own activation:
/// `(x W + b) * gamma` becomes `x (W * gamma) + b * gamma`, one pass less per block, as close
/// to Keras as the separate multiply (ConvNeXt parity, worst output: 7.6e-7 vs 8.9e-7 of
/// max|keras|).
struct FoldLayerScale: PlannerPass {
    let name = "FoldLayerScale"

    func apply(to plan: inout PlanDraft) throws {
        for k in plan.steps.indices where !plan.steps[k].removed {
            guard var (kernel, bias, _) = plan.steps[k].kind.linearKernel,
                let r = plan.soleReaderStep(of: k),
                case .layerScale(let gamma, .linear) = plan.steps[r].kind
            else { continue }
            Kernels.scaleColumns(&kernel, by: gamma)
            if bias != nil { Kernels.scaleColumns(&bias!, by: gamma) }
            plan.steps[k].kind.setLinearKernel(kernel, bias: bias)
            plan.absorb(r, into: k)
        }
    }
}
