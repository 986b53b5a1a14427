/// An `Activation` layer read only from a step with a linear epilogue (convolutions, Dense,
/// batch norm, LayerScale, rescaling, Add, scaled Add: the residual joins) runs in that
/// epilogue, value by value; softmax, which normalizes a row, only in a Dense step's.
struct FuseActivation: PlannerPass {
    let name = "FuseActivation"

    func apply(to plan: inout PlanDraft) throws {
        for k in plan.steps.indices where !plan.steps[k].removed {
            guard plan.steps[k].kind.epilogueActivation == .linear,
                let r = plan.soleReaderStep(of: k),
                case .ready(.activation(let a)) = plan.steps[r].kind,
                a.isElementwise || plan.steps[k].kind.epilogueTakesRows
            else { continue }
            plan.steps[k].kind.setEpilogueActivation(a)
            plan.absorb(r, into: k)
        }
    }
}
