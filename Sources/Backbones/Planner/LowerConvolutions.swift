/// Every convolution gets the kernel layout its algorithm reads, now that folds and padding
/// are final: a 1×1 convolution with a folded gate its (C, K) operand for `gatedPointwise`; a
/// stride-1 3×3 one the Winograd-transformed kernel (`winogradTile`); any other the im2col
/// GEMM operand; a separable one its pointwise (C*M, K) operand.
struct LowerConvolutions: PlannerPass {
    let name = "LowerConvolutions"

    func apply(to plan: inout PlanDraft) throws {
        for k in plan.steps.indices where !plan.steps[k].removed {
            guard let first = plan.steps[k].inputs.first else { continue }
            let s = plan.graph.shape(first)
            switch plan.steps[k].kind {
            case .conv(let p, let kernel, let bias):
                let w = Graph.window(
                    s, batch: 1, kernel: p.kernel, strides: p.strides, dilation: p.dilation, padding: p.padding)
                if let gate = plan.steps[k].gate {
                    let weights = GemmWeights(kernel, rows: s.channels, columns: p.filters, callRows: w.outPixels)
                    plan.steps[k].kind = .ready(.gatedPointwise(p, kernel: weights, bias: bias))
                    plan.steps[k].inputs = [gate.map, gate.gate]
                } else if let m = Self.winogradTile(w, outChannels: p.filters, groups: p.groups, options: plan.options)
                {
                    let u = Kernels.winogradWeights(
                        Kernels.winogradKernel(kernel, channels: s.channels, outChannels: p.filters, tile: m),
                        channels: s.channels, outChannels: p.filters, tile: m)
                    plan.steps[k].kind = .ready(.winograd(p, tile: m, kernel: u, bias: bias))
                } else {
                    let weights = kernel.withUnsafeBufferPointer {
                        Kernels.conv2dWeights($0.baseAddress!, window: w, outChannels: p.filters, groups: p.groups)
                    }
                    plan.steps[k].kind = .ready(.conv(p, kernel: weights, bias: bias))
                }
            case .separable(let p, let depthwise, let pointwise, let bias):
                let outPixels = Graph.window(
                    s, batch: 1, kernel: p.kernel, strides: p.strides, dilation: p.dilation, padding: p.padding
                ).outPixels
                let weights = GemmWeights(
                    pointwise, rows: s.channels * p.depthMultiplier, columns: p.filters, callRows: outPixels)
                plan.steps[k].kind = .ready(.separable(p, depthwise: depthwise, pointwise: weights, bias: bias))
            default:
                break
            }
        }
    }

    /// The Winograd tile for this convolution, nil for im2col + GEMM. F(4×4) from 20×20 outputs
    /// up, F(2×2) below, where F(4×4)'s few, wasteful tiles make GEMMs too short to repay
    /// OpenBLAS repacking 36 kernels (measured per layer with `extract verify --profile`:
    /// ResNet50 7×7×512 F(2) 4.3 ms, direct 5.2, F(4) 6.6; 14×14×256 2.4 / 3.9 / 2.9;
    /// 28×28×128 2.3 / 3.4 / 1.9; VGG16 56×56×256 31.6 / 66.1 / 21.3).
    static func winogradTile(_ w: Window2D, outChannels: Int, groups: Int, options: CompiledGraph.Options) -> Int? {
        guard options.winograd, Kernels.winogradApplies(w, outChannels: outChannels, groups: groups) else {
            return nil
        }
        return min(w.outHeight, w.outWidth) >= 20 ? 4 : 2
    }
}
