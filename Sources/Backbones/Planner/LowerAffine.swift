/// The batch norms and LayerScales no convolution took become scale-and-offset steps:
/// `x * scale + offset` per channel (`Kernels.batchNormAffine`), then their activation.
struct LowerAffine: PlannerPass {
    let name = "LowerAffine"

    func apply(to plan: inout PlanDraft) throws {
        for k in plan.steps.indices where !plan.steps[k].removed {
            switch plan.steps[k].kind {
            case .batchNorm(let stats, let eps, let a):
                let affine = Kernels.batchNormAffine(
                    mean: stats.mean, variance: stats.variance, gamma: stats.gamma, beta: stats.beta,
                    epsilon: eps)
                plan.steps[k].kind = .ready(.scaleOffset(scale: affine.scale, offset: affine.shift, activation: a))
            case .layerScale(let gamma, let a):
                plan.steps[k].kind = .ready(.scaleOffset(scale: gamma, offset: nil, activation: a))
            default:
                break
            }
        }
    }
}
