/// A `ZeroPadding2D` read only by a convolution or depthwise convolution becomes that layer's
/// explicit padding (the taps it adds are zeros either way): one copy of the map less.
/// Pools do not take it: Keras' max pool compares the padded zeros, ours skips padding.
struct FoldZeroPadding: PlannerPass {
    let name = "FoldZeroPadding"

    func apply(to plan: inout PlanDraft) throws {
        for k in plan.steps.indices where !plan.steps[k].removed {
            guard case .ready(.zeroPadding(let pad)) = plan.steps[k].kind,
                let reader = plan.soleReader(plan.steps[k].output), Self.takesPadding(reader),
                let r = plan.step(of: reader.id)
            else { continue }
            switch plan.steps[r].kind {
            case .conv(var p, let kernel, let bias):
                p.padding = Self.padded(p.padding, by: pad)
                plan.steps[r].kind = .conv(p, kernel: kernel, bias: bias)
            case .ready(.depthwise(var p, let kernel, let bias)):
                p.padding = Self.padded(p.padding, by: pad)
                plan.steps[r].kind = .ready(.depthwise(p, kernel: kernel, bias: bias))
            default:
                continue
            }
            plan.steps[r].inputs = plan.steps[k].inputs
            plan.steps[r].foldedBefore += plan.steps[k].layers
            plan.steps[k].removed = true
        }
    }

    /// Convolutions (not grouped, not separable) and depthwise convolutions, whose padding is
    /// zeros; not "same", whose amount depends on the input size.
    static func takesPadding(_ reader: GraphNode) -> Bool {
        switch reader.op {
        case .conv2d(let p): return p.padding != .same && p.groups == 1
        case .depthwiseConv2d(let p): return p.padding != .same
        default: return false
        }
    }

    /// A `.valid` or `.explicit` padding with `extra` added on every side.
    static func padded(_ mode: PaddingMode, by extra: Padding) -> PaddingMode {
        var p = Padding.zero
        if case .explicit(let e) = mode { p = e }
        return .explicit(
            Padding(
                top: p.top + extra.top, bottom: p.bottom + extra.bottom, left: p.left + extra.left,
                right: p.right + extra.right))
    }
}
