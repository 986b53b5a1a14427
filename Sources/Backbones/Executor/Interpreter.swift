import Dispatch

// The interpreter: one image through the plan's steps, each a kernel call on arena slots.
// Windows and kernel layouts were resolved by the planner; nothing here depends on the
// image but the floats.

extension CompiledGraph {
    /// One image (a pointer per graph input) through every step; the outputs are left in their
    /// arena slots. `timings`, when
    /// given, accumulates each step's seconds.
    func runImage(
        _ images: [UnsafePointer<Float>], arena: [UnsafeMutablePointer<Float>],
        scratch: UnsafeMutablePointer<Float>, timings: UnsafeMutablePointer<Double>? = nil
    ) {
        let batch = 1
        func buffer(_ id: NodeID) -> UnsafeMutablePointer<Float> { arena[slotOf[id]!] }
        for (index, step) in steps.enumerated() {
            let started = timings == nil ? nil : DispatchTime.now().uptimeNanoseconds
            defer {
                if let started, let timings {
                    timings[index] += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                }
            }
            let out = buffer(step.output)
            let inShape = step.inputs.first.map { graph.shape($0) } ?? inputShape
            let x = step.inputs.first.map { UnsafePointer(buffer($0)) }
            let rows = batch * inShape.height * inShape.width
            switch step.kind {
            case .copyInput:
                // Graph inputs are few: a linear search, once per input per image.
                let k = graph.inputs.firstIndex(of: step.output) ?? 0
                out.update(from: images[k], count: graph.shape(step.output).count)
            case .conv(let p, let kernel, let bias):
                let w = step.window!
                withOptional(bias) { b in
                    Kernels.conv2d(
                        x!, window: w, kernel: kernel, outChannels: p.filters, groups: p.groups,
                        bias: b, activation: p.activation, output: out, scratch: scratch)
                }
            case .winograd(let p, let m, let kernel, let bias):
                let w = step.window!
                withOptional(bias) { b in
                    Kernels.conv2dWinograd(
                        x!, window: w, transformedKernel: kernel, tile: m, outChannels: p.filters,
                        bias: b, activation: p.activation, output: out, scratch: scratch)
                }
            case .gatedPointwise(let p, let kernel, let bias):
                kernel.scaledRows(buffer(step.inputs[1]), into: scratch)
                withOptional(bias) { b in
                    Kernels.gemm(
                        m: rows, a: x!, lda: inShape.channels, storage: scratch, like: kernel, bias: b,
                        activation: p.activation, c: out, ldc: p.filters)
                }
            case .depthwise(let p, let kernel, let bias):
                let w = step.window!
                kernel.withUnsafeBufferPointer { k in
                    withOptional(bias) { b in
                        Kernels.depthwiseConv2d(
                            x!, window: w, kernel: k.baseAddress!,
                            depthMultiplier: p.depthMultiplier, bias: b,
                            activation: p.activation, output: out)
                    }
                }
            case .separable(let p, let depthwise, let pointwise, let bias):
                let w = step.window!
                depthwise.withUnsafeBufferPointer { d in
                    withOptional(bias) { b in
                        Kernels.separableConv2d(
                            x!, window: w, depthwiseKernel: d.baseAddress!,
                            depthMultiplier: p.depthMultiplier, pointwiseKernel: pointwise,
                            bias: b, activation: p.activation, output: out, scratch: scratch)
                    }
                }
            case .dense(let units, let kernel, let bias, let activation):
                // Each pixel of a map is one row (a flat tensor is one row).
                kernel.withUnsafeBufferPointer { k in
                    withOptional(bias) { b in
                        Kernels.dense(
                            x!, rows: rows, inFeatures: inShape.channels, weights: k.baseAddress!,
                            outFeatures: units, bias: b, activation: activation, output: out)
                    }
                }
            case .layerNorm(let epsilon, let gamma, let beta):
                gamma.withUnsafeBufferPointer { g in
                    beta.withUnsafeBufferPointer { b in
                        Kernels.layerNorm(
                            x!, rows: rows, channels: inShape.channels, gamma: g.baseAddress!,
                            beta: b.baseAddress!, epsilon: epsilon, output: out)
                    }
                }
            case .scaleOffset(let scale, let offset, let activation):
                withOptional(scale) { s in
                    withOptional(offset) { o in
                        Kernels.scaleOffset(
                            x!, rows: rows, channels: inShape.channels, scale: s, offset: o,
                            activation: activation, output: out)
                    }
                }
            case .subtractDivide(let subtract, let divide):
                subtract.withUnsafeBufferPointer { m in
                    divide.withUnsafeBufferPointer { d in
                        Kernels.subtractDivide(
                            x!, rows: rows, channels: inShape.channels, subtract: m.baseAddress!,
                            divide: d.baseAddress!, output: out)
                    }
                }
            case .copy:
                out.update(from: x!, count: batch * inShape.count)
            case .activation(let a):
                out.update(from: x!, count: batch * inShape.count)
                a.apply(out, rows: rows, channels: inShape.channels)
            case .zeroPadding(let p):
                Kernels.zeroPad2d(
                    x!, batch: batch, height: inShape.height, width: inShape.width,
                    channels: inShape.channels, padding: p, output: out)
            case .cropping2d(let c):
                Kernels.crop2d(
                    x!, batch: batch, height: inShape.height, width: inShape.width,
                    channels: inShape.channels, crop: c, output: out)
            case .add(let a):
                Kernels.add(
                    step.inputs.map { UnsafePointer(buffer($0)) }, count: batch * inShape.count,
                    activation: a, output: out)
            case .scaledAdd(let scale, let a):
                Kernels.scaledAdd(
                    buffer(step.inputs[0]), buffer(step.inputs[1]), scale: scale,
                    count: batch * inShape.count, activation: a, output: out)
            case .multiply:
                let (a, b) = (graph.shape(step.inputs[0]), graph.shape(step.inputs[1]))
                let (pa, pb) = (buffer(step.inputs[0]), buffer(step.inputs[1]))
                if a == b {
                    for i in 0..<(batch * a.count) { out[i] = pa[i] * pb[i] }
                } else {
                    let (map, gate, s) = a.height * a.width == 1 ? (pb, pa, b) : (pa, pb, a)
                    Kernels.multiplyChannels(
                        map, batch: batch, pixels: s.height * s.width, channels: s.channels,
                        gate: gate, output: out)
                }
            case .concat:
                let parts = step.inputs.map { (data: UnsafePointer(buffer($0)), channels: graph.shape($0).channels) }
                Kernels.concatChannels(parts, pixels: rows, output: out)
            case .maxPool(let p), .averagePool(let p):
                let w = step.window!
                if case .maxPool = step.kind {
                    Kernels.maxPool2d(x!, window: w, output: out)
                } else {
                    Kernels.averagePool2d(x!, window: w, output: out)
                }
            case .globalAveragePool:
                Kernels.globalAveragePool(
                    x!, batch: batch, height: inShape.height, width: inShape.width,
                    channels: inShape.channels, output: out)
            case .globalMaxPool:
                Kernels.globalMaxPool(
                    x!, batch: batch, height: inShape.height, width: inShape.width,
                    channels: inShape.channels, output: out)
            case .subtract:
                Kernels.subtract(
                    buffer(step.inputs[0]), buffer(step.inputs[1]), count: batch * inShape.count,
                    output: out)
            case .average, .maximum, .minimum:
                let ins = step.inputs.map { UnsafePointer(buffer($0)) }
                let count = batch * inShape.count
                switch step.kind {
                case .average: Kernels.average(ins, count: count, output: out)
                case .maximum: Kernels.maximum(ins, count: count, output: out)
                default: Kernels.minimum(ins, count: count, output: out)
                }
            case .permute(let axes):
                Kernels.permute(x!, dimensions: inShape.dimensions, axes: axes, output: out)
            case .upSampling2d(let p):
                if p.bilinear {
                    Kernels.upSample2dBilinear(
                        x!, batch: batch, height: inShape.height, width: inShape.width,
                        channels: inShape.channels, size: p.size, output: out)
                } else {
                    Kernels.upSample2dNearest(
                        x!, batch: batch, height: inShape.height, width: inShape.width,
                        channels: inShape.channels, size: p.size, output: out)
                }
            case .constant(let c):
                Kernels.constantArithmetic(x!, rows: rows, channels: inShape.channels, c, output: out)
            case .reverseChannels:
                Kernels.reverseChannels(x!, rows: rows, channels: inShape.channels, output: out)
            }
        }
    }
}

/// Calls `body` with the array's base address, or nil for a nil array.
private func withOptional<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}
