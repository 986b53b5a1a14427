/// A `BatchNormalization` read only from a convolution, separable convolution or Dense without
/// its own activation folds into that layer's kernel and bias (`Kernels.foldBatchNorm`; a
/// separable layer's pointwise half, which is linear in the depthwise output). BN after
/// Conv2D(activation="relu") (possible in a user's model, not in keras.applications)
/// normalizes the activated values and stays a step of its own.
struct FoldBatchNorm: PlannerPass {
    let name = "FoldBatchNorm"

    func apply(to plan: inout PlanDraft) throws {
        for k in plan.steps.indices where !plan.steps[k].removed {
            guard let (kernel, bias, channels) = plan.steps[k].kind.linearKernel,
                let r = plan.soleReaderStep(of: k),
                case .batchNorm(let stats, let eps, .linear) = plan.steps[r].kind
            else { continue }
            let folded = Kernels.foldBatchNorm(
                kernel: kernel, outputChannels: channels, bias: bias, mean: stats.mean,
                variance: stats.variance, gamma: stats.gamma, beta: stats.beta, epsilon: eps)
            plan.steps[k].kind.setLinearKernel(folded.kernel, bias: folded.bias)
            plan.absorb(r, into: k)
        }
    }
}
